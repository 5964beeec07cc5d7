from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from tenants.models import Domain, Tenant
        from tenants.row_cache import rows_watch
        from tenants.schema_names import PUBLIC_SCHEMA

        # A schema dropped and made again (a test's tenant, a re-signup) must not find the old rows;
        # the public schema's token covers the routing cache (a tenant by host, its is_active).
        rows_watch(Tenant, schemas_of=lambda tenant: [tenant.schema_name, PUBLIC_SCHEMA],
                   schemas_of_rows=lambda rows: [*rows.values_list("schema_name", flat=True), PUBLIC_SCHEMA])
        rows_watch(Domain, schemas_of=lambda domain: [PUBLIC_SCHEMA], schemas_of_rows=lambda rows: [PUBLIC_SCHEMA])
