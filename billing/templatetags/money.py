"""`{{ cents|money }}`: an amount in cents as dollars, "$1,234.56"; a price below a dollar keeps a
fraction of a cent ("$0.025"), since rounding a per-prediction price would misstate it.
`{{ n|count }}`: a whole number with thousands separators, "10,000"."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()
CENT = Decimal("0.01")


@register.filter
def money(cents: int | Decimal | None, currency: str = "usd") -> str:
    dollars = Decimal(cents or 0) / 100
    places = Decimal("0.001") if 0 < abs(dollars) < 1 and dollars != dollars.quantize(CENT) else CENT
    amount = dollars.quantize(places, rounding=ROUND_HALF_UP)
    symbol = "$" if currency.lower() == "usd" else f"{currency.upper()} "
    return f"{symbol}{amount:,}"


@register.filter
def count(value: int | None) -> str:
    return "" if value is None else f"{int(value):,}"
