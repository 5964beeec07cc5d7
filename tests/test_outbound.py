"""The outbound gate (pdm_saas/outbound.py): which addresses a tenant's URL may reach.

Resolution is real (`localhost`, literal IPs in every spelling); where a name must resolve to a
chosen address, only `socket.getaddrinfo` (the outside world's DNS) is replaced.
"""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import urllib3
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.test import override_settings

from pdm_saas import outbound

REAL_GETADDRINFO = socket.getaddrinfo
PUBLIC = "93.184.215.14"  # a global unicast address; never connected to in these tests


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/hook",
    "http://localhost:6379/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, mapped and written in hex
    "http://[2002:7f00:1::]/",  # 6to4 of 127.0.0.1
    "http://[fd00:ec2::254]/",  # AWS metadata over IPv6
    "http://[fc12::1]/",  # IPv6 unique local
    "http://[fe80::1]/",  # IPv6 link-local
    "http://2130706433/",  # 127.0.0.1 as a decimal number
    "http://0x7f.0.0.1/",  # hex
    "http://0177.0.0.1/",  # octal
    "http://0x7f000001/",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://100.100.100.200/",  # Alibaba Cloud metadata
    "http://0.0.0.0/",
    "http://224.0.0.1/",  # multicast
    "http://[ff02::1]/",
    "http://240.0.0.1/",  # reserved
    "http://255.255.255.255/",
])
def test_inside_addresses_are_refused_in_any_spelling(url):
    with pytest.raises(outbound.OutboundRefused, match="not allowed"):
        outbound.url_vet(url)


@pytest.mark.parametrize("url, message", [
    ("ftp://example.com/", "https:// or http://"),
    ("file:///etc/passwd", "https:// or http://"),
    ("http:///nohost", "no host name"),
    ("http://user:pw@example.com/", "user name or password"),
    ("http://example.com:99999/", "not valid"),
    ("http://no-such-host.invalid/", "does not resolve"),
])
def test_unusable_urls_are_refused_with_a_reason(url, message):
    with pytest.raises(outbound.OutboundRefused, match=message):
        outbound.url_vet(url)


def _resolving(names: dict[str, list[str]]) -> Any:
    """A getaddrinfo answering chosen addresses for chosen names and the truth for the rest."""
    def fake(host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in names:
            return REAL_GETADDRINFO(host, port, *args, **kwargs)
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in names[host]]
    return fake


def test_a_name_is_refused_when_any_of_its_addresses_is_inside(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", _resolving({"mixed.example": [PUBLIC, "10.0.0.7"]}))
    with pytest.raises(outbound.OutboundRefused, match="mixed.example resolves to 10.0.0.7, a private-network"):
        outbound.url_vet("https://mixed.example/hook")


def test_a_public_name_is_accepted_at_its_vetted_address(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", _resolving({"hooks.example": [PUBLIC]}))
    target = outbound.url_vet("https://hooks.example/in?x=1")
    assert (target.scheme, target.host, target.port, target.path) == ("https", "hooks.example", 443, "/in?x=1")
    assert target.address == ipaddress.ip_address(PUBLIC) and target.host_header == "hooks.example"


def test_public_literals_pass():
    assert outbound.url_vet(f"http://{PUBLIC}:8080/").host_header == f"{PUBLIC}:8080"
    assert outbound.url_vet("https://[2606:4700:4700::1111]/").address == ipaddress.ip_address("2606:4700:4700::1111")


def test_operator_allowance_opens_loopback_and_private_but_never_metadata():
    with override_settings(OUTBOUND_ALLOW_PRIVATE_TARGETS=True):
        assert str(outbound.url_vet("http://localhost:6379/").address) in {"127.0.0.1", "::1"}
        assert outbound.url_vet("http://10.1.2.3/").port == 80
        for url in ("http://169.254.169.254/", "http://[fe80::1]/", "http://0.0.0.0/", "http://224.0.0.1/"):
            with pytest.raises(outbound.OutboundRefused):
                outbound.url_vet(url)


class Recorder(BaseHTTPRequestHandler):
    hits: list[dict[str, str]]
    answer: tuple[int, dict[str, str]] = (200, {})

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.hits.append({"host": self.headers["Host"], "path": self.path})
        status, headers = self.answer
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def _serve(answer: tuple[int, dict[str, str]]) -> tuple[HTTPServer, list[dict[str, str]]]:
    hits: list[dict[str, str]] = []
    handler = type("Handler", (Recorder,), {"hits": hits, "answer": answer})
    server = HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, hits


@pytest.fixture
def servers() -> Iterator[list[HTTPServer]]:
    started: list[HTTPServer] = []
    yield started
    for server in started:
        server.shutdown()


def test_post_is_refused_by_default_and_sends_nothing(servers):
    server, hits = _serve((200, {}))
    servers.append(server)
    with pytest.raises(outbound.OutboundRefused, match="loopback"):
        outbound.post(f"http://127.0.0.1:{server.server_address[1]}/", body=b"{}", headers={}, timeout=5)
    assert hits == []


@override_settings(OUTBOUND_ALLOW_PRIVATE_TARGETS=True)
def test_post_connects_to_the_address_it_vetted_and_keeps_the_host_name(monkeypatch, servers):
    """DNS rebinding: the name answers 127.0.0.1 (allowed here) once, then an address where nothing
    listens; the request still reaches the first, vetted answer, with the name in the Host header."""
    server, hits = _serve((204, {}))
    servers.append(server)
    port = server.server_address[1]
    answers = iter([["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]])
    asked: list[str] = []

    def rebinding(host: str, *args: Any, **kwargs: Any) -> list[Any]:
        if host == "hooks.example":
            asked.append(host)
            return _resolving({"hooks.example": next(answers)})(host, *args, **kwargs)
        return REAL_GETADDRINFO(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    answer = outbound.post(f"http://hooks.example:{port}/in", body=b"{}", headers={}, timeout=5)
    assert answer.status == 204 and asked == ["hooks.example"]
    assert hits == [{"host": f"hooks.example:{port}", "path": "/in"}]


def test_post_rechecks_at_delivery_a_name_that_now_points_inside(monkeypatch, servers):
    server, hits = _serve((200, {}))
    servers.append(server)
    monkeypatch.setattr(socket, "getaddrinfo", _resolving({"hooks.example": [PUBLIC]}))
    outbound.url_vet("http://hooks.example/")  # saved while public
    monkeypatch.setattr(socket, "getaddrinfo", _resolving({"hooks.example": ["127.0.0.1"]}))
    with pytest.raises(outbound.OutboundRefused, match="loopback"):
        outbound.post(f"http://hooks.example:{server.server_address[1]}/", body=b"{}", headers={}, timeout=5)
    assert hits == []


@override_settings(OUTBOUND_ALLOW_PRIVATE_TARGETS=True)
def test_post_never_follows_a_redirect(servers):
    inner, inner_hits = _serve((200, {}))
    servers.append(inner)
    inner_url = f"http://127.0.0.1:{inner.server_address[1]}/admin"
    outer, outer_hits = _serve((307, {"Location": inner_url}))
    servers.append(outer)
    answer = outbound.post(f"http://127.0.0.1:{outer.server_address[1]}/", body=b"{}", headers={}, timeout=5)
    assert (answer.status, answer.location) == (307, inner_url)
    assert len(outer_hits) == 1 and inner_hits == []


def _certificate_files(folder: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA and a server certificate for `name` it signed: (ca.pem, cert.pem, key.pem)."""
    def key() -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def subject(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    start = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)  # valid whatever the clock says
    end = datetime.datetime(2999, 1, 1, tzinfo=datetime.UTC)
    ca_key, server_key = key(), key()
    ca = (x509.CertificateBuilder().subject_name(subject("test CA")).issuer_name(subject("test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                       crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    server = (x509.CertificateBuilder().subject_name(subject(name)).issuer_name(ca.subject)
              .public_key(server_key.public_key()).serial_number(2).not_valid_before(start).not_valid_after(end)
              .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
              .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
              .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
              .sign(ca_key, hashes.SHA256()))
    files = folder / "ca.pem", folder / "cert.pem", folder / "key.pem"
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return files


def _serve_tls(folder: Path, name: str) -> tuple[HTTPServer, list[dict[str, str]], list[str | None], Path]:
    ca, cert, key = _certificate_files(folder, name)
    server, hits = _serve((200, {}))
    names: list[str | None] = []  # the server names (SNI) clients asked for
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _socket, server_name, _context: names.append(server_name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return server, hits, names, ca


@override_settings(OUTBOUND_ALLOW_PRIVATE_TARGETS=True)
def test_https_to_the_pinned_address_speaks_the_name_in_sni_and_checks_the_certificate_for_it(
        monkeypatch, servers, tmp_path):
    server, hits, names, ca = _serve_tls(tmp_path, "hooks.example")
    servers.append(server)
    port = server.server_address[1]
    monkeypatch.setattr(socket, "getaddrinfo", _resolving({"hooks.example": ["127.0.0.1"],
                                                           "other.example": ["127.0.0.1"]}))
    with override_settings(OUTBOUND_CA_BUNDLE=str(ca)):
        answer = outbound.post(f"https://hooks.example:{port}/in", body=b"{}", headers={}, timeout=5)
        assert answer.status == 200 and names == ["hooks.example"]
        assert hits == [{"host": f"hooks.example:{port}", "path": "/in"}]
        with pytest.raises(urllib3.exceptions.SSLError, match="other.example"):  # the name must match
            outbound.post(f"https://other.example:{port}/", body=b"{}", headers={}, timeout=5)
    with pytest.raises(urllib3.exceptions.SSLError, match="certificate verify failed"):  # public CAs only
        outbound.post(f"https://hooks.example:{port}/", body=b"{}", headers={}, timeout=5)
    assert len(hits) == 1
