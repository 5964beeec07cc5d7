from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "maintenance"
    verbose_name = "Maintenance"

    def ready(self) -> None:
        from maintenance.models import AlertRule
        from tenants.row_cache import rows_watch

        rows_watch(AlertRule)  # scoring keeps the rules per process (tenants/row_cache.py)
