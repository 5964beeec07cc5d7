"""A model search's candidates trained by every `train` worker, through Optuna's database storage.

The job running a search (the lead) proposes candidates in batches (`engine.training.search`,
`BATCH`). With `SharedTrials` as the search's pool, each batch goes into an Optuna study kept in
PostgreSQL (schema `model_search`, beside the tenants' schemas), one waiting trial per candidate,
and helper tasks on the `train` queue (`search_trials_task`) train whichever candidates they claim,
as the lead does, until the batch is done. Claiming is Optuna's own: a trial moves from waiting to
running in one conditional update, so two processes never train the same candidate.

The lead waits for nobody: it trains waiting candidates itself, so a search finishes with no
helper at all, and a candidate whose helper stopped sending heartbeats (killed, out of memory)
is failed by `optuna.storages.fail_stale_trials` and trained by the lead. Training a candidate is
deterministic, so the result is the same whoever trained what.

Tenancy: the problem (features and labels) is written under the tenant's own folder and the study
is named after the tenant's schema and the job. A helper task runs inside its message's tenant
(`pdm_saas.celery`), looks the job up in that tenant's schema and derives both names from it:
another tenant's helper finds no job, no file and no study.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connections

from engine.training.search import BATCH, Candidate, Problem, Trial, evaluate
from jobs.models import Job
from predictions.services.registry import artifact_read, artifact_write
from tenants.db import connection
from tenants.storage import tenant_path

logger = logging.getLogger(__name__)

SCHEMA = "model_search"  # tenant schemas start with t_ (tenants.schema_names), so never a tenant's
HEARTBEAT_S = 5
GRACE_S = 30  # a running candidate without a heartbeat for this long is failed and retrained
HELPER_IDLE_S = 300.0  # a helper with nothing to claim for this long leaves (the lead carries on)
POLL_S = 0.05


def study_name(schema_name: str, job_id: int, search: int) -> str:
    return f"{schema_name}.job{job_id}.search{search}"


def problem_path(job_id: int, search: int) -> str:
    # Under "search/" with the job's prefix: job_artifacts_remove finds it after a failed job.
    return f"search/job{job_id}-{search}.npz"


@cache
def search_storage(grace_s: int = GRACE_S) -> Any:
    """Optuna's RDB storage on our own PostgreSQL database, in its own schema; one per process."""
    import optuna
    import sqlalchemy

    db = connections["default"].settings_dict
    host = db["HOST"] or "127.0.0.1"
    url = sqlalchemy.URL.create(
        "postgresql+psycopg", username=db["USER"] or None, password=db["PASSWORD"] or None,
        host=None if host.startswith("/") else host, port=int(db["PORT"]) if db["PORT"] else None,
        database=db["NAME"], query={"host": host} if host.startswith("/") else {},
    )
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn, suppress(sqlalchemy.exc.IntegrityError):  # a second process won the race
        conn.execute(sqlalchemy.text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    engine.dispose()
    optuna.logging.set_verbosity(logging.WARNING)
    # Heartbeats and fail_stale_trials are marked experimental since Optuna 2.9; we pin Optuna.
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    return optuna.storages.RDBStorage(
        url.render_as_string(hide_password=False),
        engine_kwargs={"connect_args": {"options": f"-c search_path={SCHEMA}"}, "pool_pre_ping": True},
        heartbeat_interval=HEARTBEAT_S, grace_period=grace_s,
    )


@dataclass
class SharedTrials:
    """A `TrialPool` that shares each batch with `helpers` helper tasks. One per job; each search
    the job runs (remaining life, failure classifier) gets its own study and problem file."""

    job_id: int
    helpers: int
    lead_trains: bool = True  # False only to prove, in tests, that helpers do the training
    wait_s: float = GRACE_S  # with lead_trains False: how long a candidate may wait unclaimed
    grace_s: int = GRACE_S
    searches: int = 0
    _problem: Problem | None = field(default=None, repr=False)
    _study_id: int | None = None

    def __call__(self, problem: Problem, candidates: Sequence[Candidate]) -> list[Trial]:
        if problem is not self._problem:
            self._open(problem)
        storage, study_id = search_storage(self.grace_s), self._open_study_id()
        for candidate in candidates:
            _enqueue(storage, study_id, candidate)
        return self._collect(problem, {c.number for c in candidates})

    def close(self) -> None:
        """Delete the current study and problem file: helpers still waiting leave."""
        if self._study_id is None:
            return
        import optuna

        with suppress(KeyError):
            optuna.delete_study(study_name=study_name(connection.schema_name, self.job_id, self.searches),
                                storage=search_storage(self.grace_s))
        tenant_path(connection.schema_name, *problem_path(self.job_id, self.searches).split("/")).unlink(
            missing_ok=True)
        self._problem, self._study_id = None, None

    def _open_study_id(self) -> int:
        if self._study_id is None:
            raise RuntimeError("no search is open")
        return self._study_id

    def _open(self, problem: Problem) -> None:
        import optuna

        self.close()
        self.searches += 1
        name = study_name(connection.schema_name, self.job_id, self.searches)
        storage = search_storage(self.grace_s)
        with suppress(KeyError):  # left by an earlier delivery of this job that died
            optuna.delete_study(study_name=name, storage=storage)
        artifact_write(problem_path(self.job_id, self.searches), problem.to_bytes())
        direction = optuna.study.StudyDirection[problem.objective.direction.upper()]
        self._study_id = storage.create_new_study([direction], name)
        self._problem = problem
        from pdm_saas.celery import tenant_task_send
        from predictions.tasks import search_trials_task  # tasks import services, not the reverse

        for _ in range(self.helpers):
            tenant_task_send(search_trials_task, args=[self.job_id, self.searches], queue="train")

    def _collect(self, problem: Problem, pending: set[int]) -> list[Trial]:
        import optuna
        from optuna.trial import TrialState

        storage, study_id = search_storage(self.grace_s), self._open_study_id()
        # Loaded once: fail_stale_trials only reads its storage and id, and polls run 20 times a second.
        study = optuna.load_study(study_name=storage.get_study_name_from_id(study_id), storage=storage)
        results: dict[int, Trial] = {}
        waited_since = time.monotonic()
        while pending - results.keys():
            claimed = None
            if self.lead_trains or time.monotonic() - waited_since > self.wait_s:
                claimed = _claim(storage, study_id)
            if claimed is not None:
                _train_and_record(storage, claimed, problem)
            optuna.storages.fail_stale_trials(study)
            for trial in storage.get_all_trials(study_id, deepcopy=False):
                number = trial.user_attrs["candidate"]["number"]
                if number not in pending or number in results:
                    continue
                if trial.state == TrialState.COMPLETE:
                    results[number] = Trial.from_json(trial.user_attrs["result"])
                elif trial.state == TrialState.FAIL:  # its helper died: train it here
                    logger.warning("search job %s: candidate %s lost its worker; training it here",
                                   self.job_id, number)
                    results[number] = evaluate(problem, _candidate(trial))
            if claimed is None and pending - results.keys():
                time.sleep(POLL_S)
        return [results[number] for number in sorted(pending)]


def search_leftovers_remove(job: Job) -> None:
    """`on_failed` of real-data training (jobs/kinds.py): a lead that died leaves its studies and
    problem files; remove them so no helper waits on them. Idempotent."""
    import optuna

    storage = search_storage()
    prefix = study_name(connection.schema_name, job.id, 0)[: -len("0")]
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        if summary.study_name.startswith(prefix):
            with suppress(KeyError):
                optuna.delete_study(study_name=summary.study_name, storage=storage)
    for path in tenant_path(connection.schema_name, "search").glob(f"job{job.id}-*.npz"):
        path.unlink(missing_ok=True)


def search_trials_help(*, job_id: int, search: int, idle_s: float = HELPER_IDLE_S) -> int:
    """A helper task's work: train the candidates it can claim in the job's search until the
    search ends or nothing has come for `idle_s`. Returns how many it trained."""
    if not Job.objects.filter(id=job_id, status=Job.Status.RUNNING).exists():
        return 0  # finished, failed, or not this tenant's job
    storage = search_storage()
    try:
        study_id = storage.get_study_id_from_name(study_name(connection.schema_name, job_id, search))
        problem = Problem.from_bytes(artifact_read(problem_path(job_id, search)))
    except Exception as exc:  # noqa: BLE001 - the search ended before this helper started
        logger.info("search helper for job %s/%s: nothing to do (%s)", job_id, search, type(exc).__name__)
        return 0
    trained, idle_since = 0, time.monotonic()
    while time.monotonic() - idle_since < idle_s:
        try:
            claimed = _claim(storage, study_id)
            if claimed is None:
                time.sleep(POLL_S * 2)
                continue
            trained += _train_and_record(storage, claimed, problem)
        except KeyError:  # the lead closed the study: the search is over
            break
        idle_since = time.monotonic()
    return trained


def helpers_for_search() -> int:
    """How many helper tasks a search sends: settings.MODEL_SEARCH_HELPERS, or with "auto" one
    per other process consuming the `train` queue (the lead holds one), at most BATCH - 1."""
    configured = settings.MODEL_SEARCH_HELPERS
    if configured != "auto":
        return max(0, min(int(configured), BATCH - 1))
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return 0  # an eager helper would run inline and wait for work that never comes
    return max(0, min(train_slots() - 1, BATCH - 1))


def train_slots() -> int:
    """Processes consuming the `train` queue, asked of the workers (0 when none answers)."""
    from pdm_saas.celery import app

    inspector = app.control.inspect(timeout=0.5)
    queues = inspector.active_queues() or {}
    consuming = [worker for worker, listed in queues.items() if any(q.get("name") == "train" for q in listed)]
    if not consuming:
        return 0
    stats = inspector.stats() or {}
    return sum(int(stats.get(worker, {}).get("pool", {}).get("max-concurrency", 1)) for worker in consuming)


@contextmanager
def shared_trials(*, job_id: int | None) -> Iterator[SharedTrials | None]:
    """The pool a job's searches use: shared with helpers when other train processes exist,
    else None (the search trains every candidate itself). Closed when the job ends."""
    helpers = helpers_for_search() if job_id is not None else 0
    if job_id is None or helpers == 0:
        yield None
        return
    pool = SharedTrials(job_id=job_id, helpers=helpers)
    try:
        yield pool
    finally:
        pool.close()


def _enqueue(storage: Any, study_id: int, candidate: Candidate) -> None:
    from optuna.trial import TrialState, create_trial

    # A template trial in the waiting state: Optuna's own queue of trials to run.
    template = create_trial(state=TrialState.WAITING, params={}, distributions={},
                            user_attrs={"candidate": {"number": candidate.number, "learner": candidate.learner,
                                                      "params": candidate.params}})
    storage.create_new_trial(study_id, template_trial=template)


def _claim(storage: Any, study_id: int) -> int | None:
    """The id of a waiting trial this process moved to running, or None (as Optuna's own
    `Study._pop_waiting_trial_id`: the state change fails for all but one claimant)."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.WAITING,)):
        with suppress(UpdateFinishedTrialError):
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
                return int(trial._trial_id)
    return None


def _candidate(trial: Any) -> Candidate:
    data = trial.user_attrs["candidate"]
    return Candidate(int(data["number"]), str(data["learner"]), dict(data["params"]))


def _train_and_record(storage: Any, trial_id: int, problem: Problem) -> int:
    """Train a claimed candidate with heartbeats beside it and record the result; 0 when the
    trial was failed as stale meanwhile (the lead trains it again)."""
    from optuna.exceptions import UpdateFinishedTrialError
    from optuna.trial import TrialState

    candidate = _candidate(storage.get_trial(trial_id))
    with _heartbeat(storage, trial_id):
        trial = evaluate(problem, candidate)
    try:
        storage.set_trial_user_attr(trial_id, "result", trial.to_json())
        storage.set_trial_state_values(trial_id, state=TrialState.COMPLETE,
                                       values=[problem.objective.value(trial.scores)])
    except UpdateFinishedTrialError:
        return 0
    return 1


@contextmanager
def _heartbeat(storage: Any, trial_id: int) -> Iterator[None]:
    stop = threading.Event()

    def beat() -> None:
        while True:
            with suppress(Exception):  # a missed beat only risks a retrain, never a wrong result
                storage.record_heartbeat(trial_id)
            if stop.wait(HEARTBEAT_S):
                return

    thread = threading.Thread(target=beat, name=f"search-heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
