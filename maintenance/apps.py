from typing import Any

from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "maintenance"
    verbose_name = "Maintenance"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from machines.signals import machine_type_created
        from maintenance.models import AlertRule, Photo
        from tenants.row_cache import rows_watch

        rows_watch(AlertRule)  # scoring keeps the rules per process (tenants/row_cache.py)
        # A photo's files go with its row however it is deleted: cascades (a deleted machine or
        # work order) never pass through the photo service.
        post_delete.connect(_photo_deleted, sender=Photo, dispatch_uid="maintenance.photo_files")
        machine_type_created.connect(machine_type_checklists_seed, dispatch_uid="maintenance.checklists_seed")


def _photo_deleted(sender: type, instance: object, **kwargs: object) -> None:
    from maintenance.photos import photo_files_remove_on_commit

    photo_files_remove_on_commit(instance)  # type: ignore[arg-type]


def machine_type_checklists_seed(sender: Any, *, machine_type: Any, **kwargs: Any) -> None:
    """A type adopted or imported starts with a checklist per failure mode from its recommended
    actions, in the transaction that created it."""
    from maintenance.services.checklists import checklist_templates_seed

    checklist_templates_seed(machine_type_id=machine_type.id)
