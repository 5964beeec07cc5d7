"""The record every long job leaves behind (tenant schema). The UI, the API and the live
channel read this row; workers write it."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELED = "canceled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)

    kind = models.CharField(max_length=64, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    progress = models.PositiveSmallIntegerField(default=0)  # 0-100
    message = models.CharField(max_length=500, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    params = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=32, default="default")
    attempts = models.PositiveSmallIntegerField(default=0)
    # The Celery task that runs the job: the sweeper sends it again when it requeues a job whose
    # worker died (docs/jobs.md).
    task = models.CharField(max_length=200, blank=True)
    # Jobs that must not overlap (one onboarding per machine type) share a key; the partial unique
    # constraint below lets one of them be queued or running at a time, whoever asks concurrently.
    exclusive_key = models.CharField(max_length=200, blank=True)
    # Users live in the public schema; this table exists once per tenant. No database constraint
    # and DO_NOTHING: deleting a user must not make Django's collector reach into tenant tables
    # (from `public` they don't exist; from one tenant it would miss the others).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.DO_NOTHING, related_name="+",
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["exclusive_key"],
                condition=models.Q(status__in=["queued", "running"]) & ~models.Q(exclusive_key=""),
                name="jobs_one_active_per_exclusive_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}#{self.pk} {self.status} {self.progress}%"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
