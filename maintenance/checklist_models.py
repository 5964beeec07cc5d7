"""Checklists (tenant schema): templates per machine type and failure mode, and the items a work
order carries, copied from them when it is created (docs/web.md, "Checklists").

The work order's items are a snapshot, not a link: editing or deleting a template later leaves
the open work orders with the list their technicians started from. Imported by
`maintenance/models.py`, so Django finds them in the maintenance app.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class ItemKind(models.TextChoices):
    """What an item asks for: a tick, a measured number (with unit and allowed range) or words."""

    TICK = "tick", "Tick"
    NUMBER = "number", "Number"
    TEXT = "text", "Text"


class ChecklistTemplate(models.Model):
    """An ordered list of items for the work orders of one machine type: those on one failure mode
    (`failure_mode`, a mode's name), or all of them (`failure_mode` empty)."""

    class Source(models.TextChoices):
        RECOMMENDED = "recommended", "From the recommended actions"
        MANUAL = "manual", "Written here"

    machine_type = models.ForeignKey("machines.MachineType", on_delete=models.CASCADE,
                                     related_name="checklist_templates")
    failure_mode = models.CharField(max_length=64, blank=True)
    name = models.CharField(max_length=200)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["machine_type_id", "failure_mode", "id"]
        indexes = [models.Index(fields=["machine_type", "failure_mode"], name="checklist_tpl_type_mode")]

    def __str__(self) -> str:
        return self.name


class ItemFields(models.Model):
    """What a template item and a work order's item share: the question and how it is answered.
    `min_value`/`max_value` (either may be empty) bound a number; `unit` says what it measures."""

    position = models.PositiveSmallIntegerField()
    text = models.CharField(max_length=500)
    required = models.BooleanField(default=False)
    kind = models.CharField(max_length=8, choices=ItemKind.choices, default=ItemKind.TICK)
    unit = models.CharField(max_length=32, blank=True)
    min_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    max_value = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(condition=Q(min_value__isnull=True) | Q(max_value__isnull=True)
                                   | Q(min_value__lte=models.F("max_value")), name="%(class)s_range"),
        ]


class ChecklistTemplateItem(ItemFields):
    template = models.ForeignKey(ChecklistTemplate, on_delete=models.CASCADE, related_name="items")

    class Meta(ItemFields.Meta):
        ordering = ["template_id", "position", "id"]

    def __str__(self) -> str:
        return self.text


class WorkOrderChecklistItem(ItemFields):
    """One item of a work order's checklist with its answer. Done means: ticked (tick), a value
    entered (number, text). `template_name` keeps the list it came from, for the page's headings."""

    work_order = models.ForeignKey("maintenance.WorkOrder", on_delete=models.CASCADE, related_name="checklist_items")
    template = models.ForeignKey(ChecklistTemplate, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+")
    template_name = models.CharField(max_length=200, blank=True)
    done = models.BooleanField(default=False)
    value_number = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    value_text = models.CharField(max_length=2000, blank=True)
    note = models.CharField(max_length=2000, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                db_constraint=False, related_name="+")
    done_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(ItemFields.Meta):
        ordering = ["work_order_id", "position", "id"]

    def __str__(self) -> str:
        return self.text
