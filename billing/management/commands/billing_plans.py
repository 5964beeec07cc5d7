"""`manage.py billing_plans` lists the plans; `--set starter price=price_123 overage=price_456`
stores a plan's Stripe price ids (the monthly fee and the metered overage price)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.models import Plan

_FIELDS = {"price": "stripe_price_id", "overage": "stripe_overage_price_id"}


class Command(BaseCommand):
    help = "List the plans, or set a plan's Stripe price ids: --set starter price=price_123 overage=price_456"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--set", dest="plan", metavar="CODE", help="the plan to change")
        parser.add_argument("values", nargs="*", metavar="price=ID|overage=ID")

    def handle(self, *args: Any, plan: str | None, values: list[str], **options: Any) -> None:
        if plan:
            self._set(plan, values)
        for row in Plan.objects.all():
            overage = f"{row.overage_cents_per_prediction} c" if row.allows_overage else "none"
            self.stdout.write(f"{row.code:<11} price={row.stripe_price_id or '-':<24} "
                              f"overage={row.stripe_overage_price_id or '-':<24} overage/prediction={overage}")

    def _set(self, code: str, values: list[str]) -> None:
        updates = dict(value.split("=", 1) for value in values if "=" in value)
        if not updates or len(updates) != len(values) or set(updates) - set(_FIELDS):
            raise CommandError(f"Give price=<id> and/or overage=<id>; not understood: {' '.join(values) or 'nothing'}")
        if not Plan.objects.filter(code=code).update(**{_FIELDS[k]: v for k, v in updates.items()}):
            raise CommandError(f"No plan {code!r}; plans: {', '.join(Plan.objects.values_list('code', flat=True))}")
        self.stdout.write(self.style.SUCCESS(f"{code}: " + ", ".join(f"{k}={v}" for k, v in updates.items())))
