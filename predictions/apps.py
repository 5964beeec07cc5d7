from typing import Any

from django.apps import AppConfig


class PredictionsConfig(AppConfig):
    name = "predictions"
    verbose_name = "Predictions"

    def ready(self) -> None:
        from jobs.kinds import JobKind, kind_register
        from machines.signals import readings_changed
        from predictions.models import ModelVersion
        from tenants.row_cache import rows_watch

        rows_watch(ModelVersion)  # champions and challengers, kept per process (tenants/row_cache.py)

        readings_changed.connect(readings_changed_score, dispatch_uid="predictions.readings_changed_score")

        # Training and synthesis are not retried after a lost worker: they take minutes of CPU and
        # a worker that died of memory would die again. They fail, and what they wrote goes: the
        # datasets, synthesizer and model files and versions of that job. An onboarding's first
        # models are champions only where the type had none, so removing them restores no older
        # champion and breaks none (docs/jobs.md).
        cleanup = "predictions.services.registry.failed_job_artifacts_remove"
        for name in ("models.onboard", "datasets.synthesize"):
            kind_register(JobKind(name=name, max_attempts=1, on_failed=cleanup))
        # Real-data training: the versions it registered stay (candidates, or champions it already
        # promoted); what goes is the model search's study and files, on which helpers may wait.
        kind_register(JobKind(name="models.train_real", max_attempts=1,
                               on_failed="predictions.services.search_workers.search_leftovers_remove"))


def readings_changed_score(sender: Any, *, machine_type_id: int, schema_name: str, **kwargs: Any) -> None:
    """Readings stored or removed (and committed): score the type's machines now rather than at the
    next scheduled run, so the dashboard shows them seconds later (a type without models is a
    no-op); the task carries the tenant the readings belong to."""
    from pdm_saas.celery import tenant_task_apply
    from predictions.tasks import fleet_score_task

    tenant_task_apply(fleet_score_task, args=[machine_type_id], queue="score", schema_name=schema_name)
