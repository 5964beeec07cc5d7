"""Web Push notifications: who hears of what, and the encrypted POST to each browser's push service.

Three kinds (PushKind), each a person's choice (PushPreference, on unless switched off):

- `alert.opened`, "new alert on my machines". My machines: every machine for owners, admins and
  engineers (the people alert emails go to, who act on any alert), and for everyone else the
  machines of the live work orders assigned to them (a viewer-technician hears of their own).
- `alert.escalated`: owners and admins (as the escalation email), and whoever has a live work
  order on the machine.
- `work_order.assigned`: the new assignee, unless they assigned it to themselves.

Sending: one Celery task per notification (tenant-carrying, sent after commit). It writes a
PushDelivery row per browser of each recipient (unique on browser and notification, so a task
that runs twice sends nothing twice), claims each pending row with a conditional UPDATE, and
POSTs the payload encrypted for that browser (aes128gcm, RFC 8291, by pywebpush) with a VAPID
signature (RFC 8292, py-vapid) through pdm_saas/outbound.py, the gate that keeps requests off
our own network. 404 or 410 from the push service: the browser unsubscribed, its row goes.
429, 5xx and network errors: the row goes back to pending and the task retries.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from django.conf import settings
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from py_vapid import Vapid02
from pywebpush import WebPusher

from accounts.models import Membership
from accounts.roles import Role
from maintenance.models import Alert, WorkOrder
from maintenance.push_models import PushDelivery, PushKind, PushPreference, PushSubscription
from pdm_saas import outbound
from pdm_saas.celery import tenant_task_send
from tenants.db import connection

log = logging.getLogger(__name__)

PUSH_TIMEOUT_SECONDS = 10
PUSH_MAX_RETRIES = 4
VAPID_TOKEN_SECONDS = 12 * 3600  # RFC 8292 allows at most 24 h


class PushFailed(Exception):
    """Some browsers could not be reached for a reason worth a retry (network, 5xx, 429)."""


@dataclass(frozen=True)
class Notice:
    key: str  # names the notification: one delivery per browser and key
    user_ids: frozenset[int]
    payload: dict[str, Any]
    urgent: bool = False


def vapid_private_key() -> str:
    """The configured key; in development the one `make run` generated; else "" (push off)."""
    if settings.PUSH_VAPID_PRIVATE_KEY:
        return str(settings.PUSH_VAPID_PRIVATE_KEY)
    dev_file = settings.PUSH_VAPID_DEV_KEY_FILE
    if settings.DEBUG and dev_file.is_file():
        return dev_file.read_text().strip()
    return ""


def vapid_public_key() -> str:
    """The application server key browsers subscribe with (base64url, uncompressed point); "" if off."""
    private = vapid_private_key()
    return vapid_public_key_of(private) if private else ""


def vapid_public_key_of(private: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from py_vapid.utils import b64urlencode

    point = Vapid02.from_string(private).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return str(b64urlencode(point))


def push_notify_later(*, kind: str, object_id: int, occurrence: int = 0, user_id: int | None = None) -> None:
    """Queue one notification after commit. `occurrence` tells repeats apart (the assignment's
    audit event); `user_id` is the assignee an assignment was for."""
    from maintenance.tasks import push_notify_task

    tenant_task_send(push_notify_task, args=[kind, object_id, occurrence, user_id], queue="notify")


def push_assigned(*, order: WorkOrder, actor_id: int | None, event_id: int) -> None:
    """Tell the new assignee, unless they took the work order themselves."""
    if order.assignee_id is not None and order.assignee_id != actor_id:
        push_notify_later(kind=PushKind.WORK_ORDER_ASSIGNED, object_id=order.id, occurrence=event_id,
                          user_id=order.assignee_id)


def push_notify(*, kind: str, object_id: int, occurrence: int = 0, user_id: int | None = None) -> int:
    """Send one notification to every browser of its recipients. Returns how many were delivered
    now; raises PushFailed when some may succeed on a retry."""
    if not vapid_private_key():
        return 0
    notice = _notice(kind, object_id, occurrence, user_id)
    if notice is None or not notice.user_ids:
        return 0
    subscriptions = PushSubscription.objects.filter(user_id__in=notice.user_ids)
    PushDelivery.objects.bulk_create([PushDelivery(subscription=s, key=notice.key) for s in subscriptions],
                                     ignore_conflicts=True)
    pending = PushDelivery.objects.filter(key=notice.key, status=PushDelivery.Status.PENDING,
                                          subscription__user_id__in=notice.user_ids)
    outcomes = [_deliver(delivery, notice) for delivery in pending.select_related("subscription")
                if _claim(delivery.id)]
    if "retry" in outcomes:
        raise PushFailed(f"{outcomes.count('retry')} of {len(outcomes)} push deliveries to retry")
    return outcomes.count("delivered")


def push_give_up(*, kind: str, object_id: int) -> None:
    """After the last retry: what is still pending for this notification failed."""
    prefix = f"{kind}:{object_id}:"
    PushDelivery.objects.filter(key__startswith=prefix, status=PushDelivery.Status.PENDING).update(
        status=PushDelivery.Status.FAILED)


def _notice(kind: str, object_id: int, occurrence: int, user_id: int | None) -> Notice | None:
    if kind in (PushKind.ALERT_OPENED, PushKind.ALERT_ESCALATED):
        alert = Alert.objects.select_related("machine").filter(id=object_id).first()
        return _alert_notice(alert, kind) if alert is not None else None
    if kind == PushKind.WORK_ORDER_ASSIGNED and user_id is not None:
        order = WorkOrder.objects.select_related("machine").filter(id=object_id).first()
        return _assigned_notice(order, occurrence, user_id) if order is not None else None
    return None


def _alert_notice(alert: Alert, kind: str) -> Notice:
    escalated = kind == PushKind.ALERT_ESCALATED
    # An escalation repeats each period: its level tells the repeats apart.
    key = f"{kind}:{alert.id}:{alert.escalation_level if escalated else 0}"
    title = f"{'Escalated: ' if escalated else ''}{alert.get_severity_display()} alert on {alert.machine.name}"
    body = alert.title + (f"\n{alert.recommendation}" if alert.recommendation else "")
    payload = {"kind": kind, "title": title, "body": body[:300], "tag": f"alert-{alert.id}",
               "url": f"{reverse('predictions:alerts')}#alert-{alert.id}"}
    users = _wanting(_alert_recipients(alert, escalated), kind)
    return Notice(key=key, user_ids=users, payload=payload, urgent=alert.severity == Alert.Severity.CRITICAL)


def _assigned_notice(order: WorkOrder, occurrence: int, user_id: int) -> Notice | None:
    if order.assignee_id != user_id or order.status not in WorkOrder.LIVE:
        return None  # reassigned or closed since: the news is stale
    payload = {"kind": PushKind.WORK_ORDER_ASSIGNED.value, "title": f"WO-{order.id} assigned to you",
               "body": f"{order.title} ({order.machine.name}, {order.get_priority_display()} priority)"[:300],
               "tag": f"work-order-{order.id}",
               "url": reverse("predictions:work-order-detail", args=[order.id])}
    users = _wanting(frozenset([user_id]) & _members(), PushKind.WORK_ORDER_ASSIGNED)
    return Notice(key=f"{PushKind.WORK_ORDER_ASSIGNED}:{order.id}:{occurrence}", user_ids=users,
                  payload=payload, urgent=order.priority == WorkOrder.Priority.URGENT)


def _members(roles: tuple[str, ...] | None = None) -> frozenset[int]:
    """Members of this organization now (removed members hear nothing more)."""
    members = Membership.objects.filter(tenant_id=connection.tenant.id)
    if roles is not None:
        members = members.filter(role__in=roles)
    return frozenset(members.values_list("user_id", flat=True))


def _alert_recipients(alert: Alert, escalated: bool) -> frozenset[int]:
    roles = (Role.OWNER, Role.ADMIN) if escalated else (Role.OWNER, Role.ADMIN, Role.ENGINEER)
    on_machine = frozenset(WorkOrder.objects.filter(
        machine_id=alert.machine_id, status__in=WorkOrder.LIVE, assignee_id__isnull=False,
    ).values_list("assignee_id", flat=True))
    return _members(roles) | (on_machine & _members())


def _wanting(user_ids: frozenset[int], kind: str) -> frozenset[int]:
    off = PushPreference.objects.filter(user_id__in=user_ids, kind=kind, enabled=False)
    return user_ids - frozenset(off.values_list("user_id", flat=True))


def _claim(delivery_id: int) -> bool:
    return bool(PushDelivery.objects.filter(id=delivery_id, status=PushDelivery.Status.PENDING).update(
        status=PushDelivery.Status.SENDING, attempts=F("attempts") + 1))


def _deliver(delivery: PushDelivery, notice: Notice) -> str:
    """One POST; the row says what happened. Returns delivered, gone, failed or retry."""
    subscription = delivery.subscription
    try:
        answer = _post(subscription, notice)
    except outbound.OutboundRefused as exc:
        retry = isinstance(exc, outbound.HostUnresolved)  # DNS may recover; a refused address will not
        return _record(delivery, "retry" if retry else "failed", error=str(exc))
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return _record(delivery, "retry", error=f"{type(exc).__name__}: {exc}")
    if answer.status in (404, 410):  # RFC 8030: the subscription expired or was withdrawn
        PushSubscription.objects.filter(id=subscription.id).delete()
        return "gone"
    if 200 <= answer.status < 300:
        PushSubscription.objects.filter(id=subscription.id).update(last_delivered_at=timezone.now())
        return _record(delivery, "delivered", status=answer.status)
    retry = answer.status == 429 or answer.status >= 500
    return _record(delivery, "retry" if retry else "failed", status=answer.status, error=f"HTTP {answer.status}")


def _post(subscription: PushSubscription, notice: Notice) -> outbound.Answer:
    info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
    body = WebPusher(info).encode(json.dumps(notice.payload).encode(), "aes128gcm")["body"]
    endpoint = urlsplit(subscription.endpoint)
    claims = {"sub": settings.PUSH_VAPID_SUBJECT, "aud": f"{endpoint.scheme}://{endpoint.netloc}",
              "exp": int(time.time()) + VAPID_TOKEN_SECONDS}
    headers: dict[str, str] = dict(Vapid02.from_string(vapid_private_key()).sign(claims))
    headers.update({"Content-Encoding": "aes128gcm", "Content-Type": "application/octet-stream",
                    "TTL": str(settings.PUSH_TTL_SECONDS), "Urgency": "high" if notice.urgent else "normal"})
    return outbound.post(subscription.endpoint, body=body, headers=headers, timeout=PUSH_TIMEOUT_SECONDS)


def _record(delivery: PushDelivery, outcome: str, *, status: int | None = None, error: str = "") -> str:
    state = {"delivered": PushDelivery.Status.DELIVERED, "failed": PushDelivery.Status.FAILED,
             "retry": PushDelivery.Status.PENDING}[outcome]
    PushDelivery.objects.filter(id=delivery.id).update(
        status=state, response_status=status, last_error=error[:2000],
        delivered_at=timezone.now() if outcome == "delivered" else None)
    if outcome != "delivered":
        log.info("push %s to subscription %s: %s %s", delivery.key, delivery.subscription_id, outcome, error)
    return outcome
