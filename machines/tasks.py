"""Thin tasks: take ids, call a service, run inside their tenant."""

from __future__ import annotations

from jobs.services import job_execute
from machines.upload_processing import upload_process
from pdm_saas.celery import app


@app.task(name="machines.tasks.upload_process_task")
def upload_process_task(job_id: int) -> None:
    job_execute(job_id=job_id, handler=upload_process)
