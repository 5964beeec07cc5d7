from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def money(value: float | Decimal | str | None) -> str:
    """$12,345 (whole dollars); empty for no value."""
    if value is None or value == "":
        return ""
    return f"${float(value):,.0f}"
