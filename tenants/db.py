"""The default connection, typed as django-tenants' wrapper (schema_name, set_tenant, ...).

`django.db.connection` is typed as Django's base wrapper, which knows nothing of schemas; import
`connection` from here wherever the tenant of the connection matters."""

from typing import cast

from django.db import connection as _connection
from django_tenants.postgresql_backend.base import DatabaseWrapper

connection = cast(DatabaseWrapper, _connection)
