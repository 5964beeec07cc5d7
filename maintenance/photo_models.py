"""Photos on work orders and alerts, each with an optional damage assessment by a person.

Imported by maintenance/models.py so Django finds the model in the maintenance app; kept in its
own module so the photo feature reads in one place (services: maintenance/photos.py).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Photo(models.Model):
    """One image attached to a work order or to an alert (exactly one of the two).

    The file is stored cleaned (EXIF dropped, orientation applied) under the tenant's folder as
    `photos/<key>.<ext>` with a thumbnail `photos/<key>-thumb.jpg`; `key` is random, so no path
    ever holds user input. The assessment fields are what a person saw in the photo: nothing in
    the product judges the image itself (docs/web.md, "Photos").
    """

    class Format(models.TextChoices):
        JPEG = "JPEG", "JPEG"
        PNG = "PNG", "PNG"
        WEBP = "WEBP", "WebP"

    class DamageKind(models.TextChoices):
        CRACK = "crack", "Crack or fracture"
        WEAR = "wear", "Wear or abrasion"
        CORROSION = "corrosion", "Corrosion or rust"
        LEAK = "leak", "Leak (oil, water, air)"
        OVERHEATING = "overheating", "Overheating or discoloration"
        DEFORMATION = "deformation", "Bent, dented or deformed"
        LOOSE = "loose", "Loose or missing part"
        CONTAMINATION = "contamination", "Dirt or contamination"
        ELECTRICAL = "electrical", "Electrical damage (burn marks, insulation)"
        OTHER = "other", "Other"

    class Severity(models.IntegerChoices):
        MINOR = 1, "Minor"
        MODERATE = 2, "Moderate"
        SEVERE = 3, "Severe"
        CRITICAL = 4, "Critical"

    machine = models.ForeignKey("machines.Machine", on_delete=models.CASCADE, related_name="photos")
    work_order = models.ForeignKey("maintenance.WorkOrder", null=True, blank=True, on_delete=models.CASCADE,
                                   related_name="photos")
    alert = models.ForeignKey("maintenance.Alert", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="photos")
    key = models.CharField(max_length=32, unique=True)  # random hex: the file name, never user input
    format = models.CharField(max_length=8, choices=Format.choices)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()  # of the stored, cleaned file
    caption = models.CharField(max_length=300, blank=True)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                    db_constraint=False, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    # The damage assessment (all empty until someone assesses the photo).
    component = models.CharField(max_length=100, blank=True)
    damage_kind = models.CharField(max_length=16, choices=DamageKind.choices, blank=True)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices, null=True, blank=True)
    failure_mode = models.CharField(max_length=64, blank=True)  # a failure mode name of the machine's type
    assessed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING,
                                    db_constraint=False, related_name="+")
    assessed_at = models.DateTimeField(null=True, blank=True)
    # The training label the assessment's failure mode became (shared with the work order's own
    # label when its close found the same mode: one failure, one label).
    failure_event = models.ForeignKey("machines.FailureEvent", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="photos")

    class Meta:
        ordering = ["uploaded_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(work_order__isnull=False, alert__isnull=True)
                                   | Q(work_order__isnull=True, alert__isnull=False),
                                   name="photo_on_work_order_or_alert"),
            models.CheckConstraint(condition=Q(severity__isnull=True) | Q(severity__gte=1, severity__lte=4),
                                   name="photo_severity_1_to_4"),
        ]

    def __str__(self) -> str:
        target = f"WO-{self.work_order_id}" if self.work_order_id else f"alert {self.alert_id}"
        return f"photo {self.key[:8]} on {target}"

    @property
    def assessed(self) -> bool:
        return self.assessed_at is not None

    @property
    def extension(self) -> str:
        return {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}[self.format]

    @property
    def content_type(self) -> str:
        return {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}[self.format]
