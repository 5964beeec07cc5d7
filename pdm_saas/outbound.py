"""The one gate for HTTP requests sent to an address a tenant gave us (webhook endpoints).

A tenant must not be able to make our servers reach inside our own network: loopback (Redis,
Postgres, the admin ports), private networks, link-local addresses and the cloud metadata service
(169.254.169.254, which hands out credentials). A URL is judged by every address its name resolves
to, not by how it is spelled, so decimal, octal and hex forms of 127.0.0.1 and names such as
`localhost` are refused like the literal.

The check runs twice: when the URL is saved (`url_vet`, a clear error for the person typing it)
and at every delivery (`post`), because a name can resolve to a public address today and to
127.0.0.1 tomorrow (DNS rebinding). At delivery the name is resolved once and the connection goes
to that vetted address; the Host header and the TLS server name (SNI and certificate check) stay
the name from the URL. Redirects are never followed: a 3xx answer is returned as it is, for the
caller to record as a failed delivery.

`OUTBOUND_ALLOW_PRIVATE_TARGETS` (an operator setting, off by default) lets on-premises
installs reach loopback and private-network receivers; metadata, link-local, multicast and
reserved addresses stay refused whatever it says. `OUTBOUND_CA_BUNDLE` names the certificate
authorities HTTPS receivers are checked against when not the public ones (certifi's).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = {"http": 80, "https": 443}

# The cloud metadata services: AWS/GCP/Azure/OpenStack (IPv4), AWS (IPv6), Alibaba Cloud.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "100.100.100.200"))

# What the operator allowance opens: networks an on-premises receiver may sit in.
PRIVATE_NETWORKS = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class OutboundRefused(Exception):
    """The URL may not be requested; the message says why, in words for the person who gave it."""


class HostUnresolved(OutboundRefused):
    """The name does not resolve: refused when saved, worth a retry at delivery (DNS may recover)."""


@dataclass(frozen=True)
class Target:
    """A URL taken apart, with the one address it was vetted at."""

    scheme: str
    host: str  # the name as written: Host header and TLS server name
    port: int
    path: str  # path and query
    address: IPAddress

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == SCHEMES[self.scheme] else f"{host}:{self.port}"


def _allow_private() -> bool:
    return bool(getattr(settings, "OUTBOUND_ALLOW_PRIVATE_TARGETS", False))


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def address_refusal(address: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why we will not connect to this address, or None when it is a public one."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_refusal(embedded, allow_private=allow_private)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_loopback:
        return None if allow_private else "a loopback address"
    if any(address in network for network in PRIVATE_NETWORKS):
        return None if allow_private else "a private-network address"
    if not address.is_global:
        return "a reserved address"
    return None


def _split(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise OutboundRefused(f"The URL is not valid: {exc}.") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise OutboundRefused("The URL must start with https:// or http://.")
    if not parts.hostname:
        raise OutboundRefused("The URL has no host name.")
    if parts.username or parts.password:
        raise OutboundRefused("The URL must not carry a user name or password.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, parts.hostname, port or SCHEMES[scheme], path


def host_addresses(host: str, port: int) -> list[IPAddress]:
    """Every address the name resolves to (a literal IP in any spelling resolves to itself)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HostUnresolved(f"The host name {host!r} does not resolve.") from exc
    # Scope ids (fe80::1%eth0) are cut before parsing: the address alone decides.
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found))


def url_vet(url: str) -> Target:
    """Resolve the URL's host once and accept it only if every address it has is allowed."""
    scheme, host, port, path = _split(url)
    addresses = host_addresses(host, port)
    allow_private = _allow_private()
    for address in addresses:
        reason = address_refusal(address, allow_private=allow_private)
        if reason:
            raise OutboundRefused(f"{host} resolves to {address}, {reason}: requests to it are not allowed.")
    return Target(scheme=scheme, host=host, port=port, path=path, address=addresses[0])


def _pool(target: Target, timeout: float) -> urllib3.HTTPConnectionPool:
    """A connection pool to the vetted address that still speaks to the host by its name."""
    limit = urllib3.Timeout(total=timeout)
    if target.scheme == "http":
        return urllib3.HTTPConnectionPool(str(target.address), target.port, timeout=limit, retries=False)
    return urllib3.HTTPSConnectionPool(
        str(target.address), target.port, timeout=limit, retries=False, cert_reqs="CERT_REQUIRED",
        ca_certs=getattr(settings, "OUTBOUND_CA_BUNDLE", "") or certifi.where(),
        server_hostname=target.host, assert_hostname=target.host)


@dataclass(frozen=True)
class Answer:
    status: int
    location: str  # where a 3xx pointed: told to the person, never followed


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST once to a vetted address; no redirects, no retries here (the caller decides).

    Raises OutboundRefused for a URL that may not be requested and urllib3's HTTPError for
    network failures (refused connection, timeout, TLS).
    """
    target = url_vet(url)
    with _pool(target, timeout) as pool:
        response = pool.urlopen("POST", target.path, body=body, redirect=False, retries=False,
                                headers={**headers, "Host": target.host_header}, preload_content=True)
    return Answer(status=response.status, location=response.headers.get("Location", ""))
