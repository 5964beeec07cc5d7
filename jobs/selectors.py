from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from jobs.models import Job


def job_list(*, kind: str | None = None) -> QuerySet[Job]:
    """Jobs newest first; of one kind when given."""
    return Job.objects.filter(kind=kind) if kind is not None else Job.objects.all()


def job_get(*, job_id: int | None) -> Job | None:
    """The job, or None (no id, or no such job in this tenant)."""
    return Job.objects.filter(id=job_id).first() if job_id else None


def job_latest(*, kind: str, **params: Any) -> Job | None:
    """The newest job of this kind whose params hold these values (`machine_type_id=3`)."""
    return (Job.objects.filter(kind=kind, **{f"params__{name}": value for name, value in params.items()})
            .order_by("-created_at").first())
