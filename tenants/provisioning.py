"""Fast creation of tenant schemas: a warm pool of spare schemas, cloned from a migrated template.

django-tenants' default path creates an empty schema and runs every tenant migration in it, a
cost that grows with every model and migration the tenant apps gain (0.34 s for today's 22
tenant migrations; users of larger apps report 30-40 s). Instead we keep one
schema, `settings.TENANT_TEMPLATE_SCHEMA`, migrated to the current state, and copy it (tables,
sequences, indexes, constraints and the rows of `django_migrations`) with the `clone_schema` SQL
function that django-tenants ships.

Cloning reads pg_catalog object by object, so it slows down as tenants accumulate (measured in
benchmarks/tenant_provision.py). Signup therefore takes a *spare*: a schema cloned ahead of time
by a background task, which it only renames (`ALTER SCHEMA ... RENAME`, constant time). When no
spare matches the current template, signup clones inline. Either way the work runs in the
caller's transaction, so a failed signup leaves no half-made schema behind.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django_tenants.clone import CloneSchema
from django_tenants.utils import schema_exists

from tenants.db import connection
from tenants.models import SpareSchema
from tenants.schema_names import PUBLIC_SCHEMA

SPARE_PREFIX = "spare_"


class TemplateMissing(RuntimeError):
    """The template schema does not exist: run `manage.py platform_migrate`."""


class InstalledCloneSchema(CloneSchema):
    """django-tenants re-creates its ~4,500-line `clone_schema` SQL function before every clone:
    25-50 ms each time, and each compiled copy stays in the backend's memory (~11 MiB per clone,
    measured). We install it once, in `template_schema_sync`, and reuse it."""

    def _create_clone_schema_function(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regproc('public.clone_schema') IS NOT NULL")
            if not cursor.fetchone()[0]:
                clone_function_install()


def clone_function_install() -> None:
    """Create or replace the clone function (after a django-tenants upgrade, for instance)."""
    CloneSchema()._create_clone_schema_function()


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
    clone_function_install()


def template_fingerprint() -> str:
    """Which migrations the template has: spares cloned from another state are stale."""
    if not schema_exists(template_schema_name()):
        raise TemplateMissing(
            f"template schema {template_schema_name()!r} is missing: run `manage.py platform_migrate`"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT md5(coalesce(string_agg(app || \'.\' || name, \',\' ORDER BY app, name), \'\')) '
            f'FROM "{template_schema_name()}".django_migrations'
        )
        return str(cursor.fetchone()[0])


def schema_clone_from_template(*, schema_name: str) -> None:
    """Create `schema_name` as a copy of the template, in the current transaction."""
    if schema_name == PUBLIC_SCHEMA or schema_name == template_schema_name():
        raise ValueError(f"refusing to clone onto {schema_name!r}")
    template_fingerprint()  # raises TemplateMissing with instructions
    InstalledCloneSchema().clone_schema(template_schema_name(), schema_name, clone_mode="DATA")


def schema_drop(*, schema_name: str) -> None:
    if schema_name in (PUBLIC_SCHEMA, template_schema_name()):
        raise ValueError(f"refusing to drop {schema_name!r}")
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{schema_name}" CASCADE')


def schema_provision(*, schema_name: str) -> str:
    """Give `schema_name` a fresh tenant schema: rename a spare if one matches the current
    template, else clone. Returns "spare" or "clone". Runs in the caller's transaction."""
    fingerprint = template_fingerprint()
    spare = (
        SpareSchema.objects.select_for_update(skip_locked=True)  # concurrent signups take different spares
        .filter(template_fingerprint=fingerprint)
        .first()
    )
    if spare is None:
        schema_clone_from_template(schema_name=schema_name)
        return "clone"
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER SCHEMA "{spare.name}" RENAME TO "{schema_name}"')
    spare.delete()
    return "spare"


def spare_pool_fill(*, target: int) -> int:
    """Drop spares of an older template, then clone until `target` spares are ready. Safe to
    run concurrently and repeatedly; returns how many it created."""
    fingerprint = template_fingerprint()
    for stale in SpareSchema.objects.exclude(template_fingerprint=fingerprint):
        with transaction.atomic():
            schema_drop(schema_name=stale.name)
            stale.delete()
    created = 0
    while SpareSchema.objects.filter(template_fingerprint=fingerprint).count() < target:
        with transaction.atomic():
            name = f"{SPARE_PREFIX}{secrets.token_hex(8)}"
            schema_clone_from_template(schema_name=name)
            SpareSchema.objects.create(name=name, template_fingerprint=fingerprint)
        created += 1
    return created
