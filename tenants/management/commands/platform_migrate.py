"""Migrate everything in the right order: public schema, the tenant template, every tenant."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from tenants.provisioning import spare_pool_fill, template_schema_sync
from tenants.services import tenant_public_ensure


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--executor", default="standard", choices=["standard", "multiprocessing", "subprocess"],
            help="django-tenants executor for the tenant schemas (multiprocessing for many tenants).",
        )

    def handle(self, *args: Any, executor: str, verbosity: int, **options: Any) -> None:
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)
        tenant_public_ensure()
        self.stdout.write("Migrating the tenant template schema…")
        template_schema_sync(verbosity=verbosity)
        self.stdout.write("Migrating tenant schemas…")
        call_command("migrate_schemas", tenant=True, interactive=False, executor=executor, verbosity=verbosity)
        created = spare_pool_fill(target=settings.TENANT_SPARE_SCHEMAS)
        self.stdout.write(f"Spare schemas for fast signups: {created} created.")
        self.stdout.write(self.style.SUCCESS("All schemas are migrated."))
