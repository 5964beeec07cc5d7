"""Preventive maintenance (PM) plans: recurring jobs on a machine, by calendar or by usage, and the
occurrences that generated their work orders. Tenant-schema tables, imported by planning.models.

Not to be confused with `MaintenancePlan`, the optimizer's one-off schedule: the pages and the API
call these "PM plans" / "preventive plans". docs/planning.md, "Preventive plans", has the rules.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from planning.preventive_schedule import CALENDAR_UNITS


class PreventivePlan(models.Model):
    """A recurring job on one machine: every `every` `unit` from `start_date`. Usage units count
    from the machine's stored readings: running hours while `signal` >= `threshold`, or cycles
    (starts of `signal` crossing `threshold`), since `start_date` (machines/usage.py)."""

    class Unit(models.TextChoices):
        DAYS = "days", "days"  # lower-case labels: the pages say "every 3 months"
        WEEKS = "weeks", "weeks"
        MONTHS = "months", "months"
        RUNNING_HOURS = "running_hours", "running hours"
        CYCLES = "cycles", "cycles"

    class Priority(models.TextChoices):  # the work order's priorities (maintenance.WorkOrder.Priority)
        LOW = "low"
        MEDIUM = "medium"
        HIGH = "high"
        URGENT = "urgent"

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="preventive_plans")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # The failure mode the job prevents (a name of the machine type's); blank for a general job
    # (lubrication, an inspection). The optimizer skips a repair a named PM job already does.
    failure_mode = models.CharField(max_length=64, blank=True)
    priority = models.CharField(max_length=16, choices=Priority.choices, default=Priority.MEDIUM)
    estimated_cost = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    estimated_downtime_hours = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    every = models.PositiveIntegerField()
    unit = models.CharField(max_length=16, choices=Unit.choices)
    start_date = models.DateField()
    signal = models.CharField(max_length=64, blank=True)  # usage plans: the sensor that says "running"
    threshold = models.FloatField(null=True, blank=True)  # running while signal >= threshold
    lead_time_days = models.PositiveSmallIntegerField(default=0)  # the work order appears this early
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                   db_constraint=False, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["machine_id", "title", "id"]

    def __str__(self) -> str:
        return f"PM plan {self.pk} {self.title}"

    @property
    def by_calendar(self) -> bool:
        return self.unit in CALENDAR_UNITS


class PreventiveOccurrence(models.Model):
    """One due occurrence of a PM plan and the work order generated for it. The unique constraint
    on (plan, sequence) is what makes generating safe to run twice: the second insert fails."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule"  # the beat task, at due date minus lead time
        MANUAL = "manual"  # "Generate now"

    plan = models.ForeignKey(PreventivePlan, on_delete=models.CASCADE, related_name="occurrences")
    sequence = models.PositiveIntegerField()  # calendar: 0 = the start date; usage: 1 = the first interval
    due_on = models.DateField(null=True, blank=True)  # usage plans: the estimate when it was generated
    due_usage = models.FloatField(null=True, blank=True)  # usage plans: the running hours or cycles
    work_order = models.ForeignKey("maintenance.WorkOrder", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="preventive_occurrences")
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                   db_constraint=False, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["plan_id", "-sequence"]
        constraints = [models.UniqueConstraint(fields=["plan", "sequence"], name="planning_pm_occurrence_unique")]

    def __str__(self) -> str:
        return f"PM plan {self.plan_id} #{self.sequence}"
