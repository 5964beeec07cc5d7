"""Create machines from a CSV file in one tenant (all rows or none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django_tenants.utils import tenant_context

from machines.services import machines_import_file
from pdm_saas.errors import ServiceError
from tenants.command_line import command_error, tenant_or_error


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, tenant: str, file: Path, **options: Any) -> None:
        found = tenant_or_error(tenant)
        with tenant_context(found):
            try:
                machines = machines_import_file(data=file.read_bytes())
            except ServiceError as exc:
                raise command_error(exc) from exc
        self.stdout.write(self.style.SUCCESS(f"Created {len(machines)} machines."))
