"""Train a machine type's models on the tenant's real readings and failure events, fine-tune the
current champions, compare all of them on held-out real runs and promote the best new model
only when it beats the champion by the margin. Prints the comparison."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import tenant_context

from pdm_saas.errors import ServiceError
from predictions.services.real_training import DEFAULT_MARGIN, search_settings, train_on_real_data
from predictions.services.training import DEFAULT_HORIZON_H
from tenants.command_line import command_error, command_progress, machine_type_or_error, tenant_or_error


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("machine_type", help="key of one of the tenant's machine types")
        parser.add_argument("--margin", type=float, default=DEFAULT_MARGIN, help="0.1 = better by 10%%")
        parser.add_argument("--horizon-h", type=float, default=DEFAULT_HORIZON_H,
                            help="failure within this long, in the data's own unit: hours, or cycles for "
                                 "cycle-indexed data (default: 10%% of the median run)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--budget-s", type=float, default=None,
                            help="time for each model search (classifier, RUL), seconds "
                                 "(default 300, PDM_MODEL_SEARCH_BUDGET_S)")
        parser.add_argument("--max-trials", type=int, default=None,
                            help="at most this many candidate models per search "
                                 "(default 60, PDM_MODEL_SEARCH_MAX_TRIALS)")
        parser.add_argument("--rul-cap", type=float, default=None,
                            help="cap on remaining life, in the data's time unit (default: chosen by validation)")
        parser.add_argument("--json", dest="as_json", action="store_true")

    def handle(self, *args: Any, tenant: str, machine_type: str, margin: float, horizon_h: float | None, seed: int,
               budget_s: float | None, max_trials: int | None, rul_cap: float | None, as_json: bool,
               **options: Any) -> None:
        with tenant_context(tenant_or_error(tenant)):
            found = machine_type_or_error(machine_type)
            try:
                search = search_settings(budget_s=budget_s, max_trials=max_trials, rul_cap=rul_cap)
                summary = train_on_real_data(machine_type=found, margin=margin, horizon_h=horizon_h, seed=seed,
                                             search=search, progress=command_progress)
            except ServiceError as exc:
                raise command_error(exc) from exc
        self.stdout.write(json.dumps(summary, indent=2, default=str) if as_json else _text(summary))



def _text(summary: dict[str, Any]) -> str:
    data = summary["dataset"]
    lines = [f"Real dataset #{data['id']}: {data['rows']:,} steps in {data['runs']} runs, {data['failures']} failures "
             f"({summary['seconds']:.1f} s)"]
    for decision in summary["decisions"]:
        verdict = "promoted" if decision["promoted"] else f"kept the champion: {decision['reason']}"
        lines.append(f"{decision['kind']}: {verdict}")
        for row in decision.get("comparison", []):
            numbers = ", ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float))
            lines.append(f"    {row['model']:<32} {numbers}")
    return "\n".join(lines)
