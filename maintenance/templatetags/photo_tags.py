"""`{% photo_panel order %}`: a work order's photos on its page, from one line in
work_order_detail.html (the page's view stays as it was)."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from maintenance import photo_selectors
from maintenance.models import WorkOrder
from maintenance.views.photos import photo_panel as panel_context

register = template.Library()


@register.inclusion_tag("maintenance/partials/photos.html", takes_context=True)
def photo_panel(context: template.Context, order: WorkOrder) -> dict[str, Any]:
    panel = panel_context(photos=photo_selectors.photos_of_work_order(order_id=order.id), target=order,
                          upload_url=reverse("predictions:work-order-photo-upload", args=[order.id]))
    # The partial's forms need the page's CSRF token and role flags.
    return {**panel, "csrf_token": context.get("csrf_token"), "can_write": context.get("can_write")}
