"""Training on a tenant's real readings and failure events, fine-tuning the synthetic champions,
and promoting only what beats them on held-out real data.

The job (`real_training_start` -> `real_training_run`, queue `train`):

1. Bucket every reading of the type's machines into model steps inside Postgres (one aggregate
   query, so ten million readings never cross the wire row by row) and cut the machines into
   runs at their failure events (`engine.training.real.label_runs`).
2. Store the table as a `real` dataset, with its fingerprint.
3. Train the four models on it from scratch (the classifier and the RUL regressor each chosen by
   a model search, `search_settings`: the budget is per search), and fine-tune the current
   champion classifier and RUL regressor on it by continued boosting (`train_suite(init=...)`).
4. Measure the champion, the real-only model and the fine-tuned one on the same held-out runs.
   The better of the two new ones is promoted when it beats the champion by `margin` (default
   10%) on F1 (classifier) or RMSE (RUL); otherwise it stays a candidate and the report says why.
   Anomaly detector and forecaster trained on real data replace champions that never saw real
   data: their normal is this fleet's normal.

With fewer than MIN_FAILED_RUNS failures inside the readings, only the anomaly detector and the
forecaster are trained (`normal_training.train_on_normal_operation`) and the report says what the
failure models need. The model step follows the readings' pace (`stored_readings.data_step_hours`).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa
from django.conf import settings

from engine.bundles import FAILURE, KINDS, RUL, Bundle
from engine.features import data_spec
from engine.frames import DEFAULT_STEP_HOURS, time_scale_for
from engine.metadata import is_observation_type
from engine.splits import split_train_validation_test
from engine.training.classifier import column_numpy, default_horizon_h
from engine.training.real import DEFAULT_MARGIN, better_by, evaluate_bundle, label_runs, summary_row
from engine.training.search import SearchSettings
from engine.training.suite import Suite, train_suite
from jobs.models import Job
from jobs.services import ProgressFn, no_progress
from machines.models import FailureEvent, Machine, MachineType
from machines.reading_store import readings_latest
from pdm_saas.errors import InvalidInput
from predictions.models import Dataset, ModelVersion
from predictions.services.normal_training import train_on_normal_operation
from predictions.services.observation_training import observation_training_run
from predictions.services.registry import (
    artifact_read,
    champion_versions,
    dataset_store,
    json_safe,
    model_version_promote,
    model_version_register,
)
from predictions.services.search_workers import shared_trials
from predictions.services.stored_readings import bucketed_frame, data_step_hours
from predictions.services.training import DEFAULT_HORIZON_H, job_machine_type, training_job_start

REAL_KIND = "models.train_real"
MIN_FAILED_RUNS = 3


def real_training_start(*, machine_type: MachineType, margin: float = DEFAULT_MARGIN,
                        horizon_h: float | None = DEFAULT_HORIZON_H, seed: int = 0, budget_s: float | None = None,
                        max_trials: int | None = None, rul_cap: float | None = None,
                        created_by_id: int | None = None) -> Job:
    from predictions.tasks import real_training_task  # tasks import services, not the reverse

    if not 0 <= margin <= 10:
        raise InvalidInput("margin must be between 0 and 10 (0.1 = 10%).", details={"margin": ["out of range"]})
    search = search_settings(budget_s=budget_s, max_trials=max_trials, rul_cap=rul_cap)
    return training_job_start(kind=REAL_KIND, machine_type=machine_type, task=real_training_task,
                              params={"margin": margin, "horizon_h": horizon_h, "seed": seed,
                                      "search": search.to_params()},
                              created_by_id=created_by_id)


def real_training_run(job: Job, progress: ProgressFn) -> dict[str, Any]:
    # Other train workers help with the model search when there are any (search_workers).
    with shared_trials(job_id=job.id) as pool:
        search = SearchSettings(**job.params.get("search", {}), pool=pool)
        return train_on_real_data(machine_type=job_machine_type(job), margin=job.params["margin"],
                                  horizon_h=job.params["horizon_h"], seed=job.params["seed"], job_id=job.id,
                                  search=search, progress=progress)


def train_on_real_data(*, machine_type: MachineType, margin: float = DEFAULT_MARGIN,
                       horizon_h: float | None = DEFAULT_HORIZON_H, seed: int = 0, job_id: int | None = None,
                       search: SearchSettings | None = None, progress: ProgressFn | None = None) -> dict[str, Any]:
    if is_observation_type(machine_type.metadata):  # independent labelled rows: no runs, no windows
        return observation_training_run(machine_type=machine_type, seed=seed, margin=margin, job_id=job_id,
                                        progress=progress)
    report: ProgressFn = progress or no_progress
    started = time.perf_counter()
    report(2, "Reading the fleet's readings and failure events")
    step_hours = data_step_hours(list(Machine.objects.filter(machine_type=machine_type).values_list("id", flat=True)))
    table, time_scale = real_table(machine_type=machine_type, step_hours=step_hours, min_failures=0)
    failures = _failed_runs(table)
    if failures < MIN_FAILED_RUNS:
        return train_on_normal_operation(machine_type=machine_type, table=table, time_scale=time_scale,
                                         step_hours=step_hours, failures=failures, needed=MIN_FAILED_RUNS, seed=seed,
                                         job_id=job_id, progress=report)
    horizon_h = default_horizon_h(table) if horizon_h is None else horizon_h
    dataset = dataset_store(machine_type=machine_type, source=Dataset.Source.REAL, table=table, job_id=job_id,
                            params={"step_hours": step_hours, "time_scale": time_scale,
                                    "runs": _count_units(table)})
    champions = champion_versions(machine_type_id=machine_type.id)
    champion_bundles = {kind: _bundle(v) for kind, v in champions.items() if kind in (FAILURE, RUL)}
    report(8, "Finding operating regimes and fitting features to the runs")
    train_rows = split_train_validation_test(column_numpy(table, "machine").astype(str), seed=seed)[0]
    spec = data_spec(table, machine_type.metadata, rows=train_rows, seed=seed)
    report(10, "Training on real data")
    real = train_suite(table, machine_type.metadata, horizon_h=horizon_h, seed=seed, time_scale=time_scale,
                       spec=spec, search=search or search_settings(), step_hours=step_hours,
                       progress=lambda p, m: report(10 + int(p * 0.4), m))
    tuned = _fine_tune(table, machine_type, champion_bundles, horizon_h, seed, time_scale, step_hours, report)
    report(85, "Comparing against the champions on held-out real runs")
    decisions = [_decide(kind, machine_type, dataset, real, tuned, champions, champion_bundles, table,
                         margin, seed, job_id) for kind in KINDS if kind in real.bundles]
    report(100, "Done")
    return {"dataset": {"id": dataset.id, "rows": dataset.rows, "runs": _count_units(table),
                        "failures": dataset.failures}, "margin": margin, "decisions": decisions,
            "skipped": real.skipped, "seconds": round(time.perf_counter() - started, 2)}


def search_settings(*, budget_s: float | None = None, max_trials: int | None = None,
                    rul_cap: float | None = None) -> SearchSettings:
    """The model search's settings: the caller's, else the deployment's (settings.MODEL_SEARCH_*)."""
    try:
        return SearchSettings(budget_s=settings.MODEL_SEARCH_BUDGET_S if budget_s is None else budget_s,
                              max_trials=settings.MODEL_SEARCH_MAX_TRIALS if max_trials is None else max_trials,
                              cap=rul_cap)
    except ValueError as exc:
        raise InvalidInput(f"{exc}.") from exc


def real_table(*, machine_type: MachineType, step_hours: float = DEFAULT_STEP_HOURS,
               min_failures: int = MIN_FAILED_RUNS) -> tuple[pa.Table, float]:
    """The type's readings bucketed to steps, cut into runs and labelled by failure events, and
    the time scale they were read with (3600 for cycle-indexed data; engine.frames).
    InvalidInput when fewer than `min_failures` failures fall inside the readings."""
    machines = dict(Machine.objects.filter(machine_type=machine_type).values_list("id", "name"))
    time_scale = _time_scale(machines)
    frame = bucketed_frame(machine_type=machine_type, machines=machines, step_hours=step_hours,
                           time_scale=time_scale)
    if not frame.num_rows:
        raise InvalidInput(f"No readings for {machine_type.name} yet; upload some before training on real data.")
    events: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for machine_id, at, mode in FailureEvent.objects.filter(machine_id__in=machines).values_list(
            "machine_id", "occurred_at", "failure_mode"):
        events[machines[machine_id]].append((datetime.fromtimestamp(at.timestamp() * time_scale, UTC), mode))
    table = label_runs(frame, events)
    failed_runs = _failed_runs(table)
    if failed_runs < min_failures:
        raise InvalidInput(
            f"{failed_runs} failure(s) fall inside the readings of {machine_type.name}; at least {MIN_FAILED_RUNS} "
            "are needed to train and test on real data. Record failures (POST /api/v1/failure-events/) or upload "
            "files with a label column.", details={"failures": failed_runs, "needed": MIN_FAILED_RUNS})
    return table, time_scale


def _failed_runs(table: pa.Table) -> int:
    return int(np.sum(table.column("failed").to_numpy(zero_copy_only=False)))


def _time_scale(machines: Mapping[int, str]) -> float:
    newest = readings_latest(machine_ids=list(machines)).values()
    return time_scale_for(np.array([max(newest).timestamp() if newest else np.nan]))


def _bundle(version: ModelVersion) -> Bundle:
    from engine.bundles import bundle_load

    return bundle_load(artifact_read(version.artifact_path, sha256=version.artifact_sha256))


def _fine_tune(table: pa.Table, machine_type: MachineType, champions: Mapping[str, Bundle], horizon_h: float,
               seed: int, time_scale: float, step_hours: float, report: ProgressFn) -> Suite | None:
    if not champions:
        return None
    report(50, "Fine-tuning the synthetic champions on real data")
    return train_suite(table, machine_type.metadata, horizon_h=horizon_h, seed=seed, kinds=list(champions),
                       init=champions, time_scale=time_scale, step_hours=step_hours,
                       progress=lambda p, m: report(50 + int(p * 0.35), m))


def _decide(kind: str, machine_type: MachineType, dataset: Dataset, real: Suite, tuned: Suite | None,
            champions: Mapping[str, ModelVersion], champion_bundles: Mapping[str, Bundle], table: pa.Table,
            margin: float, seed: int, job_id: int | None) -> dict[str, Any]:
    champion = champions.get(kind)

    def register(suite: Suite, params: dict[str, Any], parent: ModelVersion | None = None) -> ModelVersion:
        return model_version_register(machine_type=machine_type, dataset=dataset, job_id=job_id, parent=parent,
                                      bundle=suite.bundles[kind], training_seconds=suite.seconds[kind],
                                      params={**params, "seed": seed})

    candidates = [("real", register(real, {"training": "real only"}))]
    if tuned is not None and kind in tuned.bundles and champion is not None:
        candidates.append(("fine-tuned", register(tuned, {"training": "fine-tuned from champion",
                                                          "parent": champion.id}, parent=champion)))
    if kind not in (FAILURE, RUL):
        return _decide_unmeasured(kind, candidates[0][1], champion)
    return _decide_measured(kind, candidates, champion, champion_bundles, table, real, tuned, margin, seed)


def _decide_measured(kind: str, candidates: list[tuple[str, ModelVersion]], champion: ModelVersion | None,
                     champion_bundles: Mapping[str, Bundle], table: pa.Table, real: Suite, tuned: Suite | None,
                     margin: float, seed: int) -> dict[str, Any]:
    suites = {"real": real, "fine-tuned": tuned}
    cap = {"cap_h": real.bundles[kind].model.cap_h} if kind == RUL else {}  # one yardstick for all
    measured = {name: evaluate_bundle(suites[name].bundles[kind], table, seed=seed, **cap)  # type: ignore[union-attr]
                for name, _ in candidates}
    rows = [summary_row(f"{name} v{version.number}", measured[name]) for name, version in candidates]
    champion_metrics: dict[str, float] = {}
    if champion is not None:
        champion_metrics = evaluate_bundle(champion_bundles[kind], table, seed=seed, **cap)
        rows.insert(0, summary_row(f"champion v{champion.number} ({champion.data_source})", champion_metrics))
    best_name, best = max(candidates, key=lambda c: _primary(kind, measured[c[0]]))
    promote = champion is None or better_by(measured[best_name], champion_metrics, kind=kind, margin=margin)
    for name, version in candidates:
        ModelVersion.objects.filter(id=version.id).update(
            metrics={**version.metrics, "real_holdout": json_safe(summary_row(name, measured[name]))})
    if promote:
        model_version_promote(version_id=best.id, note=f"{best_name} beat the champion on held-out real data by "
                                                       f"at least {margin:.0%}")
    return {"kind": kind, "comparison": rows, "best": best.id, "promoted": promote,
            "reason": "" if promote else f"the best new model is not {margin:.0%} better than the champion"}


def _decide_unmeasured(kind: str, version: ModelVersion, champion: ModelVersion | None) -> dict[str, Any]:
    promote = champion is None or champion.data_source == Dataset.Source.SIMULATED
    if promote:
        model_version_promote(version_id=version.id, note="trained on this fleet's own normal operation")
    return {"kind": kind, "best": version.id, "promoted": promote,
            "reason": "" if promote else "the champion already learned from real data; promote by hand"}


def _primary(kind: str, metrics: Mapping[str, float]) -> float:
    value = float(metrics.get("f1" if kind == FAILURE else "rmse", np.nan))
    if np.isnan(value):
        return -np.inf
    return value if kind == FAILURE else -value


def _count_units(table: pa.Table) -> int:
    return len(table.column("machine").unique())

