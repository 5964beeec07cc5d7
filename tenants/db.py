"""The default connection, typed as django-tenants' wrapper (schema_name, set_tenant, ...).

`django.db.connection` is typed as Django's base wrapper, which knows nothing of schemas; import
`connection` from here wherever the tenant of the connection matters."""

from typing import Any, cast

from django.db import connection as _connection
from django_tenants.postgresql_backend.base import DatabaseWrapper

connection = cast(DatabaseWrapper, _connection)


def tenant_activate(tenant: Any) -> None:
    """`connection.set_tenant(tenant)`, without the `SET search_path` its next query would send
    when the database session is on that search path already: a persistent connection whose
    previous request was the same tenant's. django-tenants forgets the path it set on every
    `set_tenant`, and on close and rollback, so what it still remembers is what the session has."""
    kept = connection.search_path_set_schemas
    connection.set_tenant(tenant)
    if kept is not None and kept == connection._get_cursor_search_paths():
        connection.search_path_set_schemas = kept
