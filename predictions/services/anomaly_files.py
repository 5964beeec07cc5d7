"""File-to-file anomaly scoring: a file of readings in, the anomaly detector's score for every
machine and step out, for a type whose detector learned normal operation and that may have no
failure model at all (`normal_training`).

The file is read exactly as `batch_files.score_file` reads it (the ingest reader, the same column
mapping and guesses), bucketed at the detector's own step and time scale (bundle extras
`step_hours`, `time_scale`: a detector trained on 50 ms readings scores 20 ms steps, not hours)
and scored with the type's champion detector. Each step gets, beside its calibrated score (0-1:
the share of normal calibration windows less unusual), whether it reaches the detector's
threshold and the signal that deviates most with its robust z. Every scored step counts as a
prediction for billing, as in `score_file`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from django.db import transaction

from billing.quotas import prediction_quota_check, prediction_quota_reserve
from engine.bundles import ANOMALY, Bundle, bundle_load
from engine.features import window_features
from engine.frames import time_unit_of
from engine.training.classifier import column_numpy
from jobs.services import ProgressFn, no_progress
from machines.models import MachineType
from pdm_saas.errors import Conflict
from predictions.services.batch_files import FileScored, file_frame, table_write, target_check, window_end_cycles
from predictions.services.registry import artifact_read, champion_versions
from tenants.db import connection


def anomaly_score_file(*, machine_type: MachineType, source: Path, target: Path,
                       mapping: Mapping[str, Any] | None = None, progress: ProgressFn | None = None) -> FileScored:
    report: ProgressFn = progress or no_progress
    target_check(target)
    bundle = anomaly_champion(machine_type)
    prediction_quota_check(tenant_id=connection.tenant.id)
    step_hours, time_scale = float(bundle.extra.get("step_hours", 1.0)), float(bundle.extra.get("time_scale", 1.0))
    read = file_frame(machine_type=machine_type, source=source, mapping=mapping, step_hours=step_hours,
                      time_scale=time_scale, progress=report)
    report(40, f"Scoring {read.frame.num_rows:,} steps for anomalies")
    table = anomaly_table(bundle, read.frame)
    report(85, "Writing the scores")
    with transaction.atomic():  # a failed write rolls the count back
        prediction_quota_reserve(tenant_id=connection.tenant.id, count=table.num_rows)
        table_write(target, table)
    report(100, "Done")
    machines = len(set(table.column("machine").to_pylist()))
    return FileScored(read.rows_read, read.refused, table.num_rows, machines, read.sensors, read.ignored)


def anomaly_champion(machine_type: MachineType) -> Bundle:
    version = champion_versions(machine_type_id=machine_type.id).get(ANOMALY)
    if version is None:
        raise Conflict(f"{machine_type.name} has no trained models yet; onboard the type, or train it on real "
                       "readings (train_real_data) for an anomaly detector.")
    return bundle_load(artifact_read(version.artifact_path, sha256=version.artifact_sha256))


def anomaly_table(bundle: Bundle, frame: pa.Table) -> pa.Table:
    """One row per step of `frame`: machine, step time (or cycle), score, flag and the most
    unusual signal. Vectorised: a million steps need no per-row Python."""
    detector = bundle.model
    matrix, _ = window_features(frame, signals=detector.signals, spec=detector.spec)
    scores = np.asarray(detector.score(matrix), np.float64)
    z = detector.contributions(matrix)  # (steps, signals): each signal's most deviating robust z
    top = np.abs(z).argmax(axis=1) if len(z) else np.zeros(0, np.int64)
    window_end = frame.column("ts").combine_chunks()
    cycles = time_unit_of(float(bundle.extra.get("time_scale", 1.0))) == "cycles"
    return pa.table({
        "machine": pa.array(column_numpy(frame, "machine").astype(str)),
        "window_end_cycle" if cycles else "window_end": window_end_cycles(window_end) if cycles else window_end,
        "anomaly_score": pa.array(scores), "anomalous": pa.array(scores >= detector.threshold),
        "most_unusual_signal": pa.array(np.array(detector.signals, dtype=object)[top].astype(str)),
        "most_unusual_z": pa.array(np.round(z[np.arange(len(z)), top], 3)),
    })
