"""Thin tasks for alert notifications, webhook deliveries and escalation; each runs inside its
tenant. They keep the names they had in predictions (`predictions.tasks.*`): queued tasks and
the beat schedule (pdm_saas/celery.py) find them by name."""

from __future__ import annotations

from celery import Task

from maintenance import notifications, push
from maintenance.services.alerts import alerts_escalate
from pdm_saas.celery import app


@app.task(name="predictions.tasks.alert_notify_task")
def alert_notify_task(alert_id: int, event: str) -> int:
    return notifications.alert_notify(alert_id=alert_id, event=event)


@app.task(name="predictions.tasks.webhook_deliver_task", bind=True, max_retries=notifications.WEBHOOK_MAX_RETRIES)
def webhook_deliver_task(self: Task, delivery_id: int) -> str:
    try:
        return notifications.webhook_deliver(delivery_id=delivery_id)
    except notifications.WebhookFailed as exc:
        if self.request.retries >= self.max_retries:
            notifications.webhook_give_up(delivery_id=delivery_id)
            return "failed"
        # Exponential backoff: 30 s, 1 min, 2 min, ... capped at an hour.
        raise self.retry(exc=exc, countdown=min(30 * 2 ** self.request.retries, 3600)) from exc


@app.task(name="predictions.tasks.alerts_escalate_task")
def alerts_escalate_task() -> int:
    return alerts_escalate()


@app.task(name="maintenance.tasks.push_notify_task", bind=True, max_retries=push.PUSH_MAX_RETRIES)
def push_notify_task(self: Task, kind: str, object_id: int, occurrence: int = 0, user_id: int | None = None) -> int:
    try:
        return push.push_notify(kind=kind, object_id=object_id, occurrence=occurrence, user_id=user_id)
    except push.PushFailed as exc:
        if self.request.retries >= self.max_retries:
            push.push_give_up(kind=kind, object_id=object_id)
            return 0
        # 30 s, 1 min, 2 min, 4 min: a push is news, not worth sending an hour late.
        raise self.retry(exc=exc, countdown=30 * 2 ** self.request.retries) from exc
