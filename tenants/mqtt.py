"""MQTT credentials of tenants and the Mosquitto files that enforce them.

Each tenant gets one or more broker logins (`MqttCredential`). Mosquitto itself checks them: it
reads a password file and an ACL file that `mqtt_sync` writes from the active credentials, so the
broker never talks to the database. Topics: a tenant publishes to `pdm/<slug>/readings` and may
read `pdm/<slug>/errors`; the bridge reads every tenant's readings (docs/ingest.md, "MQTT").
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from pdm_saas.errors import NotFound
from tenants.models import MqttCredential, Tenant

# Mosquitto's password-file format since 2.0 ("$7$"): PBKDF2-HMAC-SHA512, 101 iterations, a
# 12-byte salt and a 64-byte hash, both base64. Reproduced here so no mosquitto_passwd binary is
# needed where the app runs; tests/test_mqtt_bridge.py checks it against the real tools.
HASH_ID, HASH_ITERATIONS, SALT_BYTES = 7, 101, 12
BRIDGE_TOPIC = "pdm/+/readings"


def readings_topic(slug: str) -> str:
    return f"pdm/{slug}/readings"


def errors_topic(slug: str) -> str:
    return f"pdm/{slug}/errors"


def mosquitto_password_hash(password: str, *, salt: bytes | None = None) -> str:
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, HASH_ITERATIONS)
    return f"${HASH_ID}${HASH_ITERATIONS}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def mosquitto_password_check(password: str, encoded: str) -> bool:
    _, hash_id, iterations, salt, _digest = encoded.split("$")
    if hash_id != str(HASH_ID) or iterations != str(HASH_ITERATIONS):
        return False
    return hmac.compare_digest(mosquitto_password_hash(password, salt=base64.b64decode(salt)), encoded)


def _username_for(tenant: Tenant) -> str:
    """The slug for a tenant's first login, `<slug>-<suffix>` for further ones. Never the
    bridge's own name, which a tenant could otherwise take by signing up with that slug."""
    taken = {settings.PDM_MQTT_BRIDGE_USER}
    candidate = tenant.slug
    while candidate in taken or MqttCredential.objects.filter(username=candidate).exists():
        taken.add(candidate)
        candidate = f"{tenant.slug}-{secrets.token_hex(3)}"
    return candidate


def mqtt_credential_create(*, tenant: Tenant) -> tuple[MqttCredential, str]:
    """A new broker login for `tenant`; the password is returned here and never again. It works
    once `mqtt_sync` has rewritten the broker's files."""
    password = secrets.token_urlsafe(24)
    credential = MqttCredential.objects.create(
        tenant=tenant, username=_username_for(tenant), password_hash=mosquitto_password_hash(password))
    return credential, password


def mqtt_credential_revoke(*, tenant: Tenant, credential_id: int) -> MqttCredential:
    """Revoke a login of `tenant` (idempotent); it stops working at the next `mqtt_sync`."""
    credential = MqttCredential.objects.filter(tenant=tenant, id=credential_id).first()
    if credential is None:
        raise NotFound("No such MQTT credential.")
    if credential.revoked_at is None:
        credential.revoked_at = timezone.now()
        credential.save(update_fields=["revoked_at"])
    return credential


def mqtt_credentials_active() -> list[MqttCredential]:
    """Logins the broker should accept: not revoked, of an active tenant."""
    return list(MqttCredential.objects.select_related("tenant")
                .filter(revoked_at__isnull=True, tenant__is_active=True).order_by("username"))


def _bridge_login() -> tuple[str, str] | None:
    user, password = settings.PDM_MQTT_BRIDGE_USER, settings.PDM_MQTT_BRIDGE_PASSWORD
    return (user, password) if user and password else None


def mqtt_password_file_write(path: Path | str) -> int:
    """Write Mosquitto's password_file: every active credential plus the bridge's user.
    Returns the number of users written."""
    lines = [f"{c.username}:{c.password_hash}" for c in mqtt_credentials_active()]
    bridge = _bridge_login()
    if bridge is not None:
        lines.append(f"{bridge[0]}:{mosquitto_password_hash(bridge[1])}")
    _write_atomically(Path(path), "".join(line + "\n" for line in lines))
    return len(lines)


def mqtt_acl_file_write(path: Path | str) -> None:
    """Write Mosquitto's acl_file. Explicit `user` blocks rather than a `pattern %u`, because a
    username is not always the slug (`acme-3f9a1c`)."""
    blocks = []
    bridge = _bridge_login()
    if bridge is not None:
        blocks.append(f"user {bridge[0]}\ntopic read {BRIDGE_TOPIC}\ntopic write {errors_topic('+')}\n")
    for credential in mqtt_credentials_active():
        slug = credential.tenant.slug
        blocks.append(f"user {credential.username}\ntopic write pdm/{slug}/#\ntopic read {errors_topic(slug)}\n")
    _write_atomically(Path(path), "\n".join(blocks))


def _write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step, so a broker reloading at that moment never reads half of it.
    Mode 0640: readable by a broker running in the same group, not by everyone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
