"""Machine types of one tenant from the command line: list, library, adopt, import, export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from machines import services
from machines.library import library_list, metadata_export
from machines.models import MachineType
from pdm_saas.errors import ServiceError
from tenants.command_line import command_error, machine_type_or_error, tenant_or_error


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("action", choices=["list", "library", "adopt", "import", "export"])
        parser.add_argument("argument", nargs="?", help="library key (adopt), JSON file (import), key (export)")

    def handle(self, *args: Any, tenant: str, action: str, argument: str | None, **options: Any) -> None:
        found = tenant_or_error(tenant)
        with tenant_context(found):
            try:
                self._run(action, argument)
            except ServiceError as exc:
                raise command_error(exc) from exc

    def _run(self, action: str, argument: str | None) -> None:
        if action == "library":
            for item in library_list():
                self.stdout.write(f"{item['key']:36} {item['category']:12} {item['name']}")
        elif action == "list":
            for machine_type in MachineType.objects.all():
                self.stdout.write(f"{machine_type.key:36} v{machine_type.version:<3} {machine_type.name}")
        elif argument is None:
            raise CommandError(f"{action} needs an argument.")
        elif action == "adopt":
            self.stdout.write(f"Adopted {services.machine_type_adopt(key=argument).key}")
        elif action == "import":
            created = services.machine_type_import(document=Path(argument).read_bytes())
            self.stdout.write(f"Imported {created.key}")
        elif action == "export":
            self.stdout.write(metadata_export(machine_type_or_error(argument).metadata))
