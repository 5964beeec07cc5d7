"""A process forked after XGBoost has run must still be able to run it: Celery's prefork pool and
granian fork their workers. Without `OMP_NUM_THREADS=1` the child's next model call hangs on the
parent's OpenMP thread pool, which did not survive the fork (LightGBM's FAQ; reproduced below), so
every process definition that forks after models may have run says it (docs/deploy.md, "Serving")."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pdm_saas.serving import procfile_commands

# Train with two threads as the engine does, fork, and have the child predict and train again;
# the child is killed by SIGALRM (exit status 14) if it hangs.
FORK_AFTER_XGBOOST = """
import os, signal, sys
import numpy as np, xgboost as xgb
x = np.random.default_rng(0).random((5000, 8)); y = (x[:, 0] > 0.5).astype(int)
booster = xgb.train({"nthread": 2, "tree_method": "hist"}, xgb.DMatrix(x, y), 10)
booster.predict(xgb.DMatrix(x))
child = os.fork()
if child == 0:
    signal.alarm(int(sys.argv[1]))
    booster.predict(xgb.DMatrix(x, nthread=2))
    xgb.train({"nthread": 2, "tree_method": "hist"}, xgb.DMatrix(x, y), 5)
    os._exit(0)
_, status = os.waitpid(child, 0)
print("hung" if os.WIFSIGNALED(status) else "ran")
"""


def _fork_after_xgboost(*, omp_threads: str | None, alarm_s: int) -> str:
    env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    if omp_threads is not None:
        env["OMP_NUM_THREADS"] = omp_threads
    done = subprocess.run([sys.executable, "-c", FORK_AFTER_XGBOOST, str(alarm_s)], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
    return done.stdout.strip()


def test_with_one_openmp_thread_a_forked_child_runs_its_models() -> None:
    assert _fork_after_xgboost(omp_threads="1", alarm_s=60) == "ran"


def test_without_it_the_forked_child_hangs() -> None:
    """Why the setting exists. Should XGBoost or libgomp ever stop hanging here, this fails, and
    the setting can be reconsidered."""
    assert _fork_after_xgboost(omp_threads=None, alarm_s=5) == "hung"


@pytest.mark.parametrize("name", ("worker", "train"))
def test_make_run_workers_run_one_openmp_thread(name: str) -> None:
    # compose's workers: tests/test_docker_config.py::test_prefork_workers_run_one_openmp_thread
    assert "OMP_NUM_THREADS=1 celery" in procfile_commands()[name]
