"""Drift checks of champion failure classifiers: recent inputs and scores against training.

- **Reference** (`drift_reference_ensure`): computed on a version's first check, lazily, from the
  dataset it was trained on (registration stays as fast as it was, and versions registered before
  drift checks existed get one too). The classifier's own window features of up to
  `REFERENCE_ROWS` seeded rows become per-feature sketches (`predictions.drift.sketch`), with the
  classifier's probabilities on those rows and each sensor's missing share.
- **Check** (`drift_check`): the last `days` of readings of the machines the version scores,
  bucketed into model steps in Postgres (plus enough history for full windows), the same window
  features scoring computes (`predictions.features.window_features` with the classifier's spec),
  sampled to `RECENT_ROWS` rows; PSI and KS per feature, PSI of the version's stored prediction
  probabilities, missing share per sensor. One `DriftReport` row per check.
- **Response** (`drift_response`): the hook for what a drifted report sets off. Today it records a
  "drift_detected" `ModelEvent` on the version; retraining and champion / challenger come next.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs.models import Job
from jobs.services import ProgressFn, job_create, job_enqueue
from machines.models import Machine, MachineType
from pdm_saas.errors import Conflict, InvalidInput
from predictions import drift
from predictions.bundles import Bundle, bundle_load
from predictions.features import feature_names
from predictions.frames import frame_from_columns
from predictions.models import DriftReference, DriftReport, ModelEvent, ModelVersion, Prediction
from predictions.services.registry import artifact_read, dataset_table, json_safe
from tenants.db import connection

logger = logging.getLogger(__name__)

CHECK_KIND = "models.drift_check"
REFERENCE_ROWS = 5_000
RECENT_ROWS = 5_000
RECENT_PREDICTIONS = 20_000
MIN_PREDICTIONS = 30  # fewer stored predictions in the window: no prediction drift
MAX_MACHINES = 2_000  # machines read per check, a seeded sample beyond that
SEED = 0


def _bundle(version: ModelVersion) -> Bundle:
    _classifier_kind_or_refuse(version)
    return bundle_load(artifact_read(version.artifact_path, sha256=version.artifact_sha256))


def _numeric_sensors(document: dict[str, Any]) -> list[str]:
    return [s["name"] for s in document.get("sensors", []) if s["kind"] != "categorical"]


def drift_reference_ensure(*, version: ModelVersion) -> DriftReference:
    """The version's training reference, computed from its dataset on first use."""
    existing = DriftReference.objects.filter(version=version).first()
    if existing is not None:
        return existing
    if version.dataset_id is None:
        raise Conflict("This version's training dataset is gone; there is nothing to compare with.")
    clf = _bundle(version).model
    table = dataset_table(version.dataset)  # type: ignore[arg-type]
    from predictions.features import window_features

    matrix, names = window_features(table, signals=list(clf.signals), spec=clf.spec)
    rows = np.random.default_rng(SEED).permutation(len(matrix))[:REFERENCE_ROWS]
    dependence = float(max(clf.spec.windows))
    sample = matrix[np.sort(rows)]
    document = version.machine_type.metadata
    try:
        with transaction.atomic():
            return DriftReference.objects.create(
                version=version, rows=len(rows), dependence=dependence,
                features={name: drift.sketch(sample[:, j], dependence=dependence) for j, name in enumerate(names)},
                scores=drift.sketch(clf.predict_proba(sample), dependence=dependence),
                missing={name: drift.missing_share(table.column(name).to_numpy(zero_copy_only=False))
                         for name in _numeric_sensors(document) if name in table.column_names},
            )
    except IntegrityError:  # a concurrent check stored it first
        return DriftReference.objects.get(version=version)


def _machines(version: ModelVersion) -> dict[int, str]:
    """The active machines this version scores: its machine, or its type's without their own champion."""
    machines = Machine.objects.filter(machine_type_id=version.machine_type_id, status=Machine.Status.ACTIVE)
    if version.machine_id is not None:
        machines = machines.filter(id=version.machine_id)
    else:
        own = ModelVersion.objects.filter(machine_type_id=version.machine_type_id, kind=version.kind,
                                          status=ModelVersion.Status.CHAMPION, machine__isnull=False)
        machines = machines.exclude(id__in=own.values("machine_id"))
    found = dict(machines.values_list("id", "name"))
    if len(found) > MAX_MACHINES:
        keep = np.random.default_rng(SEED).choice(sorted(found), MAX_MACHINES, replace=False)
        found = {int(i): found[int(i)] for i in keep}
    return found


def recent_frame(*, machine_type: MachineType, machines: dict[int, str], start: datetime, end: datetime,
                 step_hours: float = 1.0, time_scale: float = 1.0) -> pa.Table:
    """The machines' readings from `start` to `end`, bucketed into model steps inside Postgres."""
    slots = list(MachineType.objects.values_list("sensor_slots", flat=True).get(id=machine_type.id) or [])
    categories = {s["name"]: s["categories"] for s in machine_type.sensors if s["kind"] == "categorical"}
    # Slot indexes are integers we generate, never user text: safe to place in the SQL.
    parts = [f"(array_agg(vals[{i + 1}] ORDER BY ts DESC) FILTER (WHERE vals[{i + 1}] IS NOT NULL))[1]"
             if name in categories else f"avg(vals[{i + 1}])" for i, name in enumerate(slots)]
    step = step_hours * 3600.0 / time_scale
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT machine_id, floor(extract(epoch FROM ts) / %s) * %s, {', '.join(parts) or 'NULL'} "
            "FROM machines_reading WHERE machine_id = ANY(%s) AND ts >= %s AND ts <= %s GROUP BY 1, 2 ORDER BY 1, 2",
            [step, step, list(machines), start, end],
        )
        rows = cursor.fetchall()
    values = np.array([[np.nan if v is None else float(v) for v in row[2:2 + len(slots)]] for row in rows],
                      dtype=np.float64).reshape(len(rows), len(slots))
    numeric = {name: values[:, i] for i, name in enumerate(slots) if name not in categories}
    categorical = {name: np.array([categories[name][int(v)] if v == v and 0 <= v < len(categories[name]) else None
                                   for v in values[:, i]], dtype=object)
                   for i, name in enumerate(slots) if name in categories}
    return frame_from_columns(np.array([machines[r[0]] for r in rows], dtype=object),
                              np.array([float(r[1]) for r in rows]), numeric, categorical, machine_type.metadata,
                              step_hours=step_hours, time_scale=time_scale)


def _recent_features(clf: Any, frame: pa.Table, start: datetime) -> tuple[np.ndarray, list[str]]:
    """Window features of the frame's steps at or after `start` (earlier steps are history only)."""
    from predictions.features import window_features

    if not frame.num_rows:
        return np.zeros((0, len(feature_names(list(clf.signals), clf.spec)))), feature_names(list(clf.signals),
                                                                                             clf.spec)
    matrix, names = window_features(frame, signals=list(clf.signals), spec=clf.spec)
    seconds = frame.column("ts").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy() / 1e6
    inside = np.flatnonzero(seconds >= start.timestamp())
    keep = np.random.default_rng(SEED).permutation(inside)[:RECENT_ROWS]
    return matrix[np.sort(keep)], names


def _prediction_psi(version: ModelVersion, reference: DriftReference, start: datetime) -> tuple[float | None, int]:
    probabilities = list(Prediction.objects.filter(model_version=version, created_at__gte=start)
                         .order_by("-created_at").values_list("probability", flat=True)[:RECENT_PREDICTIONS])
    if len(probabilities) < MIN_PREDICTIONS or not reference.scores.get("count"):
        return None, len(probabilities)
    value = drift.psi(reference.scores["edges"], reference.scores["shares"], probabilities)
    return (None if value is None else round(value, 5)), len(probabilities)


def _data_quality(reference: DriftReference, frame: pa.Table, start: datetime) -> list[dict[str, Any]]:
    if not frame.num_rows:
        return []
    seconds = frame.column("ts").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy() / 1e6
    inside = seconds >= start.timestamp()
    out = []
    for name, before in reference.missing.items():
        if name not in frame.column_names:
            continue
        now = drift.missing_share(frame.column(name).to_numpy(zero_copy_only=False)[inside])
        change = None if now is None or before is None else round(now - before, 5)
        out.append({"signal": name, "reference": before, "recent": now, "change": change})
    return sorted(out, key=lambda q: -(q["change"] or 0))


def drift_check(*, version: ModelVersion, days: int | None = None, threshold: float | None = None,
                trigger: str = "scheduled", now: datetime | None = None) -> DriftReport:
    """Compare the last `days` of the version's machines with its reference; store the report."""
    days = int(days or settings.DRIFT_CHECK_DAYS)
    threshold = float(settings.DRIFT_THRESHOLD if threshold is None else threshold)
    end = now or timezone.now()
    start = end - timedelta(days=days)
    reference = drift_reference_ensure(version=version)
    bundle = _bundle(version)
    clf = bundle.model
    step_hours, time_scale = float(bundle.extra.get("step_hours", 1.0)), float(bundle.extra.get("time_scale", 1.0))
    machines = _machines(version)
    history = timedelta(hours=step_hours * (max(clf.spec.windows) + 1) / time_scale)
    frame = recent_frame(machine_type=version.machine_type, machines=machines, start=start - history, end=end,
                         step_hours=step_hours, time_scale=time_scale)
    matrix, names = _recent_features(clf, frame, start)
    results = [drift.feature_drift(name, reference.features.get(name, {}), matrix[:, j],
                                   dependence=reference.dependence) for j, name in enumerate(names)]
    share = drift.drift_share(results)
    prediction_psi, predictions = _prediction_psi(version, reference, start)
    report = DriftReport.objects.create(
        version=version, window_start=start, window_end=end, threshold=threshold, trigger=trigger,
        machines=len({str(m) for m in frame.column("machine").to_pylist()}) if frame.num_rows else 0,
        rows=len(matrix), features=json_safe(sorted((r.as_json() for r in results), key=lambda r: -(r["psi"] or 0))),
        drift_share=None if share is None else round(share, 5), prediction_psi=prediction_psi,
        predictions=predictions, data_quality=_data_quality(reference, frame, start),
        status=drift.drift_status(share, prediction_psi, threshold=threshold),
    )
    drift_response(report)
    return report


def drift_response(report: DriftReport) -> ModelEvent | None:
    """What a drift report sets off: a drifted report becomes a "drift_detected" event on its
    version (once per report) and, for a type-wide champion, a retrain whose result is a
    challenger (`challenger.challenger_request`: a no-op while one is pending for the type)."""
    from predictions.services.challenger import challenger_request

    if report.status != DriftReport.Status.DRIFTED:
        return None
    existing = ModelEvent.objects.filter(version_id=report.version_id, action="drift_detected",
                                         details__report=report.id).first()
    if existing is not None:
        return existing
    top = [f["feature"] for f in report.features if f.get("drifted")][:5]
    event = ModelEvent.objects.create(
        version_id=report.version_id, action="drift_detected",
        note=f"{report.drift_share:.0%} of features drifted (threshold {report.threshold:.0%}): {', '.join(top)}",
        details={"report": report.id, "drift_share": report.drift_share, "threshold": report.threshold,
                 "prediction_psi": report.prediction_psi, "top_features": top},
    )
    version = ModelVersion.objects.select_related("machine_type").get(id=report.version_id)
    if version.status == ModelVersion.Status.CHAMPION and version.machine_id is None:
        job = challenger_request(machine_type=version.machine_type, reason="drift",
                                 details={"report": report.id, "drift_share": report.drift_share})
        if job is not None:
            event.details = {**event.details, "retrain_job": job.id}
            event.save(update_fields=["details"])
    return event


def monitored_versions() -> list[ModelVersion]:
    """The versions a scheduled run checks: every champion failure classifier."""
    return list(ModelVersion.objects.select_related("machine_type", "dataset").filter(
        kind=ModelVersion.Kind.FAILURE_CLASSIFIER, status=ModelVersion.Status.CHAMPION))


def recently_checked(*, version_id: int, within: timedelta) -> bool:
    """A scheduled report newer than `within` exists: a duplicate delivery of the run skips it."""
    return DriftReport.objects.filter(version_id=version_id, trigger="scheduled",
                                      created_at__gte=timezone.now() - within).exists()


def drift_check_start(*, version: ModelVersion, created_by_id: int | None = None) -> Job:
    """On demand: a job on the `score` queue that checks drift and takes an outcome snapshot."""
    from predictions.tasks import drift_check_task  # tasks import services, not the reverse

    _classifier_kind_or_refuse(version)
    with transaction.atomic():
        job = job_create(kind=CHECK_KIND, params={"version_id": version.id}, created_by_id=created_by_id,
                         queue="score")
        job_enqueue(job=job, task=drift_check_task)
    return job


def _classifier_kind_or_refuse(version: ModelVersion) -> None:
    if version.kind != ModelVersion.Kind.FAILURE_CLASSIFIER:
        raise InvalidInput("Drift is checked on failure classifiers; the other kinds read the same features.")


def drift_check_run(job: Job, progress: ProgressFn) -> dict[str, Any]:
    """The job: the drift report, then the outcome snapshot, of one version."""
    from predictions.services.outcomes import outcome_snapshot_take

    version = ModelVersion.objects.select_related("machine_type", "dataset").filter(
        id=job.params.get("version_id")).first()
    if version is None:
        raise Conflict("The model version of this job no longer exists.")
    progress(10, "Comparing recent data with the training reference")
    report = drift_check(version=version, trigger="manual")
    progress(80, "Joining predictions with failures and work orders")
    snapshot = outcome_snapshot_take(version=version)
    return {"report": report.id, "status": report.status, "drift_share": report.drift_share,
            "outcomes": snapshot.id}


def models_monitor(*, now: datetime | None = None) -> list[int]:
    """The scheduled run in one tenant: a drift report and an outcome snapshot per champion
    classifier. A version checked by a scheduled run within the last hour is skipped, so a
    duplicate delivery does no work twice; one version's failure does not stop the others."""
    from predictions.services.outcomes import outcome_snapshot_take

    reports = []
    for version in monitored_versions():
        if recently_checked(version_id=version.id, within=timedelta(hours=1)):
            continue
        try:
            reports.append(drift_check(version=version, now=now).id)
            outcome_snapshot_take(version=version, now=now)
        except (Conflict, InvalidInput) as exc:
            logger.warning("Drift check of version %s skipped in %s: %s", version.id, connection.schema_name,
                           exc.message)
    return reports
