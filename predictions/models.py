"""Failure events, alerts, work orders, datasets, model versions and predictions (tenant schema).

Failure events are the labels the models learn from: entered by hand, imported, or recorded
when a work order is closed with the failure found.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from engine.frames import window_end_cycle


class FailureEvent(models.Model):
    class Source(models.TextChoices):
        MANUAL = "manual"
        IMPORT = "import"
        LABEL = "label"  # from a label column or label range of an upload
        WORK_ORDER = "work_order"

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="failures")
    occurred_at = models.DateTimeField(db_index=True)
    failure_mode = models.CharField(max_length=64, blank=True)  # a failure mode name of the machine type
    notes = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    work_order = models.OneToOneField("WorkOrder", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="failure_event")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.machine} {self.failure_mode or 'failure'} at {self.occurred_at:%Y-%m-%d %H:%M}"


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
    (predictions.services.alerts): cold-start scores read healthy machines as unusual too often.
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

    class Meta:
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
        ordering = ["-opened_at", "-id"]
        constraints = [
            # One active alert per machine, kind and failure mode, enforced by Postgres so that
            # two scoring workers raising at once cannot both open one.
            models.UniqueConstraint(fields=["machine", "kind", "failure_mode"],
                                    condition=Q(status__in=["open", "acknowledged"]),
                                    name="alert_one_active_per_machine_kind_mode"),
        ]

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
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"WO-{self.pk} {self.title}"


class WorkOrderEvent(models.Model):
    """The audit trail of a work order: every change, who made it and when."""

    work_order = models.ForeignKey(WorkOrder, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")
    action = models.CharField(max_length=32)  # created, status, assigned, updated, closed
    from_status = models.CharField(max_length=16, blank=True)
    to_status = models.CharField(max_length=16, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    note = models.TextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
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
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.event} -> {self.endpoint} ({self.status})"


class Dataset(models.Model):
    """Training data with its provenance: simulated, a synthesizer's sample, real readings or a
    mix. The table itself is a Parquet file in the tenant's folder; `fingerprint` is the SHA-256
    of its contents, so a model version names exactly what it learned from."""

    class Source(models.TextChoices):
        SIMULATED = "simulated"
        SYNTHESIZED = "synthesized"  # sampled from a synthesizer fitted on another dataset
        REAL = "real"
        MIXED = "mixed"

    machine_type = models.ForeignKey("machines.MachineType", on_delete=models.CASCADE, related_name="datasets")
    source = models.CharField(max_length=16, choices=Source.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived")
    params = models.JSONField(default=dict, blank=True)  # generator, seed, sizes, synthesizer kind
    rows = models.PositiveIntegerField(default=0)
    machines = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)  # failing runs (or failure events) in the data
    fingerprint = models.CharField(max_length=64)
    stored_path = models.CharField(max_length=300)  # relative to the tenant's folder
    quality_report = models.JSONField(default=dict, blank=True)  # SDMetrics, for synthesized data
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.source} dataset #{self.pk} of {self.machine_type}"


# The held-out metrics a person compares first, in this order (docs/models.md lists them all).
HEADLINE_METRICS = ("f1", "precision", "recall", "fpr", "roc_auc", "pr_auc", "rmse", "mae", "r2", "coverage")


def metrics_headline(metrics: Mapping[str, Any], keys: Sequence[str] = HEADLINE_METRICS) -> dict[str, Any]:
    """Those of `keys` a version recorded, in the order given."""
    return {k: metrics[k] for k in keys if k in metrics}


class ModelVersion(models.Model):
    """One trained model of a machine type (or of one machine): its artifact, where its data came
    from, its held-out metrics and its place in the champion / candidate / archived lifecycle.
    At most one champion per (type, machine, kind): the database enforces it."""

    class Kind(models.TextChoices):
        FAILURE_CLASSIFIER = "failure_classifier"
        RUL_REGRESSOR = "rul_regressor"
        ANOMALY_DETECTOR = "anomaly_detector"
        SENSOR_FORECASTER = "sensor_forecaster"
        OBSERVATION_CLASSIFIER = "observation_classifier"  # observation types: every label of a row

    class Status(models.TextChoices):
        CANDIDATE = "candidate"
        CHAMPION = "champion"
        ARCHIVED = "archived"

    machine_type = models.ForeignKey("machines.MachineType", on_delete=models.CASCADE, related_name="model_versions")
    machine = models.ForeignKey("machines.Machine", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="model_versions")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    number = models.PositiveIntegerField()  # 1, 2, ... per (type, machine, kind)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CANDIDATE, db_index=True)
    dataset = models.ForeignKey(Dataset, null=True, blank=True, on_delete=models.SET_NULL, related_name="models")
    data_source = models.CharField(max_length=16, choices=Dataset.Source.choices)
    data_fingerprint = models.CharField(max_length=64)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    params = models.JSONField(default=dict, blank=True)  # horizon, seed, step, fine-tuning
    metrics = models.JSONField(default=dict, blank=True)  # held-out, see docs/models.md
    baseline = models.JSONField(default=dict, blank=True)  # the trivial model on the same rows
    feature_importance = models.JSONField(default=list, blank=True)
    training_seconds = models.FloatField(default=0)
    artifact_path = models.CharField(max_length=300)  # relative to the tenant's folder
    artifact_sha256 = models.CharField(max_length=64)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    # Set when a retrain registers this version as a challenger: it scores in shadow from then
    # until promoted or rejected (predictions/services/challenger.py).
    shadow_since = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["machine_type_id", "kind", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["machine_type", "machine", "kind", "number"], nulls_distinct=False,
                                    name="modelversion_number_unique"),
            models.UniqueConstraint(fields=["machine_type", "machine", "kind"], nulls_distinct=False,
                                    condition=Q(status="champion"), name="modelversion_one_champion"),
        ]

    def __str__(self) -> str:
        return f"{self.machine_type.key} {self.kind} v{self.number} ({self.status})"


class ModelEvent(models.Model):
    """The audit log of the registry: trained, promoted, rolled back, archived, and why."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=32)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")
    note = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.version} {self.action}"


class Prediction(models.Model):
    """One scored step of one machine, as returned to the caller and shown in the UI."""

    class Source(models.TextChoices):
        SCHEDULED = "scheduled"
        API = "api"
        BATCH = "batch"
        ONBOARDING = "onboarding"

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="predictions")
    model_version = models.ForeignKey(ModelVersion, null=True, on_delete=models.SET_NULL, related_name="+")
    versions = models.JSONField(default=dict)  # kind -> model version id, every model that took part
    # The newest reading of the machine when a fleet run scored it: a scheduled run skips a machine
    # with nothing newer and the same models, so unchanged data is neither stored again nor billed.
    readings_until = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    window_end = models.DateTimeField()  # the last step the prediction saw
    horizon_h = models.FloatField()
    probability = models.FloatField()
    predicted_failure = models.BooleanField()
    failure_mode = models.CharField(max_length=64, blank=True)
    rul_h = models.FloatField(null=True)
    rul_lower_h = models.FloatField(null=True)
    rul_upper_h = models.FloatField(null=True)
    anomaly_score = models.FloatField(null=True)
    health_score = models.FloatField(null=True)  # none while the machine is learning its normal
    confidence = models.FloatField()
    explanation = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # The verdict (engine.decision): what every page and the alerts read.
    state = models.CharField(max_length=16, blank=True)  # learning / healthy / watch / at_risk
    risk = models.FloatField(null=True)  # the failure risk shown: the probability, raised by an RUL inside the horizon
    threshold = models.FloatField(null=True)  # the classifier's threshold: the alert level the risk reads against
    rul_beyond_h = models.FloatField(null=True)  # the RUL's cap where it sits at it: "beyond N days, no sign of wear"
    learning = models.FloatField(null=True)  # baseline progress 0-1 while learning its normal
    alarm = models.BooleanField(default=False)  # the alert rule's alarm after this window (k of n, hysteresis)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["machine", "-created_at"], name="prediction_machine_recent"),
                   # The history charts read a machine's predictions by window.
                   models.Index(fields=["machine", "-window_end"], name="prediction_machine_window")]

    def __str__(self) -> str:
        return f"{self.machine_id} p={self.probability:.2f} at {self.window_end:%Y-%m-%d %H:%M}"

    @property
    def time_unit(self) -> str:
        """"cycles" for cycle-indexed data, else "h": the unit of `horizon_h`, `rul_h` and the
        explanation's durations (engine.frames)."""
        return "h" if window_end_cycle(self.window_end) is None else "cycles"


class DriftReference(models.Model):
    """What a model version's inputs and scores looked like in training, kept compactly for drift
    checks: per feature a quantile sketch (`engine.drift.sketch`), the model's scores on the
    same rows, and each sensor's missing share. Computed on a version's first drift check from its
    dataset (docs/models.md, "Drift and outcomes")."""

    version = models.OneToOneField(ModelVersion, on_delete=models.CASCADE, related_name="drift_reference")
    rows = models.PositiveIntegerField()  # training rows sampled
    dependence = models.FloatField(default=1.0)  # rows per independent draw: the longest window
    features = models.JSONField(default=dict)  # feature -> sketch
    scores = models.JSONField(default=dict)  # sketch of the model's outputs on the sampled rows (none: forecaster)
    missing = models.JSONField(default=dict)  # sensor -> share of missing steps
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"drift reference of {self.version_id}"


class DriftReport(models.Model):
    """One drift check of a model version: recent window against its training reference."""

    class Status(models.TextChoices):
        OK = "ok"
        WARNING = "warning"
        DRIFTED = "drifted"
        NO_DATA = "no_data"

    class Basis(models.TextChoices):
        """What "recent" meant: the clock's last days, or each machine's latest steps (cycle-indexed
        data is stored at 1970 + cycles, where the clock's last week holds nothing)."""

        CLOCK = "clock", "the last days up to the check"
        LATEST_STEPS = "latest_steps", "each machine's latest steps"

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="drift_reports")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    basis = models.CharField(max_length=16, choices=Basis.choices, default=Basis.CLOCK)
    window_steps = models.PositiveIntegerField(null=True)  # model steps per machine in the window
    machines = models.PositiveIntegerField(default=0)
    rows = models.PositiveIntegerField(default=0)  # recent model steps compared
    features = models.JSONField(default=list)  # [{feature, psi, ks, ks_p, recent, drifted}], by PSI
    drift_share = models.FloatField(null=True)  # share of features drifted
    threshold = models.FloatField()
    prediction_psi = models.FloatField(null=True)
    predictions = models.PositiveIntegerField(default=0)
    data_quality = models.JSONField(default=list)  # [{signal, reference, recent, change}]
    status = models.CharField(max_length=16, choices=Status.choices, db_index=True)
    trigger = models.CharField(max_length=16, default="scheduled")  # scheduled / manual
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"drift of {self.version_id}: {self.status}"


class OutcomeSnapshot(models.Model):
    """A model version's live metrics at one time: its predictions joined with what happened."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="outcome_snapshots")
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    tp = models.PositiveIntegerField(default=0)
    fp = models.PositiveIntegerField(default=0)
    tn = models.PositiveIntegerField(default=0)
    fn = models.PositiveIntegerField(default=0)
    pending = models.PositiveIntegerField(default=0)  # horizon not over, nothing happened yet
    precision = models.FloatField(null=True)
    recall = models.FloatField(null=True)
    fpr = models.FloatField(null=True)
    rul_mae_h = models.FloatField(null=True)
    rul_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"outcomes of {self.version_id} at {self.created_at:%Y-%m-%d %H:%M}"


class ShadowPrediction(models.Model):
    """A challenger's silent prediction beside the champion's: never returned, never alerting,
    never billed; compared with the champion's on the outcomes that follow."""

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="shadow_predictions")
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="shadow_predictions")
    window_end = models.DateTimeField()
    horizon_h = models.FloatField()
    probability = models.FloatField()
    predicted_failure = models.BooleanField()
    rul_h = models.FloatField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["version", "created_at"], name="shadow_version_recent")]

    def __str__(self) -> str:
        return f"shadow of {self.version_id} on {self.machine_id} at {self.window_end:%Y-%m-%d %H:%M}"
