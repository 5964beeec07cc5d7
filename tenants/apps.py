from typing import Any

from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from django.core.signals import request_finished

        from tenants.models import Tenant
        from tenants.row_cache import rows_watch

        # A schema dropped and made again (a test's tenant, a re-signup) must not find the old rows.
        rows_watch(Tenant, schemas_of=lambda tenant: [tenant.schema_name])
        request_finished.connect(_request_finished, dispatch_uid="tenants.row_cache.request_finished")


def _request_finished(sender: Any, **kwargs: Any) -> None:
    from tenants.row_cache import request_scope_reset

    request_scope_reset(in_request=False)  # code after a request reads the tokens afresh again
