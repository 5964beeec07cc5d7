"""Acting on predictions (tenant schema): alert rules, alerts, work orders and their audit trail,
webhook endpoints and their deliveries.

These models moved here from predictions and kept their tables (`predictions_*`): migrations
moved only Django's state (maintenance/migrations/0001_initial.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from tenants.row_cache import RowsManager


class AlertRule(models.Model):
    """When a machine's verdicts become an alert. The most specific rule wins: a machine's, else
    its type's, else the tenant default (both empty).

    Scoring opens an alert when `windows_k` of the machine's last `windows_n` steps (windows of
    its readings, one a model step) are at risk (engine.decision) and closes it after
    `windows_clear` steps in a row that are not. 4 of 6, clear after 6: with the classifier's
    validation false-positive rate of at most 5% and steps flagged independently, a healthy
    machine on hourly steps raises about 0.13 false alerts per 100 machine-days (3 of 5 would
    raise 1.5), at the cost of three more steps before the first alert. The probabilities apply
    to alerts raised from a bare probability (`POST /alerts/raise/`); `critical_probability`
    also makes a scored alert critical.

    The anomaly kind reads the same windows: when `windows_k` of the last `windows_n` steps have
    an anomaly score at or above `anomaly_threshold` (the share of the normal windows the detector
    learned that are less unusual), an anomaly alert opens, with the same dedupe, cooldown and
    hysteresis. None switches the kind off. Only a detector trained on real readings counts
    (predictions.services.scoring_alerts): cold-start scores read healthy machines as unusual too often.
    """

    machine_type = models.ForeignKey("machines.MachineType", null=True, blank=True, on_delete=models.CASCADE)
    machine = models.ForeignKey("machines.Machine", null=True, blank=True, on_delete=models.CASCADE)
    warning_probability = models.FloatField(default=0.5)
    critical_probability = models.FloatField(default=0.8)
    # After an alert is resolved, the same machine and failure mode stay quiet this long.
    cooldown_minutes = models.PositiveIntegerField(default=240)
    # Unacknowledged this long: escalate (notify admins and owners, then again each period).
    escalate_after_minutes = models.PositiveIntegerField(default=60)
    windows_k = models.PositiveSmallIntegerField(default=4)  # at-risk windows ...
    windows_n = models.PositiveSmallIntegerField(default=6)  # ... among the last n open an alert
    windows_clear = models.PositiveSmallIntegerField(default=6)  # quiet windows in a row close it
    anomaly_threshold = models.FloatField(null=True, blank=True, default=0.999)
    objects = RowsManager()  # its updates reach the row caches (tenants/row_cache.py)

    class Meta:
        db_table = "predictions_alertrule"  # the table it had in predictions
        ordering = ["id"]
        constraints = [
            # One default, one per type, one per machine (NULLs compare equal here).
            models.UniqueConstraint(fields=["machine_type", "machine"], nulls_distinct=False,
                                    name="alertrule_one_per_target"),
            models.CheckConstraint(condition=Q(machine_type__isnull=True) | Q(machine__isnull=True),
                                   name="alertrule_machine_or_type"),
            models.CheckConstraint(condition=Q(warning_probability__gt=0, warning_probability__lte=1,
                                               critical_probability__lte=1)
                                   & Q(critical_probability__gte=models.F("warning_probability")),
                                   name="alertrule_probabilities"),
            # engine.decision.alarm_rule_check: bounds keep the false-alarm chain small, and
            # clear >= n - k + 1 keeps a closed alarm from reopening on the windows that opened it.
            models.CheckConstraint(condition=Q(windows_k__gte=1, windows_k__lte=models.F("windows_n"),
                                               windows_n__lte=12, windows_clear__gte=1, windows_clear__lte=48)
                                   & Q(windows_clear__gte=models.F("windows_n") - models.F("windows_k") + 1),
                                   name="alertrule_windows"),
            # Below 0.9 one normal window in ten would count as unusual: alert fatigue by design.
            models.CheckConstraint(condition=Q(anomaly_threshold__isnull=True)
                                   | Q(anomaly_threshold__gte=0.9, anomaly_threshold__lte=1),
                                   name="alertrule_anomaly_threshold"),
        ]

    def __str__(self) -> str:
        target = self.machine or self.machine_type or "default"
        return f"alert rule for {target}"


class Alert(models.Model):
    """A machine's problem that needs someone. `kind`: a failure mode at risk (the classifier and
    the remaining life), or readings unlike the machine's normal (the anomaly detector)."""

    class Kind(models.TextChoices):
        FAILURE = "failure"
        ANOMALY = "anomaly"

    class Severity(models.TextChoices):
        WARNING = "warning"
        CRITICAL = "critical"

    class Status(models.TextChoices):
        OPEN = "open"
        ACKNOWLEDGED = "acknowledged"
        RESOLVED = "resolved"

    ACTIVE = (Status.OPEN, Status.ACKNOWLEDGED)
    HANDLED = "handled"  # shown, never stored: an active alert with a live work order

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.FAILURE)
    failure_mode = models.CharField(max_length=64, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    probability = models.FloatField()
    title = models.CharField(max_length=200)
    explanation = models.JSONField(default=dict, blank=True)  # top factors, rule, confidence
    recommendation = models.TextField(blank=True)
    occurrences = models.PositiveIntegerField(default=1)  # deduplicated raises while active
    escalation_level = models.PositiveSmallIntegerField(default=0)
    opened_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                        db_constraint=False, related_name="+")
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True)

    class Meta:
        db_table = "predictions_alert"  # the table it had in predictions
        ordering = ["-opened_at", "-id"]
        constraints = [
            # One active alert per machine, kind and failure mode, enforced by Postgres so that
            # two scoring workers raising at once cannot both open one.
            models.UniqueConstraint(fields=["machine", "kind", "failure_mode"],
                                    condition=Q(status__in=["open", "acknowledged"]),
                                    name="alert_one_active_per_machine_kind_mode"),
        ]
        # The alarm history pages by opening time (newest or oldest first) and filters periods on it:
        # 300,000 alerts, page 1 in 0.2 ms instead of 400 ms (docs/alerts.md, "Alarm history").
        indexes = [models.Index(fields=["opened_at", "id"], name="alert_opened_at_id")]

    def __str__(self) -> str:
        return f"{self.severity} {self.title}"

    def handling_order(self) -> WorkOrder | None:
        """The work order someone is on for this alert (not done or cancelled), newest first;
        reads `work_orders` prefetched when the caller prefetched them."""
        if self.status not in self.ACTIVE:
            return None
        live = [order for order in self.work_orders.all() if order.status in WorkOrder.LIVE]
        return max(live, key=lambda order: (order.created_at, order.id), default=None)

    @property
    def display_status(self) -> str:
        """The status people read: "handled" while an active alert has a live work order (the
        alert itself stays open or acknowledged until the work order closes it)."""
        return self.HANDLED if self.handling_order() is not None else str(self.status)


class WorkOrder(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        SCHEDULED = "scheduled"
        IN_PROGRESS = "in_progress"
        DONE = "done"
        CANCELLED = "cancelled"

    class Priority(models.TextChoices):
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"
        URGENT = "urgent"

    LIVE = (Status.OPEN, Status.SCHEDULED, Status.IN_PROGRESS)  # someone is on it

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="work_orders")
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.SET_NULL, related_name="work_orders")
    failure_mode = models.CharField(max_length=64, blank=True)  # a failure mode name of the machine's type
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    explanation = models.JSONField(default=dict, blank=True)  # copied from the alert: stays as it was
    recommendation = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.MEDIUM)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                 db_constraint=False, related_name="+")
    due_at = models.DateTimeField(null=True, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    planned_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    actual_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    planned_downtime_hours = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    actual_downtime_hours = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    parts = models.JSONField(default=list, blank=True)  # [{"part": "6309-2Z bearing", "quantity": 2}]
    failure_found = models.BooleanField(null=True, blank=True)
    failure_mode_found = models.CharField(max_length=64, blank=True)
    action_taken = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                   db_constraint=False, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "predictions_workorder"  # the table it had in predictions
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"WO-{self.pk} {self.title}"


class WorkOrderEvent(models.Model):
    """The audit trail of a work order: every change, who made it and when."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")
    action = models.CharField(max_length=32)  # created, status, assigned, updated, closed, checklist
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "predictions_workorderevent"  # the table it had in predictions
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.work_order_id} {self.action} at {self.at:%Y-%m-%d %H:%M}"


class WebhookEndpoint(models.Model):
    """Where alert notifications are POSTed (Slack-compatible JSON, HMAC-signed)."""

    name = models.CharField(max_length=100)
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=64)  # shown at creation; signs every delivery
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "predictions_webhookendpoint"  # the table it had in predictions
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(models.Model):
    """One event sent to one endpoint: the row that makes retries visible and idempotent."""

    class Status(models.TextChoices):
        PENDING = "pending"
        DELIVERED = "delivered"
        FAILED = "failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "predictions_webhookdelivery"  # the table it had in predictions
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint} ({self.status})"


# Checklists live in their own module; imported here so that Django registers them with this app.
from maintenance.checklist_models import (  # noqa: E402
    ChecklistTemplate,
    ChecklistTemplateItem,
    ItemKind,
    WorkOrderChecklistItem,
)
from maintenance.photo_models import Photo  # noqa: E402,F401  (photos: their own module, this app)

# Web Push lives in its own module; imported here so that Django sees its models in this app.
from maintenance.push_models import PushDelivery, PushPreference, PushSubscription  # noqa: E402,F401

__all__ = ["Alert", "AlertRule", "ChecklistTemplate", "ChecklistTemplateItem", "ItemKind", "Photo", "PushDelivery",
           "PushPreference", "PushSubscription", "WebhookDelivery", "WebhookEndpoint", "WorkOrder",
           "WorkOrderChecklistItem", "WorkOrderEvent"]

# Offline work: the operations synced from browsers, in their own module (maintenance/offline.py).
from maintenance.offline_models import OfflineOp  # noqa: E402,F401
