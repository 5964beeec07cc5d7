"""Wall time of one model search trained by the job alone, beside the same search helped by
real Celery workers on the `train` queue, and a check that both chose the same model.

    .venv/bin/python benchmarks/search_workers.py [--trials 12] [--helpers 1]

Runs against the benchmark database and broker (PDM_BENCH_DATABASE_URL, PDM_BENCH_REDIS_URL),
in its own tenant `bench-search`. The search is the remaining-life search of real-data training
(`engine.training.search.search_regressor`, cap fixed at 125 cycles) on C-MAPSS FD003's
training engines (../shared/data, PDM_SHARED_DATA elsewhere) with the notebook's rolling
features (`real_data.rolling_features`), engines split 80 / 20 into training and validation.

1. alone: the search with no pool, every candidate trained in this process (as with no other
   `train` process);
2. helped: the same search through `SharedTrials` with `--helpers` worker processes started
   here (`celery -A pdm_saas worker -Q train -P solo`), as a job does when other `train`
   processes exist.

Before printing it checks that both tried `--trials` candidates, that the helpers trained some
of them, and that both leaderboards and models are the same. The machine has 2 cores and every
fit uses one thread, so one helper is the most that can pay off here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.ingest import bench_tenant_with_type, schemas_migrate  # noqa: E402
from benchmarks.real_data import TRUTH_CAP, read_subset, rolling_features  # noqa: E402
from benchmarks.recovery import wait, worker_stop  # noqa: E402
from benchmarks.tenant_provision import BENCH_DATABASE_URL, broker_purge, database_ensure  # noqa: E402

TENANT_SLUG = "bench-search"
PREFIX = "search_workers:"


def say(message: str = "") -> None:
    print(f"{PREFIX} {message}" if message else "", flush=True)


def problem() -> Any:
    from engine.training.search import Problem

    train, _, _ = read_subset("FD003")
    frame = rolling_features(train)
    units = frame["unit"].to_numpy().astype(int)
    remaining = frame.groupby("unit")["cycle"].transform("max").to_numpy() - frame["cycle"].to_numpy()
    features = frame.drop(columns="unit")
    validation = units % 5 == 0
    return Problem(features.to_numpy(np.float64), np.minimum(remaining, TRUTH_CAP), ~validation, validation,
                   [str(c) for c in features.columns], 0)


def search(data: Any, trials: int, pool: Any) -> tuple[Any, float]:
    from engine.training.search import SearchSettings, search_regressor

    started = time.perf_counter()
    outcome = search_regressor(data.features, data.target, data.train, data.validation, data.names, seed=0,
                               settings=SearchSettings(budget_s=3600, max_trials=trials, cap=TRUTH_CAP, pool=pool))
    return outcome, time.perf_counter() - started


def helper_start(log: Path, index: int) -> subprocess.Popen[bytes]:
    args = [str(Path(sys.executable).with_name("celery")), "-A", "pdm_saas", "worker", "-Q", "train",
            "-P", "solo", "-n", f"bench-search-{index}@%h", "-l", "info", "--without-gossip", "--without-mingle",
            "--without-heartbeat"]
    with log.open("w") as out:
        child = subprocess.Popen(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                 env=dict(os.environ, PYTHONUNBUFFERED="1"))
    wait(lambda: " ready." in log.read_text(), timeout=120, what=f"helper worker {index}")
    return child


def helped_search(data: Any, trials: int, helpers: int, logs: Path) -> tuple[Any, float]:
    from django_tenants.utils import tenant_context

    from jobs.models import Job
    from predictions.services.search_workers import SharedTrials

    tenant = bench_tenant_with_type(slug=TENANT_SLUG, organization="Bench search", type_key="turbofan-engine-cmapss")
    children = [helper_start(logs / f"helper-{i}.log", i) for i in range(helpers)]
    try:
        with tenant_context(tenant):
            job = Job.objects.create(kind="models.train_real", status=Job.Status.RUNNING, message="benchmark")
            pool = SharedTrials(job_id=job.id, helpers=helpers)
            try:
                return search(data, trials, pool)
            finally:
                pool.close()
                Job.objects.filter(id=job.id).update(status=Job.Status.SUCCEEDED)
    finally:
        for child in children:
            worker_stop(child)


def board(outcome: Any) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in ("seconds", "worker")} for row in outcome.leaderboard]


def work_missing(data: Any, trials: int, alone: Any, helped: Any) -> list[str]:
    missing = []
    if len(alone.trials) != trials or len(helped.trials) != trials:
        missing.append(f"candidates tried: {len(alone.trials)} alone, {len(helped.trials)} helped, of {trials}")
    lead = f":{os.getpid()}"
    if not any(not t.worker.endswith(lead) for t in helped.trials):
        missing.append("no candidate was trained by a helper")
    if board(alone) != board(helped) or alone.winner != helped.winner:
        missing.append("the helped search chose differently")
    elif not np.array_equal(alone.model.predict(data.features), helped.model.predict(data.features)):
        missing.append("the helped search's model predicts differently")
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--helpers", type=int, default=1)
    args = parser.parse_args(argv)
    database_ensure(BENCH_DATABASE_URL)
    import django

    django.setup()
    schemas_migrate(TENANT_SLUG)
    broker_purge()
    data = problem()
    say(f"C-MAPSS FD003 training engines: {len(data.target):,} rows x {len(data.names)} features, "
        f"{args.trials} candidates")
    alone, alone_s = search(data, args.trials, None)
    with tempfile.TemporaryDirectory() as logs:
        helped, helped_s = helped_search(data, args.trials, args.helpers, Path(logs))
    missing = work_missing(data, args.trials, alone, helped)
    if missing:
        raise SystemExit(f"{PREFIX} the work was not done: " + "; ".join(missing))
    by_helpers = sum(1 for t in helped.trials if not t.worker.endswith(f":{os.getpid()}"))
    best = min(t.scores["validation_rmse"] for t in alone.trials)
    say("| processes | wall time | speed-up | candidates by helpers | best validation RMSE |")
    say("| --- | --- | --- | --- | --- |")
    say(f"| 1 (the job alone, baseline) | {alone_s:.1f} s | 1.00x | 0 | {best:.2f} |")
    say(f"| {1 + args.helpers} (job + {args.helpers} helper) | {helped_s:.1f} s | {alone_s / helped_s:.2f}x | "
        f"{by_helpers} of {args.trials} | {best:.2f} (same leaderboard, same model) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
