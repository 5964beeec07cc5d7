"""Real-data training when the readings hold too few failures: the models that need none.

Recordings of normal operation and no failure events are what most users have first. The failure
classifier and the remaining-life regressor cannot learn from them (`real_training`
needs MIN_FAILED_RUNS failures inside the readings), but the anomaly detector and the sensor
forecaster learn normal operation only. `train_on_normal_operation` trains those two on the
labelled real table, stores it as a `real` dataset, promotes each over a champion that never saw
real data (as real training does), and reports the failure models as skipped, saying what they
need. Called by `real_training.train_on_real_data`.
"""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa

from engine.bundles import ANOMALY, FAILURE, FORECAST, RUL
from engine.training.suite import train_suite
from jobs.services import ProgressFn, no_progress
from machines.models import MachineType
from predictions.models import Dataset, ModelVersion
from predictions.services.registry import (
    champion_versions,
    dataset_store,
    model_version_promote,
    model_version_register,
)

NORMAL_KINDS = (ANOMALY, FORECAST)
HORIZON_UNUSED_H = 24.0  # train_suite's horizon; neither kind trained here reads it


def train_on_normal_operation(*, machine_type: MachineType, table: pa.Table, time_scale: float, step_hours: float,
                              failures: int, needed: int, seed: int = 0, job_id: int | None = None,
                              progress: ProgressFn | None = None) -> dict[str, Any]:
    """`table`: the real table (`real_training.real_table`), read at `step_hours` and `time_scale`;
    `failures` of the `needed` failure events fall inside it."""
    report: ProgressFn = progress or no_progress
    started = time.perf_counter()
    machines = len(table.column("asset").unique()) if "asset" in table.column_names else 0
    dataset = dataset_store(machine_type=machine_type, source=Dataset.Source.REAL, table=table, job_id=job_id,
                            params={"step_hours": step_hours, "time_scale": time_scale, "machines": machines,
                                    "training": "normal operation only"})
    report(10, "Training the models that learn normal operation")
    suite = train_suite(table, machine_type.metadata, horizon_h=HORIZON_UNUSED_H, seed=seed, kinds=NORMAL_KINDS,
                        step_hours=step_hours, time_scale=time_scale,
                        progress=lambda p, m: report(10 + int(p * 0.85), m))
    champions = champion_versions(machine_type_id=machine_type.id)
    decisions = []
    for kind, bundle in suite.bundles.items():
        version = model_version_register(machine_type=machine_type, dataset=dataset, job_id=job_id, bundle=bundle,
                                         training_seconds=suite.seconds[kind],
                                         params={"training": "real only, normal operation", "seed": seed})
        decisions.append(_promote(kind, version, champions.get(kind)))
    why = (f"needs failures: {failures} failure event(s) fall inside the readings of {machine_type.name}, at least "
           f"{needed} are needed. Record failures (POST /api/v1/failure-events/) or upload files with a label column.")
    report(100, "Done")
    return {"dataset": {"id": dataset.id, "rows": dataset.rows, "runs": dataset.machines, "failures": failures},
            "decisions": decisions, "skipped": {FAILURE: why, RUL: why, **suite.skipped},
            "normal_operation_only": True, "step_hours": step_hours,
            "seconds": round(time.perf_counter() - started, 2)}


def _promote(kind: str, version: ModelVersion, champion: ModelVersion | None) -> dict[str, Any]:
    """The new model replaces a champion that never saw real data; a champion trained on real
    data stays until someone compares and promotes by hand."""
    promote = champion is None or champion.data_source == Dataset.Source.SIMULATED
    if promote:
        model_version_promote(version_id=version.id, note="trained on this fleet's own normal operation")
    return {"kind": kind, "best": version.id, "promoted": promote,
            "reason": "" if promote else "the champion already learned from real data; promote by hand"}
