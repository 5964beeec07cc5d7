"""Datasets, model versions, predictions, drift and outcomes (tenant schema).

Alerts, work orders and webhooks are maintenance's (maintenance/models.py); failure events, the
labels the models learn from, are machines' (machines/models.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from engine.frames import window_end_cycle
from tenants.row_cache import RowsManager


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
    # Mean |SHAP| importance, summary and dependence points on held-out machines
    # (engine.global_explain); {} for kinds without one and versions trained before it. Its own
    # column, not a key of `metrics` or `params` (which the pages list key by key): some 40 kB
    # that only the version's page reads, deferred by every other query.
    global_explanation = models.JSONField(default=dict, blank=True)
    training_seconds = models.FloatField(default=0)
    artifact_path = models.CharField(max_length=300)  # relative to the tenant's folder
    artifact_sha256 = models.CharField(max_length=64)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    promoted_at = models.DateTimeField(null=True, blank=True)
    # Set when a retrain registers this version as a challenger: it scores in shadow from then
    # until promoted or rejected (predictions/services/challenger/).
    shadow_since = models.DateTimeField(null=True, blank=True)
    objects = RowsManager()  # its updates reach the row caches (tenants/row_cache.py)

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
