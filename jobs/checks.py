"""System checks for the settings that decide how fast a job whose worker died is recovered
(docs/jobs.md)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, Warning, register

RECOVERY_LIMIT_SECONDS = 120


@register()
def job_recovery_settings_check(app_configs: Any, **kwargs: Any) -> list[Any]:
    beat, stale, sweep = settings.JOB_HEARTBEAT_SECONDS, settings.JOB_STALE_AFTER_SECONDS, settings.JOB_SWEEP_SECONDS
    problems: list[Any] = []
    if stale < 4 * beat:
        problems.append(Warning(
            f"JOB_STALE_AFTER_SECONDS ({stale}) is under four heartbeats ({beat} s each): a slow query or a "
            "pause would make a live job look dead, and the sweeper would run it twice.", id="jobs.W001"))
    if stale + sweep > RECOVERY_LIMIT_SECONDS:
        problems.append(Warning(
            f"A job whose worker died is recovered up to {stale + sweep} s later "
            f"(JOB_STALE_AFTER_SECONDS + JOB_SWEEP_SECONDS), over {RECOVERY_LIMIT_SECONDS} s.", id="jobs.W002"))
    visibility = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout", 3600)
    if visibility <= settings.CELERY_TASK_TIME_LIMIT:
        problems.append(Error(
            f"CELERY_VISIBILITY_TIMEOUT ({visibility} s) is not above the task time limit "
            f"({settings.CELERY_TASK_TIME_LIMIT} s): Redis would hand running tasks to a second worker.",
            id="jobs.E001"))
    return problems
