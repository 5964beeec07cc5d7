"""Import an Amazon Lookout for Equipment dataset folder (component CSVs, optional label ranges)
as one machine of one tenant. See machines/lookout.py for the layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import tenant_context

from machines.lookout import lookout_import
from pdm_saas.errors import ServiceError
from tenants.command_line import command_error, tenant_or_error


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--type", required=True, dest="machine_type", help="machine type key")
        parser.add_argument("--machine", required=True, help="the asset's machine name (created if new)")
        parser.add_argument("--labels", type=Path, help="label ranges CSV: start,end[,failure mode]")
        parser.add_argument("folder", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_or_error(options["tenant"])
        with tenant_context(tenant):
            try:
                done = lookout_import(folder=options["folder"], machine_type_key=options["machine_type"],
                                      machine_name=options["machine"], labels=options["labels"])
            except ServiceError as exc:
                raise command_error(exc) from exc
        result = done.result
        self.stdout.write(self.style.SUCCESS(
            f"Components {', '.join(done.components)}: {result.rows_read:,} timestamps, {result.rows_stored:,} "
            f"stored, {result.duplicates:,} duplicates, {result.rows_rejected:,} rejected, "
            f"{done.failure_events} failure events from labels."))
        if done.unmapped_columns:
            self.stdout.write(f"Columns matching no sensor (not imported): {', '.join(done.unmapped_columns)}")
