"""Offline work (docs/web.md, "Offline"): every operation a technician's browser queued while it
had no network, recorded once by the id the browser gave it.

Imported by maintenance/models.py so that Django registers it with this app; the services are in
maintenance/offline.py.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class OfflineOp(models.Model):
    """One queued operation as the server answered it. The unique `op_id` makes a sync safe to
    repeat: a browser that lost the answer sends the operation again and hears the first answer,
    and nothing is applied twice. `base_version` is what the browser saw when it made the change;
    `new_version` what the change left, so that the same person's later changes on that base are
    not mistaken for someone else's (maintenance/offline.py, "Conflict rules")."""

    class Outcome(models.TextChoices):
        APPLIED = "applied", "Applied"
        CONFLICT = "conflict", "Not applied: changed on the server meanwhile"
        REFUSED = "refused", "Refused"

    op_id = models.UUIDField(unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False,
                             related_name="+")
    kind = models.CharField(max_length=32)
    work_order_id = models.BigIntegerField(null=True, blank=True)  # as sent; may name no work order
    target = models.CharField(max_length=64, blank=True)  # "item:12", "work_order:7"
    base_version = models.CharField(max_length=64, blank=True)
    new_version = models.CharField(max_length=64, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    message = models.TextField(blank=True)
    made_at = models.DateTimeField(null=True, blank=True)  # on the device, as it said
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["target", "user"], name="offline_op_target_user")]

    def __str__(self) -> str:
        return f"{self.kind} {self.op_id} {self.outcome}"
