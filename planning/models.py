"""Prescriptive maintenance: the inputs a plan needs beyond the predictions (technicians, spare
parts, which failure modes need which parts, when machines may stop) and the plans themselves.

All tenant-schema tables. docs/planning.md explains how a plan is computed from them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

WEEKDAYS = [0, 1, 2, 3, 4]  # Monday..Friday


def default_weekdays() -> list[int]:
    return list(WEEKDAYS)


class Technician(models.Model):
    """Who can do maintenance. A skill is a failure mode name (`bearing_wear_de`) or a machine
    type category (`motor`): either lets the technician act on that failure."""

    name = models.CharField(max_length=120, unique=True)
    skills = models.JSONField(default=list, blank=True)  # ["motor", "seal_leak"]
    hours_per_day = models.DecimalField(max_digits=4, decimal_places=1, default=8)
    working_weekdays = models.JSONField(default=default_weekdays, blank=True)  # 0 = Monday
    # The member this technician signs in as, if any: accepted plans assign work orders to them.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                             db_constraint=False, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SparePart(models.Model):
    name = models.CharField(max_length=120, unique=True)
    in_stock = models.PositiveIntegerField(default=0)
    lead_time_days = models.PositiveIntegerField(default=0)  # an order placed today arrives on this day
    unit_cost = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PartNeed(models.Model):
    """Repairing `failure_mode` on a machine of `machine_type` uses `quantity` of `part`."""

    machine_type = models.ForeignKey("machines.MachineType", on_delete=models.CASCADE, related_name="+")
    failure_mode = models.CharField(max_length=64)
    part = models.ForeignKey(SparePart, on_delete=models.CASCADE, related_name="needs")
    quantity = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["machine_type_id", "failure_mode", "part_id"]
        constraints = [models.UniqueConstraint(fields=["machine_type", "failure_mode", "part"],
                                               name="planning_partneed_unique")]

    def __str__(self) -> str:
        return f"{self.failure_mode}: {self.quantity} x {self.part_id}"


class ProductionWindow(models.Model):
    """When a machine may stop for maintenance: these weekdays, plus these dates. A machine
    without a window may stop any day."""

    machine = models.OneToOneField("machines.Machine", on_delete=models.CASCADE, related_name="production_window")
    weekdays = models.JSONField(default=list, blank=True)  # 0 = Monday
    dates = models.JSONField(default=list, blank=True)  # ["2026-05-02", ...]

    class Meta:
        ordering = ["machine_id"]

    def __str__(self) -> str:
        return f"window of machine {self.machine_id}"


class MaintenancePlan(models.Model):
    """One run of the optimizer: the inputs it saw, the schedule it chose and why. Computed by a
    Job (`job_id`); accepted once, which turns its actions into work orders."""

    class Status(models.TextChoices):
        PENDING = "pending"
        READY = "ready"
        FAILED = "failed"
        ACCEPTED = "accepted"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    job_id = models.BigIntegerField(null=True, blank=True)  # jobs.Job in the same schema
    start_date = models.DateField()
    horizon_days = models.PositiveSmallIntegerField()
    budget = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    inputs = models.JSONField(default=dict, blank=True)  # what the optimizer saw, for the record
    result = models.JSONField(default=dict, blank=True)  # planning.optimizer.Solution.as_dict() + dates
    expected_cost_without = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    expected_cost_with = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                   db_constraint=False, related_name="+")
    accepted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                    db_constraint=False, related_name="+")
    accepted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Plan {self.pk} ({self.status})"


class CostsConfirmation(models.Model):
    """The tenant has set (or confirmed) the costs of a machine type on the costs page. Until then a
    type adopted from the built-in library plans with the library's example costs, and every figure
    they drive is marked as a default (docs/planning.md, "Costs")."""

    machine_type = models.OneToOneField("machines.MachineType", on_delete=models.CASCADE, related_name="+")
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                     db_constraint=False, related_name="+")
    confirmed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"costs of type {self.machine_type_id} confirmed"



# Preventive (PM) plans live in their own module; imported here so Django registers them.
from planning.preventive_models import PreventiveOccurrence, PreventivePlan  # noqa: E402, F401
