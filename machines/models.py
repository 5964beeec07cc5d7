"""Machine types, machines and their failure events (tenant schema).

A machine type is described by its metadata document (docs/metadata.md): sensors with units and
ranges, derived signals, failure modes, regimes and costs. A tenant's types are its own copies,
so editing one never changes another tenant's, nor the built-in library.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from engine.metadata import MachineTypeSchema, machine_type_schema
from tenants.row_cache import RowsManager


class MachineType(models.Model):
    class Source(models.TextChoices):
        LIBRARY = "library", "Built-in library"
        IMPORTED = "imported", "Imported JSON"

    key = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=40, db_index=True)
    version = models.PositiveIntegerField(default=1)  # +1 on every change of the document
    metadata = models.JSONField()
    # Numeric sensor names in the order of the reading store's `vals` array. Append-only: a
    # sensor removed from the metadata keeps its slot, so stored readings keep their meaning.
    # Filled by `machines.services.machine_type_slots`.
    sensor_slots = models.JSONField(default=list, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    objects = RowsManager()  # its updates reach the row caches (tenants/row_cache.py)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def sensors(self) -> list[dict[str, Any]]:
        return list(self.metadata.get("sensors", []))

    @property
    def schema(self) -> MachineTypeSchema:
        """The document read once per process (engine.metadata): typed signals with their ranges,
        compiled formulas, failure modes. Pass this, not `metadata`, to the engine."""
        return machine_type_schema(self.metadata)


class Machine(models.Model):
    """An asset: one physical machine of a type, where it stands and what its downtime costs."""

    class Criticality(models.TextChoices):
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"
        CRITICAL = "critical"

    class Status(models.TextChoices):
        ACTIVE = "active"
        MAINTENANCE = "maintenance"
        INACTIVE = "inactive"
        RETIRED = "retired"

    machine_type = models.ForeignKey(MachineType, on_delete=models.PROTECT, related_name="machines")
    # The identifier used in data files and by API clients (`Motor-001`, `unit 7`).
    name = models.CharField(max_length=120, unique=True)
    site = models.CharField(max_length=120, blank=True, db_index=True)
    line = models.CharField(max_length=120, blank=True, db_index=True)
    position = models.CharField(max_length=120, blank=True)
    serial_number = models.CharField(max_length=120, blank=True)
    criticality = models.CharField(max_length=16, choices=Criticality.choices, default=Criticality.MEDIUM)
    downtime_cost_per_hour = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    install_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    objects = RowsManager()  # its updates reach the row caches (tenants/row_cache.py)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MappingPreset(models.Model):
    """A saved column mapping, reused for the next file from the same source."""

    name = models.CharField(max_length=100, unique=True)
    machine_type = models.ForeignKey(MachineType, on_delete=models.CASCADE, related_name="mapping_presets")
    mapping = models.JSONField()  # machines.ingest.mapping.ColumnMapping.as_dict()
    # The header of the file it was saved from: a later file with other columns does not fit it
    # (machines/ingest/doubts.py). Empty for mappings saved before it was kept.
    header = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Upload(models.Model):
    """A sensor file: kept as uploaded, processed by a job, with its data-quality report."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        DELETED = "deleted"  # its readings were removed (UploadDeletion says by whom); the row stays

    original_name = models.CharField(max_length=255)
    stored_path = models.CharField(max_length=500)  # relative to the tenant's folder
    size_bytes = models.BigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    machine_type = models.ForeignKey(MachineType, on_delete=models.PROTECT, related_name="uploads")
    mapping = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    job_id = models.BigIntegerField(null=True, blank=True)  # jobs.Job in the same schema
    rows_read = models.BigIntegerField(default=0)
    rows_stored = models.BigIntegerField(default=0)
    duplicates = models.BigIntegerField(default=0)
    rows_rejected = models.BigIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.DO_NOTHING,
                                   db_constraint=False, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.original_name} ({self.status})"


class UploadDeletion(models.Model):
    """The audit entry of an upload whose readings were removed: who, when, how many readings and
    labels, and of which machines (by name, as they were then)."""

    upload = models.OneToOneField(Upload, on_delete=models.CASCADE, related_name="deletion")
    deleted_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.DO_NOTHING,
                                   db_constraint=False, related_name="+")
    deleted_at = models.DateTimeField()
    readings_removed = models.BigIntegerField()
    labels_removed = models.BigIntegerField(default=0)
    machines = models.JSONField(default=list)  # [{"id", "name", "readings"}] per machine touched

    class Meta:
        ordering = ["-deleted_at", "-id"]

    def __str__(self) -> str:
        return f"upload {self.upload_id}: {self.readings_removed} readings removed"


class ObservationLabel(models.Model):
    """The class of one label of one observation (docs/metadata.md, observation types). An
    observation is a stored reading row, keyed like it by (machine, time); the reading store is
    partitioned and written by COPY, so the key is repeated here rather than a foreign key."""

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="observation_labels")
    ts = models.DateTimeField()
    label = models.CharField(max_length=63)  # a name of the type's `observation_labels`
    value = models.CharField(max_length=64)  # one of that label's classes
    upload = models.ForeignKey(Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["machine", "ts", "label"], name="observation_label_unique")]

    def __str__(self) -> str:
        return f"{self.machine_id} {self.ts:%Y-%m-%d %H:%M:%S} {self.label}={self.value}"


class MachineBaseline(models.Model):
    """A stretch of a machine's readings that is its own normal (docs/models.md, "Each machine's
    own normal"): from `period_start` (None: its first reading) for `steps_needed` steps of
    `step_seconds` stored seconds each (3600 for an hour of clock time, 1 for a cycle). The
    latest row per machine is current; a repair or a user's reset adds a new one. `stats` holds
    `engine.baselines.Baseline.to_json()` once the stretch is complete (`ready_at`)."""

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="baselines")
    # Readings strictly after this time count; None: from the machine's first reading.
    period_start = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=200)  # "first readings", "after work order #12", "reset by ann"
    steps_needed = models.PositiveIntegerField()
    step_seconds = models.FloatField()
    stats = models.JSONField(default=dict, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.DO_NOTHING,
                                   db_constraint=False, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["machine", "-created_at"], name="baseline_machine_latest")]

    def __str__(self) -> str:
        return f"{self.machine_id} baseline ({self.reason})"


class FailureEvent(models.Model):
    """A failure of a machine: a label the models learn from, entered by hand, imported, read from an
    upload's labels, or recorded when a work order is closed with the failure found."""

    class Source(models.TextChoices):
        MANUAL = "manual"
        IMPORT = "import"
        LABEL = "label"  # from a label column or label range of an upload
        WORK_ORDER = "work_order"
        PHOTO_ASSESSMENT = "photo_assessment"  # a person's assessment of a photo named the mode

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="failures")
    occurred_at = models.DateTimeField(db_index=True)
    failure_mode = models.CharField(max_length=64, blank=True)  # a failure mode name of the machine type
    notes = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    work_order = models.OneToOneField("maintenance.WorkOrder", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="failure_event")
    created_at = models.DateTimeField(auto_now_add=True)
    objects = RowsManager()  # its updates reach the row caches (tenants/row_cache.py)

    class Meta:
        db_table = "predictions_failureevent"  # the table it had in predictions
        ordering = ["-occurred_at", "-id"]

    def __str__(self) -> str:
        return f"{self.machine} {self.failure_mode or 'failure'} at {self.occurred_at:%Y-%m-%d %H:%M}"
