"""Reads of the photo pages and API: a work order's or an alert's photos, one photo."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from maintenance.models import Photo


def photo_list() -> QuerySet[Photo]:
    """Every photo of the tenant with what its pages and API read, oldest first."""
    return Photo.objects.select_related("machine__machine_type", "failure_event").order_by("uploaded_at", "id")


def photos_of_work_order(*, order_id: int) -> list[Photo]:
    return list(photo_list().filter(work_order_id=order_id))


def photos_of_alert(*, alert_id: int) -> list[Photo]:
    return list(photo_list().filter(alert_id=alert_id))


def photo_or_404(*, photo_id: int) -> Photo:
    return get_object_or_404(photo_list(), pk=photo_id)
