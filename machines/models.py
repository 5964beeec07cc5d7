"""Machine types and machines (tenant schema).

A machine type is described by its metadata document (docs/metadata.md): sensors with units and
ranges, derived signals, failure modes, regimes and costs. A tenant's types are its own copies,
so editing one never changes another tenant's, nor the built-in library.
"""

from __future__ import annotations

from typing import Any

from django.db import models


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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def sensors(self) -> list[dict[str, Any]]:
        return list(self.metadata.get("sensors", []))


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

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
