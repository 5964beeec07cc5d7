"""Format of API keys and invitation tokens: generation, parsing and hashing."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

KEY_RE = re.compile(r"^pdm_([a-z0-9]{8})_([A-Za-z0-9_-]{43})$")


@dataclass(frozen=True)
class NewKey:
    prefix: str
    raw: str
    digest: str


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def api_key_generate() -> NewKey:
    prefix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(8))
    raw = f"pdm_{prefix}_{secrets.token_urlsafe(32)}"
    return NewKey(prefix=prefix, raw=raw, digest=sha256_hex(raw))


def api_key_prefix(raw: str) -> str | None:
    """The prefix of a well-formed key, or None for anything else."""
    match = KEY_RE.match(raw)
    return match.group(1) if match else None


def bearer_token(authorization_header: str) -> str | None:
    scheme, _, token = authorization_header.partition(" ")
    if scheme.lower() not in ("bearer", "api-key") or not token.strip():
        return None
    return token.strip()


def invitation_token_generate() -> tuple[str, str]:
    token = secrets.token_urlsafe(32)
    return token, sha256_hex(token)
