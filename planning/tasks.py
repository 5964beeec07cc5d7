"""Thin tasks of the planning app; each runs inside its tenant (pdm_saas/celery.py)."""

from __future__ import annotations

from jobs.services import job_execute
from pdm_saas.celery import app


@app.task(name="planning.tasks.plan_task")
def plan_task(job_id: int) -> None:
    from planning.services import plan_run

    job_execute(job_id=job_id, handler=plan_run)


@app.task(name="planning.tasks.low_stock_notify_task")
def low_stock_notify_task(part_id: int) -> bool:
    from planning.stock_notify import low_stock_notify

    return low_stock_notify(part_id=part_id)


@app.task(name="planning.tasks.preventive_generate_task")
def preventive_generate_task() -> int:
    """Beat sends this to every tenant hourly: a work order for each PM plan occurrence that is due
    (minus its lead time). Safe to run twice: an occurrence is generated once."""
    from planning.preventive import preventive_due_generate

    return preventive_due_generate()
