from typing import Any

from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "maintenance"
    verbose_name = "Maintenance"

    def ready(self) -> None:
        from machines.signals import machine_type_created
        from maintenance.models import AlertRule
        from tenants.row_cache import rows_watch

        rows_watch(AlertRule)  # scoring keeps the rules per process (tenants/row_cache.py)
        machine_type_created.connect(machine_type_checklists_seed, dispatch_uid="maintenance.checklists_seed")


def machine_type_checklists_seed(sender: Any, *, machine_type: Any, **kwargs: Any) -> None:
    """A type adopted or imported starts with a checklist per failure mode from its recommended
    actions, in the transaction that created it."""
    from maintenance.services.checklists import checklist_templates_seed

    checklist_templates_seed(machine_type_id=machine_type.id)
