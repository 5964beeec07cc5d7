"""What happens to each kind of job when its worker dies or it fails (docs/jobs.md).

The app that owns a kind registers it in its AppConfig.ready(): how many deliveries a lost worker
may cost before the job fails, and the function that removes what a failed run left behind. The
cleanup is named by dotted path so that `jobs` imports no other app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

if TYPE_CHECKING:
    from jobs.models import Job


@dataclass(frozen=True)
class JobKind:
    name: str
    # Runs a lost worker may cost: above 1 only for jobs that are safe to run again from the start
    # (all-or-nothing work, such as an upload stored in one transaction).
    max_attempts: int = 1
    # `fn(job)`: undo a failed run's partial work (rows, files). Must be idempotent: it runs after
    # a handler's exception and after the sweeper fails a job, and may run again after a crash.
    on_failed: str | None = None
    # `fn(job)`: put the job's subject back as "waiting" before the sweeper sends it again.
    on_requeued: str | None = None

    def failed_cleanup(self) -> Callable[[Job], None] | None:
        return import_string(self.on_failed) if self.on_failed else None

    def requeued_hook(self) -> Callable[[Job], None] | None:
        return import_string(self.on_requeued) if self.on_requeued else None


_kinds: dict[str, JobKind] = {}


def kind_register(kind: JobKind) -> None:
    _kinds[kind.name] = kind


def kind_get(name: str) -> JobKind:
    """Unregistered kinds are failed, not retried, when their worker dies: the safe default."""
    return _kinds.get(name) or JobKind(name=name)
