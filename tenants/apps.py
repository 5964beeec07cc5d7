from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from tenants.models import Tenant
        from tenants.row_cache import rows_watch

        # A schema dropped and made again (a test's tenant, a re-signup) must not find the old rows.
        rows_watch(Tenant, schemas_of=lambda tenant: [tenant.schema_name])
