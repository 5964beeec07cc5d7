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


@register.filter
def percent(value: float | None) -> str:
    """A probability as people read it: 12%, "<1%", ">99%"; empty for no value."""
    if value is None or value == "":
        return ""
    share = float(value)
    if 0 < share < 0.01:
        return "<1%"
    if share > 0.99:  # a forecast is never certain
        return ">99%"
    return f"{100 * share:.0f}%"
