"""`{{ cents|money }}`: an amount in cents as dollars, "$1,234.56" (fractions of a cent rounded)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()


@register.filter
def money(cents: int | Decimal | None, currency: str = "usd") -> str:
    amount = (Decimal(cents or 0) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    symbol = "$" if currency.lower() == "usd" else f"{currency.upper()} "
    return f"{symbol}{amount:,}"
