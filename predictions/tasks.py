"""Thin tasks for onboarding, training, scoring and model monitoring; each runs inside its tenant.
The alert and webhook tasks are maintenance's (maintenance/tasks.py)."""

from __future__ import annotations

import logging

from billing.access import tenant_standing
from jobs.services import job_execute
from pdm_saas.celery import app
from pdm_saas.monitoring.fleet import scheduled_scoring_observe
from tenants.db import connection

logger = logging.getLogger(__name__)


@app.task(name="predictions.tasks.onboarding_task")
def onboarding_task(job_id: int) -> None:
    from predictions.services.training import onboarding_run  # keeps the ML stack out of web start-up

    job_execute(job_id=job_id, handler=onboarding_run)


@app.task(name="predictions.tasks.real_training_task")
def real_training_task(job_id: int) -> None:
    from predictions.services.real_training import real_training_run

    job_execute(job_id=job_id, handler=real_training_run)


@app.task(name="predictions.tasks.search_trials_task")
def search_trials_task(job_id: int, search: int) -> int:
    """Help a running job's model search: train the candidates this worker can claim."""
    from predictions.services.search_workers import search_trials_help

    return search_trials_help(job_id=job_id, search=search)


@app.task(name="predictions.tasks.synthesis_task")
def synthesis_task(job_id: int) -> None:
    from predictions.services.synthesis import synthesis_run

    job_execute(job_id=job_id, handler=synthesis_run)


@app.task(name="predictions.tasks.fleet_score_task")
def fleet_score_task(machine_type_id: int | None = None) -> int:
    """Beat sends this to every tenant (see FLEET_SCORE_MINUTES); an upload sends it for its type.
    A tenant or type without models is a no-op, and so is a read-only tenant (its subscription
    lapsed, docs/billing.md): scoring makes billable predictions nobody is paying for."""
    from predictions.services.scoring import fleet_score

    standing = tenant_standing(tenant_id=connection.tenant.id)
    if machine_type_id is None:  # beat's run over the whole fleet: what it should score (docs/monitoring.md)
        scheduled_scoring_observe(read_only=standing.read_only)
    if standing.read_only:
        logger.info("Scheduled scoring skipped in %s: %s", connection.schema_name, standing.notice)
        return 0
    # Beat's runs score only what is new (nothing is billed twice for the same readings); an
    # upload's run scores its type's machines whatever the readings' times (a backfill is new too).
    return len(fleet_score(machine_type_id=machine_type_id, only_new=machine_type_id is None))


@app.task(name="predictions.tasks.drift_check_task")
def drift_check_task(job_id: int) -> None:
    """On demand (API, model page): one version's drift report and outcome snapshot, as a job."""
    from predictions.services.drift import drift_check_run

    job_execute(job_id=job_id, handler=drift_check_run)


@app.task(name="predictions.tasks.models_monitor_task")
def models_monitor_task() -> int:
    """Beat sends this to every tenant every PDM_DRIFT_CHECK_DAYS days: drift reports and outcome
    snapshots of every champion classifier (a no-op without models), then the champion /
    challenger steps."""
    from predictions.services.challenger.monitor import challengers_monitor
    from predictions.services.drift import models_monitor

    checked = len(models_monitor())
    challengers_monitor()  # after the drift checks: rollbacks, challenger decisions, retrains on new labels
    return checked


@app.task(name="predictions.tasks.challenger_train_task")
def challenger_train_task(job_id: int) -> None:
    """A retrain whose result is a challenger in shadow (predictions/services/challenger/retraining.py)."""
    from predictions.services.challenger.retraining import challenger_train_run

    job_execute(job_id=job_id, handler=challenger_train_run)
