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
    # Always the sum of the part's StockMovement rows: changed only through planning.stock.
    in_stock = models.PositiveIntegerField(default=0)
    # At or below this after a movement the part is low: one notification per crossing.
    reorder_point = models.PositiveIntegerField(default=0)
    # Set when the stock fell to the reorder point, cleared when it rose above it: the crossing
    # that has been notified, so a second movement while low sends nothing.
    low_since = models.DateTimeField(null=True, blank=True)
    low_notified_at = models.DateTimeField(null=True, blank=True)  # claimed by the one email per crossing
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


class StockMovement(models.Model):
    """One change of a spare part's stock: the ledger `SparePart.in_stock` is the sum of
    (docs/planning.md, "Spare parts that move"). Written only by planning.stock."""

    class Reason(models.TextChoices):
        RECEIVED = "received"
        USED = "used", "used on a work order"
        RETURNED = "returned", "returned from a work order"
        ADJUSTED = "adjusted"

    part = models.ForeignKey(SparePart, on_delete=models.CASCADE, related_name="movements")
    quantity = models.IntegerField()  # + into stock, - out of it; never 0
    reason = models.CharField(max_length=16, choices=Reason.choices)
    balance = models.PositiveIntegerField()  # in_stock after this movement
    work_order = models.ForeignKey("maintenance.WorkOrder", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    note = models.CharField(max_length=500, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                              db_constraint=False, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [models.CheckConstraint(condition=~models.Q(quantity=0), name="planning_stockmovement_nonzero")]

    def __str__(self) -> str:
        return f"{self.quantity:+d} x part {self.part_id} ({self.reason})"


class PartUse(models.Model):
    """Spare parts a work order uses. Reserved while the order is live, they leave stock when it
    closes (a `used` movement, `consumed_at` set); a cancelled order's parts never left."""

    work_order = models.ForeignKey("maintenance.WorkOrder", on_delete=models.CASCADE, related_name="part_uses")
    part = models.ForeignKey(SparePart, on_delete=models.CASCADE, related_name="uses")
    quantity = models.PositiveIntegerField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    returned = models.PositiveIntegerField(default=0)  # of `quantity`, brought back after the close
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                    db_constraint=False, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["recorded_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["work_order", "part"], name="planning_partuse_one_line_per_part"),
            models.CheckConstraint(condition=models.Q(quantity__gte=1), name="planning_partuse_quantity"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} x part {self.part_id} on WO-{self.work_order_id}"


# Preventive (PM) plans live in their own module; imported here so Django registers them.
from planning.preventive_models import PreventiveOccurrence, PreventivePlan  # noqa: E402, F401
