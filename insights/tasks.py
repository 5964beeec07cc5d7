from __future__ import annotations

from pdm_saas.celery import app


@app.task(name="insights.tasks.weekly_summary_task")
def weekly_summary_task() -> int:
    """Beat sends this to every tenant on PDM_WEEKLY_SUMMARY_WEEKDAY: the weekly summary email,
    once per tenant and week (safe to run twice)."""
    from insights.services import weekly_summary_send

    return weekly_summary_send()
