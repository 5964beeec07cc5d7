"""Onboard a machine type in one command: simulate its fleet, train the four models, score the
tenant's machines of that type, and print each stage's time and the models' held-out metrics.
Adopts the type from the built-in library first when the tenant does not have it yet."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import tenant_context

from machines.models import MachineType
from machines.services import machine_type_adopt
from pdm_saas.errors import ServiceError
from predictions.services.training import (
    DEFAULT_HORIZON_H,
    DEFAULT_MACHINES,
    DEFAULT_SYNTHESIZER,
    SYNTHESIZERS,
    onboard_machine_type,
    onboarding_params,
)
from tenants.command_line import command_error, command_progress, tenant_or_error


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("machine_type", help="key of the tenant's type or of a built-in one")
        parser.add_argument("--machines", type=int, default=DEFAULT_MACHINES, help="simulated machines")
        parser.add_argument("--horizon-h", type=float, default=DEFAULT_HORIZON_H,
                            help="failure within this many hours of the simulation (default: 10%% of the "
                                 "median run)")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--synthesizer", default=DEFAULT_SYNTHESIZER, choices=[*SYNTHESIZERS, "none"],
                            help="SDV synthesizer fitted on the simulated fleet for its quality report")
        parser.add_argument("--json", dest="as_json", action="store_true", help="print the summary as JSON")

    def handle(self, *args: Any, tenant: str, machine_type: str, machines: int, horizon_h: float | None, seed: int,
               synthesizer: str, as_json: bool, **options: Any) -> None:
        with tenant_context(tenant_or_error(tenant)):
            try:
                params = onboarding_params(machines=machines, horizon_h=horizon_h, seed=seed,
                                           synthesizer=None if synthesizer == "none" else synthesizer)
                found = MachineType.objects.filter(key=machine_type).first() or machine_type_adopt(key=machine_type)
                summary = onboard_machine_type(machine_type=found, progress=command_progress, **params)
            except ServiceError as exc:
                raise command_error(exc) from exc
        self.stdout.write(_dumps(summary) if as_json else _text(summary))



def _dumps(summary: dict[str, Any]) -> str:
    return json.dumps(summary, indent=2, default=str)


def _text(summary: dict[str, Any]) -> str:
    seconds = summary["seconds"]
    stages = ", ".join(f"{stage} {value:.1f} s" for stage, value in seconds.items() if stage != "total")
    lines = [f"Onboarded {summary['machine_type']} in {seconds['total']:.1f} s ({stages})",
             f"Dataset #{summary['dataset']['id']}: {summary['dataset']['rows']:,} rows of "
             f"{summary['dataset']['machines']} simulated machines"]
    if summary["synthetic"]:
        quality = summary["synthetic"]["quality"]
        lines.append(f"Synthesized dataset #{summary['synthetic']['dataset']} ({summary['synthetic']['synthesizer']}): "
                     f"SDMetrics quality {quality['overall']:.3f} (column shapes {quality['column_shapes']:.3f}, "
                     f"pair trends {quality['column_pair_trends']:.3f})")
    for model in summary["models"]:
        metrics = ", ".join(f"{k} {v:.3f}" for k, v in model["metrics"].items() if isinstance(v, float))
        lines.append(f"  {model['kind']} v{model['number']} ({model['status']}): {metrics}")
    for kind, reason in summary["skipped"].items():
        lines.append(f"  {kind} not trained: {reason}")
    lines.append(f"{summary['predictions']} predictions; {summary['machines_without_readings']} machines "
                 "have no readings yet")
    return "\n".join(lines)
