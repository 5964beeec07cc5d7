"""An organization's configuration file from the command line (docs/web.md, "Configuration in and
out"): `export` writes it to stdout; `import FILE` applies one (`--dry-run`: report only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from django_tenants.utils import tenant_context

from pdm_saas.config_transfer.document import MAX_FILE_BYTES, SECTION_TITLES
from pdm_saas.config_transfer.export import config_export
from pdm_saas.config_transfer.importing import CREATE, UNCHANGED, UPDATE, config_import
from pdm_saas.errors import ServiceError
from tenants.command_line import command_error, tenant_or_error


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True, help="tenant slug")
        parser.add_argument("action", choices=["export", "import"])
        parser.add_argument("file", nargs="?", help="the configuration file to import")
        parser.add_argument("--dry-run", action="store_true", help="report what would change; write nothing")

    def handle(self, *args: Any, tenant: str, action: str, file: str | None, dry_run: bool, **options: Any) -> None:
        found = tenant_or_error(tenant)
        with tenant_context(found):
            if action == "export":
                self.stdout.write(json.dumps(config_export(organization=found.slug, now=timezone.now()), indent=2,
                                             ensure_ascii=False))
                return
            if file is None:
                raise CommandError("import needs the configuration file.")
            with Path(file).open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
            try:
                report = config_import(data=data, dry_run=dry_run, actor_id=None).as_dict()
            except ServiceError as exc:
                raise command_error(exc) from exc
        self.stdout.write("Dry run: nothing was written." if dry_run else f"Imported into {found.slug}.")
        for name, found_entries in report["sections"].items():
            self.stdout.write(f"{SECTION_TITLES[name]}: {len(found_entries[CREATE])} created, "
                              f"{len(found_entries[UPDATE])} updated, {len(found_entries[UNCHANGED])} unchanged")
