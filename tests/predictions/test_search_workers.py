"""A model search's candidates trained by other worker processes through Optuna's database
storage (issue 14, roadmap item 5): the same result as a search alone, a candidate whose helper
died trained again by the lead, and a helper of another tenant finding nothing to do."""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from django.conf import settings
from django.test import override_settings
from django_tenants.utils import tenant_context
from optuna.trial import TrialState

from engine.training.search import Candidate, Problem, SearchOutcome, SearchSettings, search_regressor
from jobs.kinds import kind_get
from jobs.models import Job
from predictions.services.search_workers import (
    SharedTrials,
    _claim,
    _enqueue,
    problem_path,
    search_storage,
    search_trials_help,
    shared_trials,
    study_name,
    train_slots,
)
from tenants.services import tenant_signup
from tenants.storage import tenant_path
from tests.conftest import committed_tenant_drop

from ..live import process, python_bin

pytestmark = pytest.mark.live

TRIALS = 6  # two batches: the second proposed from the first's results


@pytest.fixture(scope="module")
def kramerica(world, django_db_blocker):
    """A tenant of its own (committed): a worker process reads what the test writes. Dropped after
    this module, so that no later test meets it (tests/web/test_browser_insights.py signs up a
    `vandelay` of its own)."""
    with django_db_blocker.unblock():
        tenant = tenant_signup(organization_name="Kramerica Industries", slug="kramerica",
                               owner_email="owner@kramerica.test", owner_password="Correct-Horse-42").tenant
    yield tenant
    with django_db_blocker.unblock():
        committed_tenant_drop(tenant, emails=["owner@kramerica.test"])


@pytest.fixture
def committed(kramerica, world, django_db_blocker) -> Iterator[Any]:
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    with django_db_blocker.unblock():
        yield kramerica


def problem() -> Problem:
    """A small regression problem: remaining life from a few noisy wear signals."""
    rng = np.random.default_rng(7)
    rows = 2_000
    features = rng.normal(size=(rows, 6))
    target = 50 + 20 * features[:, 0] - 10 * features[:, 1] ** 2 + rng.normal(0, 3, rows)
    machine = np.arange(rows) // 100
    return Problem(features, target, machine % 5 < 4, machine % 5 == 4, [f"s{i}" for i in range(6)], 0)


def search(pool: SharedTrials | None) -> SearchOutcome:
    data = problem()
    return search_regressor(data.features, data.target, data.train, data.validation, data.names, seed=0,
                            settings=SearchSettings(budget_s=600, max_trials=TRIALS, pool=pool))


@functools.cache
def search_alone() -> SearchOutcome:
    return search(None)


def same_search(a: SearchOutcome, b: SearchOutcome) -> None:
    """Same candidates, same scores, same winner, same trees."""
    def board(outcome: SearchOutcome) -> list[dict[str, Any]]:
        return [{k: v for k, v in row.items() if k not in ("seconds", "worker")} for row in outcome.leaderboard]

    assert board(a) == board(b) and a.winner == b.winner
    data = problem()
    np.testing.assert_array_equal(a.model.predict(data.features), b.model.predict(data.features))


def running_job(tenant, **fields: Any) -> Job:
    with tenant_context(tenant):
        return Job.objects.create(kind="models.train_real", status=Job.Status.RUNNING, **fields)


@contextmanager
def train_worker(log: Path) -> Iterator[Any]:
    args = [python_bin("celery"), "-A", "pdm_saas", "worker", "-Q", "train", "-P", "solo", "-l", "info",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with process(args, log=log, ready=lambda text: " ready." in text) as (child, _):
        yield child


def test_candidates_trained_by_a_helper_worker_give_the_search_a_process_alone_gives(committed, tmp_path):
    alone = search_alone()
    job = running_job(committed)
    assert train_slots() == 0, "a train worker is already running"
    with train_worker(tmp_path / "worker.log"), tenant_context(committed):
        assert train_slots() == 1  # what "auto" counts: processes consuming the train queue
        # The lead trains nothing itself here, so every candidate proves the helper's path.
        pool = SharedTrials(job_id=job.id, helpers=1, lead_trains=False, wait_s=120)
        try:
            helped = search(pool)
        finally:
            pool.close()
        assert not tenant_path(committed.schema_name, *problem_path(job.id, 1).split("/")).exists()
    same_search(alone, helped)
    lead = f":{os.getpid()}"
    assert len(helped.trials) == TRIALS and all(not t.worker.endswith(lead) for t in helped.trials), \
        [t.worker for t in helped.trials]
    with pytest.raises(KeyError):  # closed: no study left behind in the shared schema
        search_storage().get_study_id_from_name(study_name(committed.schema_name, job.id, 1))


def test_a_candidate_whose_helper_died_is_trained_again_by_the_lead(committed):
    alone = search_alone()
    job = running_job(committed)
    claimed: list[int] = []

    def dying_helper() -> None:
        """Claims one candidate, beats once, then goes silent, as a killed worker does."""
        storage = search_storage(1)
        deadline = time.monotonic() + 60
        while not claimed and time.monotonic() < deadline:
            try:
                study_id = storage.get_study_id_from_name(study_name(committed.schema_name, job.id, 1))
                trial_id = _claim(storage, study_id)
            except KeyError:
                trial_id = None
            if trial_id is not None:
                storage.record_heartbeat(trial_id)
                claimed.append(trial_id)
            time.sleep(0.02)

    helper = threading.Thread(target=dying_helper)
    with tenant_context(committed):
        pool = SharedTrials(job_id=job.id, helpers=0, lead_trains=False, wait_s=3, grace_s=1)
        helper.start()
        try:
            recovered = search(pool)
        finally:
            pool.close()
            helper.join()
    assert claimed, "the dying helper never claimed a candidate"
    same_search(alone, recovered)


def test_a_helper_of_another_tenant_finds_nothing_to_train(committed, world):
    # Job ids are per schema: the other tenant has a running job with the very same id.
    job, theirs = running_job(committed, id=900_001), running_job(world.globex, id=900_001)
    storage = search_storage()
    with tenant_context(committed):
        pool = SharedTrials(job_id=job.id, helpers=0)
        pool._open(problem())  # a search open with a candidate waiting, as between two batches
        study_id = storage.get_study_id_from_name(study_name(committed.schema_name, job.id, 1))
        _enqueue(storage, study_id, Candidate(0, "xgboost", {"max_depth": 3}))
    try:
        with tenant_context(world.globex):
            assert search_trials_help(job_id=theirs.id, search=1, idle_s=0.5) == 0
        waiting = storage.get_all_trials(study_id, states=(TrialState.WAITING,))
        assert len(waiting) == 1, "another tenant's helper claimed this tenant's candidate"
        with tenant_context(committed):  # the tenant's own helper does train it
            assert search_trials_help(job_id=job.id, search=1, idle_s=0.5) == 1
    finally:
        with tenant_context(committed):
            pool.close()
        with tenant_context(world.globex):
            Job.objects.filter(id=theirs.id).delete()


def test_a_finished_job_sends_its_helpers_home(committed):
    job = running_job(committed)
    with tenant_context(committed):
        Job.objects.filter(id=job.id).update(status=Job.Status.SUCCEEDED)
        assert search_trials_help(job_id=job.id, search=1, idle_s=0.5) == 0


@override_settings(MODEL_SEARCH_HELPERS="0")
def test_no_helpers_means_the_search_trains_alone(committed):
    with tenant_context(committed), shared_trials(job_id=running_job(committed).id) as pool:
        assert pool is None


def test_a_failed_training_job_leaves_no_study_and_no_file_behind(committed):
    """A lead that died between batches: the job's failure cleanup removes what helpers wait on."""
    job = running_job(committed)
    with tenant_context(committed):
        pool = SharedTrials(job_id=job.id, helpers=0)
        pool._open(problem())
        file = tenant_path(committed.schema_name, *problem_path(job.id, 1).split("/"))
        assert file.exists()
        cleanup = kind_get("models.train_real").failed_cleanup()
        assert cleanup is not None
        cleanup(job)
        cleanup(job)  # idempotent: the sweeper may run it again
        assert not file.exists()
        with pytest.raises(KeyError):
            search_storage().get_study_id_from_name(study_name(committed.schema_name, job.id, 1))
