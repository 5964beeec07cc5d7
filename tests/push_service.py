"""A local Web Push service for the tests: what FCM or Mozilla's autopush do for a real browser,
on 127.0.0.1, since no public push service is reachable here.

It hands out subscriptions as a browser would (a P-256 key pair and a 16-byte auth secret per
subscription, kept here as the browser keeps them), receives the application server's POSTs,
checks the VAPID JWT (RFC 8292) against the key the subscription was made with, and decrypts the
aes128gcm payload (RFC 8291 on RFC 8188) with the subscription's private key. Both checks are
written here from the RFCs with `cryptography`, not with the sender's libraries (pywebpush,
http_ece, py-vapid), so a mistake on the sending side cannot cancel out on this side.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)


def _hkdf(*, salt: bytes, ikm: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


@dataclass
class Browser:
    """One subscription as the browser holds it: its keys, and the server key it was made for."""

    token: str
    private_key: ec.EllipticCurvePrivateKey
    auth: bytes
    server_key: str  # the applicationServerKey passed to subscribe (base64url point)
    answer: int = 201  # what the service answers deliveries to it: 410 once it is withdrawn

    def decrypt(self, body: bytes) -> bytes:
        """RFC 8291 section 3.4 and RFC 8188: one record, its padding delimiter 0x02."""
        salt, record_size, id_length = body[:16], int.from_bytes(body[16:20], "big"), body[20]
        sender_point, ciphertext = body[21:21 + id_length], body[21 + id_length:]
        assert id_length == 65 and len(ciphertext) <= record_size, "one record, the sender's key as keyid"
        sender = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), sender_point)
        shared = self.private_key.exchange(ec.ECDH(), sender)
        key_info = b"WebPush: info\x00" + _point(self.private_key.public_key()) + sender_point
        ikm = _hkdf(salt=self.auth, ikm=shared, info=key_info, length=32)
        cek = _hkdf(salt=salt, ikm=ikm, info=b"Content-Encoding: aes128gcm\x00", length=16)
        nonce = _hkdf(salt=salt, ikm=ikm, info=b"Content-Encoding: nonce\x00", length=12)
        padded = AESGCM(cek).decrypt(nonce, ciphertext, None)
        unpadded = padded.rstrip(b"\x00")
        assert unpadded.endswith(b"\x02"), "the last record ends with the 0x02 delimiter"
        return unpadded[:-1]


@dataclass
class Received:
    token: str
    headers: dict[str, str]
    claims: dict[str, Any]
    message: dict[str, Any]


@dataclass
class PushService:
    origin: str = ""
    browsers: dict[str, Browser] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why a POST was refused (bad VAPID, bad body)

    def subscribe(self, *, server_key: str) -> dict[str, Any]:
        """What `PushManager.subscribe({applicationServerKey})` gives a page: `toJSON()` shape."""
        browser = Browser(token=secrets.token_urlsafe(12), private_key=ec.generate_private_key(ec.SECP256R1()),
                          auth=secrets.token_bytes(16), server_key=server_key)
        self.browsers[browser.token] = browser
        return {"endpoint": f"{self.origin}/push/{browser.token}", "expirationTime": None,
                "keys": {"p256dh": b64url(_point(browser.private_key.public_key())), "auth": b64url(browser.auth)}}

    def messages_for(self, subscription: dict[str, Any]) -> list[dict[str, Any]]:
        token = subscription["endpoint"].rsplit("/", 1)[1]
        return [item.message for item in self.received if item.token == token]

    def accept(self, token: str, headers: dict[str, str], body: bytes) -> int:
        browser = self.browsers.get(token)
        if browser is None:
            return 404
        try:
            claims = self.vapid_check(headers.get("authorization", ""), browser.server_key)
            assert headers.get("content-encoding") == "aes128gcm", headers.get("content-encoding")
            assert int(headers.get("ttl", "-1")) >= 0, "TTL is required (RFC 8030)"
            message = json.loads(browser.decrypt(body))
        except (AssertionError, ValueError, InvalidSignature, KeyError) as exc:
            self.refused.append(f"{type(exc).__name__}: {exc}")
            return 400 if not isinstance(exc, InvalidSignature) else 403
        if browser.answer < 300:
            self.received.append(Received(token=token, headers=headers, claims=claims, message=message))
        return browser.answer

    def vapid_check(self, authorization: str, server_key: str) -> dict[str, Any]:
        """RFC 8292: `vapid t=<JWT>, k=<key>`; k must be the key the subscription was made with,
        and the JWT an ES256 signature by it, for this service's origin."""
        scheme, _, rest = authorization.partition(" ")
        assert scheme.lower() == "vapid", f"not a VAPID authorization: {authorization[:20]!r}"
        parts = dict(part.strip().split("=", 1) for part in rest.split(","))
        assert parts["k"] == server_key, "signed with another key than the subscription's"
        head, payload, signature = parts["t"].split(".")
        assert json.loads(unb64url(head)) == {"typ": "JWT", "alg": "ES256"}
        raw = unb64url(signature)
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(server_key))
        public.verify(der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        claims: dict[str, Any] = json.loads(unb64url(payload))
        assert claims["aud"] == self.origin, claims
        assert str(claims["sub"]).startswith(("mailto:", "https:")), claims
        assert isinstance(claims["exp"], int), claims
        return claims


@contextmanager
def push_service() -> Iterator[PushService]:
    state = PushService()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {name.lower(): value for name, value in self.headers.items()}
            self.send_response(state.accept(self.path.rsplit("/", 1)[-1], headers, body))
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.origin = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
