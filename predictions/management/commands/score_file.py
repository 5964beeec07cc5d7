"""Score a CSV or Parquet file of readings with a machine type's champion models and write one
prediction per machine and step to a CSV or Parquet file (by its extension).

    manage.py score_file --tenant acme --machine-type turbofan-engine-cmapss --mapping mapping.json in.csv out.csv

Without --mapping (the JSON `ingest_file` takes, docs/ingest.md) the sensor columns are matched by
sensor name, alias or identifier, as the upload form does; --machine NAME scores a single-machine
file without a machine column; --explain adds each prediction's top factors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from machines.ingest.mapping import ColumnMapping
from pdm_saas.errors import InvalidInput, ServiceError
from predictions.services.batch_files import score_file
from tenants.command_line import command_error, command_progress, machine_type_or_error, tenant_or_error


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--machine-type", required=True, help="key of one of the tenant's machine types")
        parser.add_argument("source", type=Path)
        parser.add_argument("target", type=Path)
        parser.add_argument("--machine-column", default="machine")
        parser.add_argument("--time-column", default="ts")
        parser.add_argument("--time-format", default="iso", choices=["iso", "epoch_s", "epoch_ms", "cycle"])
        parser.add_argument("--machine", help="the machine of a single-machine file (no machine column)")
        parser.add_argument("--mapping", type=Path, help="column mapping JSON file, as ingest_file takes")
        parser.add_argument("--explain", action="store_true", help="add each prediction's top factors")

    def handle(self, *args: Any, tenant: str, machine_type: str, source: Path, target: Path, **options: Any) -> None:
        if not source.is_file():
            raise CommandError(f"No file at {source}.")
        with tenant_context(tenant_or_error(tenant)):
            found = machine_type_or_error(machine_type)
            try:
                result = score_file(machine_type=found, source=source, target=target, progress=command_progress,
                                    machine_column=options["machine_column"], time_column=options["time_column"],
                                    time_format=options["time_format"], machine_name=options["machine"],
                                    mapping=_mapping(options["mapping"]), explain=options["explain"])
            except ServiceError as exc:
                raise command_error(exc) from exc
        self.stdout.write(f"{result.predictions:,} predictions for {result.machines} machines written to {target} "
                          f"({result.rows_read:,} rows read, {result.rows_refused:,} refused for a missing machine "
                          f"or time).")
        self.stdout.write(f"Sensors: {', '.join(f'{k} -> {v}' for k, v in result.sensors.items())}")
        if result.ignored:
            self.stdout.write(f"Ignored columns: {', '.join(result.ignored)}")


def _mapping(path: Path | str | None) -> ColumnMapping | None:
    if path is None:
        return None
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CommandError(f"Cannot read the mapping {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise CommandError(f"The mapping {path} must be a JSON object (docs/ingest.md).")
    try:
        return ColumnMapping.from_dict(data)
    except (InvalidInput, TypeError) as exc:
        raise CommandError(f"The mapping {path} cannot be used: {exc}") from exc
