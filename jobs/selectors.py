from __future__ import annotations

from django.db.models import QuerySet

from jobs.models import Job


def job_list() -> QuerySet[Job]:
    return Job.objects.all()
