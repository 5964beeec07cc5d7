"""Import failure events (machine, occurred_at, failure_mode, notes) from a CSV into a tenant."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import tenant_context

from machines.failures import failure_events_import
from pdm_saas.errors import ServiceError
from tenants.command_line import command_error, tenant_or_error


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, tenant: str, file: Path, **options: Any) -> None:
        found = tenant_or_error(tenant)
        with tenant_context(found):
            try:
                events = failure_events_import(data=file.read_bytes())
            except ServiceError as exc:
                raise command_error(exc) from exc
        self.stdout.write(self.style.SUCCESS(f"{len(events)} failure events recorded."))
