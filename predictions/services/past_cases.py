"""Similar past cases from the tenant's own real failures (issue 18; docs/models.md, "Similar past
cases").

Every explanation lists the past failures a scored row looks most like. A model's own case base
(`engine.explain.CaseBase`, kept in the classifier's bundle) holds training rows: simulated
machines for a cold-start model. As soon as the tenant records a failure of a machine of the type
(a `FailureEvent`, read through `machines.selectors`), that machine's window features at a few
steps within the horizon before the failure become *real* cases, standardised like the model's
own so that their distances compare, and the explanation ranks a similar real case first.

The features are the ones scoring computes for the same steps: the readings bucketed into the
model's steps (`stored_readings.bucketed_frame`; the reading store is read by `machines` only),
moved by each machine's own normal for a cold-start model (`machine_normal`), and windowed with the
classifier's signals and spec. Each failure's readings reach back to the start of its run (just
after the machine's previous failure) when the classifier has run features, else just far enough
for full windows at the earliest step kept. Failures stored at the other time scale (cycles for
models of clock time, or the reverse) are left out, as scoring refuses their readings.

Built once per process and kept by (tenant schema, machine type and its metadata version,
classifier version, a digest of the type's failure events, the machines' normals for a cold-start
model), so scoring pays one query for the failure events (and one for the normals) per call, and a
failure event added, edited or removed builds the cases again on the next call.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from engine.bundles import FAILURE
from engine.explain import CaseBase
from engine.features import window_features
from engine.frames import CYCLE_DATA_BEFORE, CYCLE_TIME_SCALE
from engine.scoring import ModelSet
from machines.models import MachineType
from machines.selectors import PastFailure, baselines_fingerprint, failure_events_of_type
from predictions.services.machine_normal import frame_relative_to_baselines, is_cold_start
from predictions.services.stored_readings import bucketed_frame
from tenants.db import connection
from tenants.row_cache import tenant_cached

MAX_FAILURES = 100  # the most recent; each costs a read of its readings when the cases are built
CASE_STEPS = 6  # steps kept per failure, spread over the horizon before it
SLACK_STEPS = 2  # a bucket at each end of a window may be partial
CACHE_SIZE = 64
_cache: OrderedDict[tuple[Any, ...], CaseBase | None] = OrderedDict()
_cache_lock = threading.Lock()


def real_cases_for(*, machine_type: MachineType, models: ModelSet) -> CaseBase | None:
    """The tenant's real failures of this type as past cases standardised like the models' own
    (`models.case_base()`); None when there are no failure events, no readings before them, or
    no case base to be like."""
    simulated = models.case_base()
    version = models.versions.get(FAILURE)
    if simulated is None:
        return None
    # Kept per process until a failure event, machine or type changes (tenants/row_cache.py).
    failures = tenant_cached("failure_events", (machine_type.id,),
                             lambda: tuple(failure_events_of_type(machine_type_id=machine_type.id)))
    if not failures:
        return None
    if version is None:  # a set the registry did not load has no version to key a cache by
        return _build(machine_type, models, simulated, failures)
    key = _key(machine_type, models, version, failures)
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    cases = _build(machine_type, models, simulated, failures)
    # Building may have completed a machine's normal (as scoring would): key by what it read.
    key = _key(machine_type, models, version, failures)
    with _cache_lock:
        _cache[key] = cases
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return cases


def with_real_cases(*, machine_type: MachineType, models: ModelSet) -> ModelSet:
    """The model set an explained scoring uses: the registry's, with the tenant's real cases. A
    copy, so the registry's cached set is never changed under another caller; it shares the loaded
    bundles and explainers (`real_cases_for` loads those on the cached set first)."""
    cases = real_cases_for(machine_type=machine_type, models=models)
    return dataclasses.replace(models, real_cases=cases) if cases is not models.real_cases else models


def _key(machine_type: MachineType, models: ModelSet, version: int,
         failures: Sequence[PastFailure]) -> tuple[Any, ...]:
    digest = hashlib.sha256(repr([(f.id, f.machine_id, f.occurred_at.isoformat(), f.failure_mode)
                                  for f in failures]).encode()).hexdigest()
    # A cold-start model reads each machine relative to its normal, so the cases move with it.
    normals = (baselines_fingerprint(machine_ids=sorted({f.machine_id for f in failures}))
               if is_cold_start(models) else None)
    return connection.schema_name, machine_type.id, machine_type.version, version, digest, normals


def _build(machine_type: MachineType, models: ModelSet, like: CaseBase,
           failures: Sequence[PastFailure]) -> CaseBase | None:
    readable = [f for f in failures if _same_scale(models, f)]
    recent = sorted(readable, key=lambda f: (f.occurred_at, f.id))[-MAX_FAILURES:]
    previous = _previous_failures(failures)
    frames, owners = [], []
    for index, failure in enumerate(recent):
        frame = bucketed_frame(machine_type=machine_type, machines={failure.machine_id: failure.machine_name},
                               step_hours=models.step_hours, time_scale=models.time_scale,
                               start=_first_needed(models, failure, previous.get(failure.id)), end=failure.occurred_at)
        frames.append(frame)
        owners.append(np.full(frame.num_rows, index))
    if not any(frame.num_rows for frame in frames):
        return None
    # Moved onto the simulated levels all at once: one look at the machines' normals.
    moved, _ = frame_relative_to_baselines(machine_type=machine_type, frame=pa.concat_tables(frames), models=models)
    owner = np.concatenate(owners)
    parts = [_cases_before(models, moved.filter(pa.array(owner == index)), failure)
             for index, failure in enumerate(recent)]
    features = np.concatenate([p[0] for p in parts])
    if not len(features):
        return None
    kept = [failure for failure, part in zip(recent, parts, strict=True) for _ in part[1]]
    return CaseBase.from_real(features, like=like, machines=[f.machine_name for f in kept],
                              modes=[f.failure_mode for f in kept], hours_before=[h for p in parts for h in p[1]],
                              failed_at=[f.occurred_at.isoformat() for f in kept])


def _same_scale(models: ModelSet, failure: PastFailure) -> bool:
    """Whether the models read the failure's readings: a cycle-indexed failure (stored before 1980)
    for cycle models, a clock-time one for the others, as scoring refuses the rest
    (`engine.frames.other_scale_machines`)."""
    return (failure.occurred_at < CYCLE_DATA_BEFORE) == (models.time_scale == CYCLE_TIME_SCALE)


def _previous_failures(failures: Sequence[PastFailure]) -> dict[int, datetime]:
    """Each failure's machine's failure before it, by failure id (failures come by machine and time)."""
    previous: dict[int, datetime] = {}
    for before, after in zip(failures, failures[1:], strict=False):
        if before.machine_id == after.machine_id and before.occurred_at < after.occurred_at:
            previous[after.id] = before.occurred_at
    return previous


def _first_needed(models: ModelSet, failure: PastFailure, previous: datetime | None) -> datetime | None:
    """The earliest reading the failure's cases read: the run's first (just after the previous
    failure, else the machine's first reading) for run features, else full windows' worth before
    the earliest step kept, never reaching into the previous run."""
    run_start = previous + timedelta(microseconds=1) if previous is not None else None
    if models.classifier.spec.baseline_steps:
        return run_start
    steps = models.history_steps + math.ceil(models.classifier.horizon_h / models.step_hours) + SLACK_STEPS
    window_start = failure.occurred_at - timedelta(hours=models.step_hours * steps / models.time_scale)
    return window_start if run_start is None else max(window_start, run_start)


def _cases_before(models: ModelSet, frame: pa.Table, failure: PastFailure) -> tuple[np.ndarray, list[float]]:
    """The classifier's features at up to CASE_STEPS steps within its horizon before the failure,
    spread evenly from the horizon's start to the failure, and each step's hours before it (in
    the model's time: cycles for a cycle-indexed model)."""
    clf = models.classifier
    if not frame.num_rows:
        return np.empty((0, len(clf.feature_names))), []
    steps_us = np.asarray(frame.column("ts").cast(pa.int64()).to_numpy(zero_copy_only=False), np.float64)
    # A frame's times are model time: stored seconds stretched by the time scale (engine.frames).
    hours_before = (failure.occurred_at.timestamp() * models.time_scale * 1e6 - steps_us) / 3.6e9
    inside = np.flatnonzero((hours_before >= 0) & (hours_before <= clf.horizon_h))
    if not len(inside):
        return np.empty((0, len(clf.feature_names))), []
    inside = inside[np.argsort(-hours_before[inside], kind="stable")]  # the horizon's start first
    chosen = inside[np.unique(np.linspace(0, len(inside) - 1, min(CASE_STEPS, len(inside))).round().astype(int))]
    matrix, _ = window_features(frame, signals=clf.signals, spec=clf.spec)
    return matrix[chosen], [float(h) for h in hours_before[chosen]]
