"""Fast creation of tenant schemas by cloning a migrated template.

django-tenants' default path creates an empty schema and runs every tenant migration in it,
which takes tens of seconds per tenant and grows with the migration history. Instead we keep
one schema, `settings.TENANT_TEMPLATE_SCHEMA`, migrated to the current state, and copy it
(tables, sequences, indexes, constraints and the rows of `django_migrations`) with the
`clone_schema` SQL function that django-tenants ships. The copy runs inside the caller's
transaction, so a failed signup leaves no half-made schema behind.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_exists

from tenants.db import connection
from tenants.schema_names import PUBLIC_SCHEMA


class TemplateMissing(RuntimeError):
    """The template schema does not exist: run `manage.py platform_migrate`."""


def template_schema_name() -> str:
    return settings.TENANT_TEMPLATE_SCHEMA


def template_schema_sync(*, verbosity: int = 0) -> None:
    """Create the template schema if needed and apply every pending tenant migration to it."""
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA IF NOT EXISTS "{template_schema_name()}"')
    call_command(
        "migrate_schemas",
        tenant=True,
        schema_name=template_schema_name(),
        interactive=False,
        verbosity=verbosity,
    )
    connection.set_schema_to_public()


def schema_clone_from_template(*, schema_name: str) -> None:
    """Create `schema_name` as a copy of the template, in the current transaction."""
    if schema_name == PUBLIC_SCHEMA or schema_name == template_schema_name():
        raise ValueError(f"refusing to clone onto {schema_name!r}")
    if not schema_exists(template_schema_name()):
        raise TemplateMissing(
            f"template schema {template_schema_name()!r} is missing: run `manage.py platform_migrate`"
        )
    CloneSchema().clone_schema(template_schema_name(), schema_name, clone_mode="DATA")


def schema_drop(*, schema_name: str) -> None:
    if schema_name in (PUBLIC_SCHEMA, template_schema_name()):
        raise ValueError(f"refusing to drop {schema_name!r}")
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')
