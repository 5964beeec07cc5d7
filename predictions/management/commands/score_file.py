"""Score a CSV or Parquet file of readings with a machine type's champion models and write one
prediction per machine and step to a CSV or Parquet file (by its extension).

    manage.py score_file --tenant acme --machine-type turbofan-engine-cmapss --mapping mapping.json in.csv out.csv

--mapping takes the JSON `ingest_file` takes (docs/ingest.md); without it, or for what it leaves
out, the columns are guessed as the upload form and `ingest_file` guess them (sensors by name,
alias or identifier; the time and machine columns by their usual names). --machine NAME scores a
single-machine file without a machine column; --explain adds each prediction's top factors.
--anomaly-only writes the anomaly detector's score per step alone, at the detector's own step
(what a type trained on normal operation only has; it is also the default for such a type)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from pdm_saas.errors import ServiceError
from predictions.services.batch_files import score_file
from tenants.command_line import command_error, command_progress, machine_type_or_error, tenant_or_error


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--machine-type", required=True, help="key of one of the tenant's machine types")
        parser.add_argument("source", type=Path)
        parser.add_argument("target", type=Path)
        parser.add_argument("--machine-column", help="the machine column (default: guessed from the headers)")
        parser.add_argument("--time-column", help="the time column (default: guessed from the headers)")
        parser.add_argument("--time-format", choices=["iso", "epoch_s", "epoch_ms", "cycle"],
                            help="how the time column reads (default: the mapping's, else iso)")
        parser.add_argument("--machine", help="the machine of a single-machine file (no machine column)")
        parser.add_argument("--mapping", type=Path, help="column mapping JSON file, as ingest_file takes")
        parser.add_argument("--explain", action="store_true", help="add each prediction's top factors")
        parser.add_argument("--anomaly-only", action="store_true",
                            help="score with the anomaly detector alone, at its own step")

    def handle(self, *args: Any, tenant: str, machine_type: str, source: Path, target: Path, **options: Any) -> None:
        if not source.is_file():
            raise CommandError(f"No file at {source}.")
        with tenant_context(tenant_or_error(tenant)):
            found = machine_type_or_error(machine_type)
            try:
                result = score_file(machine_type=found, source=source, target=target, progress=command_progress,
                                    mapping=_mapping(options), explain=options["explain"],
                                    anomaly_only=options["anomaly_only"])
            except ServiceError as exc:
                raise command_error(exc) from exc
        self.stdout.write(f"{result.predictions:,} predictions for {result.machines} machines written to {target} "
                          f"({result.rows_read:,} rows read, {result.rows_refused:,} refused for a missing machine "
                          f"or time).")
        self.stdout.write(f"Sensors: {', '.join(f'{k} -> {v}' for k, v in result.sensors.items())}")
        if result.ignored:
            self.stdout.write(f"Ignored columns: {', '.join(result.ignored)}")


def _mapping(options: dict[str, Any]) -> dict[str, Any]:
    """The --mapping JSON with the command line's column options over it (unset ones left out,
    for the service to guess)."""
    mapping: dict[str, Any] = {}
    if options["mapping"] is not None:
        path = Path(options["mapping"])
        try:
            mapping = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the mapping {path}: {exc}") from exc
        if not isinstance(mapping, dict):
            raise CommandError(f"The mapping {path} must be a JSON object (docs/ingest.md).")
    flags = {"machine_column": options["machine_column"], "time_column": options["time_column"],
             "time_format": options["time_format"], "machine_name": options["machine"]}
    mapping.update({name: value for name, value in flags.items() if value is not None})
    if options["machine"] is not None:
        mapping.pop("machine_column", None)  # --machine: a single-machine file
    return mapping
