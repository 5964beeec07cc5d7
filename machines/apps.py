from django.apps import AppConfig


class MachinesConfig(AppConfig):
    name = "machines"
    verbose_name = "Machines"

    def ready(self) -> None:
        from jobs.kinds import JobKind, kind_register
        from machines.models import FailureEvent, Machine, MachineType
        from tenants.row_cache import rows_watch

        # Scoring keeps the type's slots and failure events (with their machines' names) per
        # process (tenants/row_cache.py).
        for model in (MachineType, Machine, FailureEvent):
            rows_watch(model)

        # An upload is all or nothing (one transaction), so a lost worker costs a retry, not the
        # file: up to three runs before it fails (docs/jobs.md).
        kind_register(JobKind(name="sensor.upload", max_attempts=3,
                              on_failed="machines.upload_processing.upload_job_failed",
                              on_requeued="machines.upload_processing.upload_job_requeued"))
