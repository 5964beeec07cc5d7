"""A person's browsers subscribed to Web Push, and what they want pushed (maintenance/push.py
sends). Subscriptions are personal: any member may subscribe their own browser, for themselves."""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.db import transaction

from maintenance.push_models import PushKind, PushPreference, PushSubscription
from maintenance.push_selectors import push_preferences_of
from pdm_saas import outbound
from pdm_saas.errors import InvalidInput, NotFound

ENDPOINT_MAX = PushSubscription._meta.get_field("endpoint").max_length or 1000


def _b64url(value: str, field: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(value.strip() + "=" * (-len(value.strip()) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"The subscription's {field} key is not base64url.", details={field: ["invalid"]}) from exc


def _endpoint_check(endpoint: str) -> str:
    """Push services are public HTTPS addresses; the gate for outbound requests says which
    addresses we may POST to (pdm_saas/outbound.py), checked now for a clear message and again
    at every delivery."""
    endpoint = endpoint.strip()
    if not endpoint or len(endpoint) > ENDPOINT_MAX:
        raise InvalidInput(f"The subscription needs an endpoint URL of at most {ENDPOINT_MAX} characters.",
                           details={"endpoint": ["invalid"]})
    if not endpoint.startswith("https://") and not settings.OUTBOUND_ALLOW_PRIVATE_TARGETS:
        raise InvalidInput("The push endpoint must be an https:// URL.", details={"endpoint": ["not https"]})
    try:
        outbound.url_vet(endpoint)
    except outbound.OutboundRefused as exc:
        raise InvalidInput(f"This push endpoint cannot be used: {exc}", details={"endpoint": ["refused"]}) from exc
    return endpoint


def _keys_check(p256dh: str, auth: str) -> None:
    """The keys payloads are encrypted for (RFC 8291): a P-256 point and a 16-byte secret."""
    point = _b64url(p256dh, "p256dh")
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError as exc:
        raise InvalidInput("The subscription's p256dh key is not a P-256 public key.",
                           details={"p256dh": ["invalid"]}) from exc
    if len(_b64url(auth, "auth")) != 16:
        raise InvalidInput("The subscription's auth secret must be 16 bytes.", details={"auth": ["invalid"]})


@transaction.atomic
def push_subscription_save(*, user_id: int, endpoint: str, p256dh: str, auth: str,
                           device: str = "") -> PushSubscription:
    """Store (or refresh) a browser's subscription for this person. A browser has one endpoint:
    subscribing it again, even signed in as someone else, moves it to the latest person."""
    endpoint = _endpoint_check(endpoint)
    _keys_check(p256dh, auth)
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint,
        defaults={"user_id": user_id, "p256dh": p256dh.strip(), "auth": auth.strip(), "device": device[:120]})
    return subscription


def push_subscription_delete(*, user_id: int, endpoint: str = "", subscription_id: int | None = None) -> None:
    """Forget one of this person's browsers, by endpoint (the browser) or id (the device list)."""
    mine = PushSubscription.objects.filter(user_id=user_id)
    found = mine.filter(id=subscription_id) if subscription_id is not None else mine.filter(endpoint=endpoint.strip())
    if not found.delete()[0]:
        raise NotFound("No such push subscription of yours.")


@transaction.atomic
def push_preferences_set(*, user_id: int, choices: dict[str, bool]) -> dict[str, bool]:
    """Switch kinds on or off for this person; unknown kinds are refused, all or nothing."""
    unknown = sorted(set(choices) - set(PushKind.values))
    if unknown:
        raise InvalidInput(f"Unknown notification kinds: {', '.join(unknown)}. Known: {', '.join(PushKind.values)}.",
                           details={"kinds": unknown})
    for kind, enabled in choices.items():
        PushPreference.objects.update_or_create(user_id=user_id, kind=kind, defaults={"enabled": bool(enabled)})
    return push_preferences_of(user_id=user_id)


BROWSERS = (("Edg/", "Edge"), ("SamsungBrowser", "Samsung Internet"), ("Firefox", "Firefox"), ("Chrome", "Chrome"),
            ("Safari", "Safari"))
SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
           ("Mac OS", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


def device_label(user_agent: str) -> str:
    """"Chrome on Android": enough for a person to tell their devices apart in the list."""
    browser = next((name for token, name in BROWSERS if token in user_agent), "A browser")
    system = next((name for token, name in SYSTEMS if token in user_agent), "")
    return f"{browser} on {system}" if system else browser
