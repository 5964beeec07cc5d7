"""The insights app's own rows: who wants the weekly summary email, and which weeks were sent.

Tenant-schema tables. The KPIs themselves are computed on read from other apps' rows
(`insights.selectors`, docs/insights.md).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class SummaryPreference(models.Model):
    """A member's choice about the weekly summary (admins and owners get it unless they opt out)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False,
                                related_name="+")
    weekly_email = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"summary preference of {self.user_id}: {self.weekly_email}"


class WeeklySummary(models.Model):
    """One weekly summary sent to this tenant: the unique week makes sending idempotent."""

    week_start = models.DateField(unique=True)  # the Monday of the ISO week
    recipients = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-week_start"]

    def __str__(self) -> str:
        return f"weekly summary of {self.week_start}"
