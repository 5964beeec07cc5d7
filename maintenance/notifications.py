"""Alert notifications: email to the right members, and signed webhooks with retries.

Webhook bodies are Slack-compatible (`text` and `blocks`), with our structured fields under
`pdm`. Each delivery is signed like Stripe's: header `X-PDM-Signature: t=<unix>,v1=<hex>`, where
v1 is HMAC-SHA256 of `<t>.<body>` with the endpoint's secret, so receivers can verify origin
and reject replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import urllib3
from django.core.mail import send_mail
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.roles import Role
from maintenance.models import Alert, WebhookDelivery, WebhookEndpoint
from maintenance.push import push_notify_later
from pdm_saas import outbound
from pdm_saas.celery import tenant_task_send
from tenants.db import connection
from tenants.selectors import tenant_link

WEBHOOK_TIMEOUT_SECONDS = 10


class WebhookFailed(Exception):
    """A delivery attempt failed in a way worth retrying (network error, 5xx, 429)."""


def alert_notify_later(*, alert_id: int, event: str) -> None:
    from maintenance.tasks import alert_notify_task

    tenant_task_send(alert_notify_task, args=[alert_id, event], queue="notify")
    push_notify_later(kind=event, object_id=alert_id)  # Web Push: maintenance/push.py


def alert_url(alert: Alert) -> str:
    """The alert in the inbox, on the tenant's host at the configured site address: where the
    person who reads the email or the chat message acts on it."""
    return tenant_link(tenant=connection.tenant, path=f"{reverse('predictions:alerts')}#alert-{alert.id}")


def alert_payload(alert: Alert, event: str) -> dict[str, Any]:
    verb = "escalated" if event == "alert.escalated" else "opened"
    link = alert_url(alert)
    text = f"[{alert.severity.upper()}] {alert.title} ({verb})"
    if alert.recommendation:
        text += f"\nRecommended: {alert.recommendation}"
    text += f"\nOpen the alert: {link}"
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        "pdm": {
            "event": event, "tenant": connection.tenant.slug, "alert_id": alert.id,
            "machine": alert.machine.name, "kind": alert.kind, "failure_mode": alert.failure_mode,
            "severity": alert.severity,
            "probability": alert.probability, "escalation_level": alert.escalation_level,
            "recommendation": alert.recommendation, "opened_at": alert.opened_at.isoformat(), "url": link,
        },
    }


def _recipients(event: str) -> list[str]:
    roles = [Role.OWNER, Role.ADMIN] if event == "alert.escalated" else [Role.OWNER, Role.ADMIN, Role.ENGINEER]
    return list(Membership.objects.filter(tenant_id=connection.tenant.id, role__in=roles)
                .values_list("user__email", flat=True))


def alert_notify(*, alert_id: int, event: str) -> int:
    """Email the members concerned and queue one delivery per active webhook. Returns deliveries."""
    alert = Alert.objects.select_related("machine").filter(id=alert_id).first()
    if alert is None:
        return 0
    payload = alert_payload(alert, event)
    send_mail(subject=payload["text"].splitlines()[0], message=payload["text"], from_email=None,
              recipient_list=_recipients(event), fail_silently=False)
    deliveries = [WebhookDelivery.objects.create(endpoint=endpoint, event=event, payload=payload)
                  for endpoint in WebhookEndpoint.objects.filter(is_active=True)]
    from maintenance.tasks import webhook_deliver_task

    for delivery in deliveries:
        tenant_task_send(webhook_deliver_task, args=[delivery.id], queue="notify")
    return len(deliveries)


def webhook_signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_deliver(*, delivery_id: int) -> str:
    """One attempt. Raises WebhookFailed when a retry may help; 3xx, 4xx and refused targets are final."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(id=delivery_id).first()
    if delivery is None or delivery.status == WebhookDelivery.Status.DELIVERED:
        return "skipped"  # a duplicate task delivery: never send twice what was delivered
    body = json.dumps(delivery.payload).encode()
    headers = {
        "Content-Type": "application/json", "User-Agent": "pdm-saas-webhooks/1",
        "X-PDM-Event": delivery.event, "X-PDM-Delivery": str(delivery.id),
        "X-PDM-Signature": webhook_signature(delivery.endpoint.secret, int(time.time()), body),
    }
    WebhookDelivery.objects.filter(id=delivery.id).update(attempts=delivery.attempts + 1)
    try:
        answer = outbound.post(delivery.endpoint.url, body=body, headers=headers, timeout=WEBHOOK_TIMEOUT_SECONDS)
    except outbound.HostUnresolved as exc:
        _record(delivery.id, error=str(exc))
        raise WebhookFailed(str(exc)) from exc
    except outbound.OutboundRefused as exc:  # checked again at each delivery: DNS may have changed
        return _fail(delivery.id, error=f"Refused: {exc}")
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        _record(delivery.id, error=f"{type(exc).__name__}: {exc}")
        raise WebhookFailed(str(exc)) from exc
    return _answer_record(delivery.id, answer)


def _answer_record(delivery_id: int, answer: outbound.Answer) -> str:
    status = answer.status
    if 200 <= status < 300:
        WebhookDelivery.objects.filter(id=delivery_id).update(
            status=WebhookDelivery.Status.DELIVERED, response_status=status, delivered_at=timezone.now(), last_error="")
        return "delivered"
    if 300 <= status < 400:
        return _fail(delivery_id, status=status, error=(
            f"HTTP {status}: redirects are not followed (to {answer.location or 'nowhere'}); "
            "give the endpoint's final URL"))
    _record(delivery_id, error=f"HTTP {status}", status=status)
    if status >= 500 or status == 429:
        raise WebhookFailed(f"HTTP {status}")
    return _fail(delivery_id, status=status, error=f"HTTP {status}")


def _fail(delivery_id: int, *, error: str, status: int | None = None) -> str:
    WebhookDelivery.objects.filter(id=delivery_id).update(
        status=WebhookDelivery.Status.FAILED, last_error=error[:2000], response_status=status)
    return "failed"


def _record(delivery_id: int, *, error: str, status: int | None = None) -> None:
    WebhookDelivery.objects.filter(id=delivery_id).update(last_error=error[:2000], response_status=status)


def webhook_give_up(*, delivery_id: int) -> None:
    WebhookDelivery.objects.filter(id=delivery_id).exclude(status=WebhookDelivery.Status.DELIVERED).update(
        status=WebhookDelivery.Status.FAILED)


WEBHOOK_MAX_RETRIES = 6  # with the backoff in tasks.py: about 30 minutes of retries
