"""Drift checks of champion models: recent inputs and scores against training.

Every kind is checked on what it reads: the failure classifier, the RUL regressor and the anomaly
detector on their window features (each with its own spec and signals), the sensor forecaster on
the bucketed signals themselves (it reads raw signal windows, not window statistics).

- **Reference** (`drift_reference_ensure`): computed on a version's first check, lazily, from the
  dataset it was trained on (registration stays as fast as it was, and versions registered before
  drift checks existed get one too). The model's inputs on up to `REFERENCE_ROWS` seeded rows
  become per-feature sketches (`engine.drift.sketch`), with its outputs on those rows
  (probability, remaining life or anomaly score) and each sensor's missing share.
- **Check** (`drift_check`): the recent readings of the machines the version scores, bucketed into
  model steps in Postgres (plus enough history for full windows), the same features scoring
  computes, sampled to `RECENT_ROWS` rows; PSI and KS per feature, PSI of the version's stored
  outputs, missing share per sensor. One `DriftReport` row per check. "Recent" is the last `days`
  up to now for clock-stamped data, and each machine's latest `days` x 24 steps for
  cycle-indexed data (stored at 1970 + cycles, so "the last week" of the clock holds nothing).
- **Response** (`drift_response`): a drifted report becomes a "drift_detected" `ModelEvent` and,
  for a type-wide champion, a challenger (services/challenger/).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from engine import drift
from engine.bundles import ANOMALY, FAILURE, RUL, Bundle, bundle_load
from engine.features import feature_names
from jobs.models import Job
from jobs.services import ProgressFn, job_create, job_enqueue
from machines.models import Machine
from pdm_saas.errors import Conflict, InvalidInput
from predictions.models import DriftReference, DriftReport, ModelEvent, ModelVersion, Prediction
from predictions.services.registry import artifact_read, dataset_table, json_safe
from predictions.services.stored_readings import bucketed_frame
from tenants.db import connection

logger = logging.getLogger(__name__)

CHECK_KIND = "models.drift_check"
REFERENCE_ROWS = 5_000
RECENT_ROWS = 5_000
RECENT_PREDICTIONS = 20_000
MIN_PREDICTIONS = 30  # fewer stored predictions in the window: no prediction drift
MAX_MACHINES = 2_000  # machines read per check, a seeded sample beyond that
SEED = 0
# The stored output each kind's predictions carry (the forecaster's projections are not stored
# per prediction in a comparable form: its check is on inputs only).
OUTPUT_FIELDS = {FAILURE: "probability", RUL: "rul_h", ANOMALY: "anomaly_score"}


# --- what a model reads and says ----------------------------------------------------------------


@dataclass(frozen=True)
class ModelView:
    """A loaded version seen by the drift check: its inputs, outputs and time base."""

    kind: str
    model: Any
    step_hours: float
    time_scale: float

    @classmethod
    def of(cls, version: ModelVersion) -> ModelView:
        bundle: Bundle = bundle_load(artifact_read(version.artifact_path, sha256=version.artifact_sha256))
        return cls(version.kind, bundle.model, float(bundle.extra.get("step_hours", 1.0)),
                   float(bundle.extra.get("time_scale", 1.0)))

    @property
    def windowed(self) -> bool:
        return hasattr(self.model, "spec")

    @property
    def dependence(self) -> float:
        """Rows per independent draw: the longest window a row's value shares with its neighbours."""
        return float(max(self.model.spec.windows) if self.windowed else self.model.history_rows)

    @property
    def history_steps(self) -> int:
        return int(self.dependence) + 1

    def input_names(self) -> list[str]:
        if self.windowed:
            return feature_names(list(self.model.signals), self.model.spec)
        return list(self.model.signals)

    def inputs(self, table: pa.Table) -> tuple[np.ndarray, list[str]]:
        """The model's inputs for every row of a bucketed frame (or a training dataset)."""
        from engine.features import window_features

        if not table.num_rows:
            return np.zeros((0, len(self.input_names()))), self.input_names()
        if self.windowed:
            return window_features(table, signals=list(self.model.signals), spec=self.model.spec)
        names = [s for s in self.model.signals if s in table.column_names]
        columns = [np.asarray(table.column(s).to_numpy(zero_copy_only=False), np.float64) for s in names]
        return (np.column_stack(columns) if columns else np.zeros((table.num_rows, 0))), names

    def outputs(self, matrix: np.ndarray) -> np.ndarray | None:
        if not len(matrix):
            return None
        if self.kind == FAILURE:
            return np.asarray(self.model.predict_proba(matrix), np.float64)
        if self.kind == RUL:
            return np.asarray(self.model.predict(matrix), np.float64)
        if self.kind == ANOMALY:
            return np.asarray(self.model.score(matrix), np.float64)
        return None

    @property
    def cycle_indexed(self) -> bool:
        return self.time_scale != 1.0


def drift_reference_ensure(*, version: ModelVersion, view: ModelView | None = None) -> DriftReference:
    """The version's training reference, computed from its dataset on first use."""
    existing = DriftReference.objects.filter(version=version).first()
    if existing is not None:
        return existing
    if version.dataset_id is None:
        raise Conflict("This version's training dataset is gone; there is nothing to compare with.")
    view = view or ModelView.of(version)
    table = dataset_table(version.dataset)  # type: ignore[arg-type]
    matrix, names = view.inputs(table)
    sample = matrix[np.sort(np.random.default_rng(SEED).permutation(len(matrix))[:REFERENCE_ROWS])]
    outputs = view.outputs(sample)
    schema = version.machine_type.schema
    try:
        with transaction.atomic():
            return DriftReference.objects.create(
                version=version, rows=len(sample), dependence=view.dependence,
                features={name: drift.sketch(sample[:, j], dependence=view.dependence) for j, name in enumerate(names)},
                scores={} if outputs is None else drift.sketch(outputs, dependence=view.dependence),
                missing={name: drift.missing_share(table.column(name).to_numpy(zero_copy_only=False))
                         for name in (s.name for s in schema.numeric_sensors) if name in table.column_names},
            )
    except IntegrityError:  # a concurrent check stored it first
        return DriftReference.objects.get(version=version)


# --- recent readings ------------------------------------------------------------------------------


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


def _seconds(frame: pa.Table) -> np.ndarray:
    return frame.column("ts").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy() / 1e6


def recent_mask(frame: pa.Table, *, start: datetime | None, days: int) -> np.ndarray:
    """The frame's steps inside the window (earlier steps are history only): at or after `start`,
    or, without one, within each machine's own last `days` of model time."""
    seconds = _seconds(frame)
    if start is not None:
        return seconds >= start.timestamp()
    machines = np.asarray(frame.column("machine").to_numpy(zero_copy_only=False), dtype=object)
    _, codes = np.unique(machines, return_inverse=True)
    latest = np.full(codes.max() + 1 if len(codes) else 0, -np.inf)
    np.maximum.at(latest, codes, seconds)
    return seconds > latest[codes] - days * 86_400.0


@dataclass(frozen=True)
class RecentWindow:
    """What one check compares: the frame with history, which of its steps are recent, and how
    the window is described on the report."""

    frame: pa.Table
    inside: np.ndarray
    start: datetime
    end: datetime
    basis: str
    steps: int


def recent_window(version: ModelVersion, view: ModelView, *, days: int, end: datetime) -> RecentWindow:
    machines = _machines(version)
    steps = int(round(days * 24 / view.step_hours))
    history = timedelta(hours=view.step_hours * view.history_steps / view.time_scale)
    start = end - timedelta(days=days)
    if view.cycle_indexed:
        span = timedelta(hours=view.step_hours * steps / view.time_scale) + history
        frame = bucketed_frame(machine_type=version.machine_type, machines=machines, span=span,
                               step_hours=view.step_hours, time_scale=view.time_scale)
        inside = recent_mask(frame, start=None, days=days) if frame.num_rows else np.zeros(0, bool)
        return RecentWindow(frame, inside, start, end, DriftReport.Basis.LATEST_STEPS, steps)
    frame = bucketed_frame(machine_type=version.machine_type, machines=machines, start=start - history, end=end,
                           step_hours=view.step_hours, time_scale=view.time_scale)
    inside = recent_mask(frame, start=start, days=days) if frame.num_rows else np.zeros(0, bool)
    return RecentWindow(frame, inside, start, end, DriftReport.Basis.CLOCK, steps)


def _recent_inputs(view: ModelView, window: RecentWindow) -> tuple[np.ndarray, list[str]]:
    """The model's inputs on the window's recent steps, sampled to `RECENT_ROWS`."""
    matrix, names = view.inputs(window.frame)
    if not len(matrix):
        return matrix, names
    keep = np.random.default_rng(SEED).permutation(np.flatnonzero(window.inside))[:RECENT_ROWS]
    return matrix[np.sort(keep)], names


def _prediction_psi(version: ModelVersion, reference: DriftReference, start: datetime) -> tuple[float | None, int]:
    field = OUTPUT_FIELDS.get(version.kind)
    if field is None or not reference.scores.get("count"):
        return None, 0
    predictions = Prediction.objects.filter(created_at__gte=start, **{f"versions__{version.kind}": version.id})
    values = [v for v in predictions.order_by("-created_at").values_list(field, flat=True)[:RECENT_PREDICTIONS]
              if v is not None]
    if len(values) < MIN_PREDICTIONS:
        return None, len(values)
    value = drift.psi(reference.scores["edges"], reference.scores["shares"], values)
    return (None if value is None else round(value, 5)), len(values)


def _data_quality(reference: DriftReference, window: RecentWindow) -> list[dict[str, Any]]:
    if not window.frame.num_rows:
        return []
    out = []
    for name, before in reference.missing.items():
        if name not in window.frame.column_names:
            continue
        now = drift.missing_share(window.frame.column(name).to_numpy(zero_copy_only=False)[window.inside])
        change = None if now is None or before is None else round(now - before, 5)
        out.append({"signal": name, "reference": before, "recent": now, "change": change})
    return sorted(out, key=lambda q: -(q["change"] or 0))


# --- the check ------------------------------------------------------------------------------------


def drift_check(*, version: ModelVersion, days: int | None = None, threshold: float | None = None,
                trigger: str = "scheduled", now: datetime | None = None) -> DriftReport:
    """Compare the version's recent window with its reference; store the report."""
    days = int(days or settings.DRIFT_CHECK_DAYS)
    threshold = float(settings.DRIFT_THRESHOLD if threshold is None else threshold)
    view = ModelView.of(version)
    reference = drift_reference_ensure(version=version, view=view)
    window = recent_window(version, view, days=days, end=now or timezone.now())
    matrix, names = _recent_inputs(view, window)
    results = [drift.feature_drift(name, reference.features.get(name, {}), matrix[:, j],
                                   dependence=reference.dependence) for j, name in enumerate(names)]
    share = drift.drift_share(results)
    prediction_psi, predictions = _prediction_psi(version, reference, window.start)
    machines = window.frame.column("machine").to_numpy(zero_copy_only=False)[window.inside] if window.frame.num_rows \
        else []
    report = DriftReport.objects.create(
        version=version, window_start=window.start, window_end=window.end, basis=window.basis,
        window_steps=window.steps, threshold=threshold, trigger=trigger, machines=len(set(machines)),
        rows=len(matrix), features=json_safe(sorted((r.as_json() for r in results), key=lambda r: -(r["psi"] or 0))),
        drift_share=None if share is None else round(share, 5), prediction_psi=prediction_psi,
        predictions=predictions, data_quality=_data_quality(reference, window),
        status=drift.drift_status(share, prediction_psi, threshold=threshold),
    )
    drift_response(report)
    return report


def drift_response(report: DriftReport) -> ModelEvent | None:
    """What a drift report sets off: a drifted report becomes a "drift_detected" event on its
    version (once per report) and, for a type-wide champion, a retrain whose result is a
    challenger (`challenger.challenger_request`: a no-op while one is pending for the type)."""
    from predictions.services.challenger.retraining import challenger_request

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
                                 details={"report": report.id, "drift_share": report.drift_share,
                                          "kind": version.kind})
        if job is not None:
            event.details = {**event.details, "retrain_job": job.id}
            event.save(update_fields=["details"])
    return event


def monitored_versions() -> list[ModelVersion]:
    """The versions a scheduled run checks: every champion, classifiers first (their outcome
    snapshots are what challenger decisions read)."""
    order = {kind: i for i, kind in enumerate(ModelVersion.Kind.values)}
    versions = ModelVersion.objects.select_related("machine_type", "dataset").filter(
        status=ModelVersion.Status.CHAMPION)
    return sorted(versions, key=lambda v: (order.get(v.kind, len(order)), v.id))


def recently_checked(*, version_id: int, within: timedelta) -> bool:
    """A scheduled report newer than `within` exists: a duplicate delivery of the run skips it."""
    return DriftReport.objects.filter(version_id=version_id, trigger="scheduled",
                                      created_at__gte=timezone.now() - within).exists()


def drift_check_start(*, version: ModelVersion, created_by_id: int | None = None) -> Job:
    """On demand: a job on the `score` queue that checks drift (and, for a classifier, takes an
    outcome snapshot)."""
    from predictions.tasks import drift_check_task  # tasks import services, not the reverse

    with transaction.atomic():
        job = job_create(kind=CHECK_KIND, params={"version_id": version.id}, created_by_id=created_by_id,
                         queue="score")
        job_enqueue(job=job, task=drift_check_task)
    return job


def _takes_outcomes(version: ModelVersion) -> bool:
    """Outcome snapshots are kept on classifiers: a prediction's outcome (failure or not, and the
    RUL error) is judged once, on the classifier version that made it."""
    return version.kind == ModelVersion.Kind.FAILURE_CLASSIFIER


def drift_check_run(job: Job, progress: ProgressFn) -> dict[str, Any]:
    """The job: the drift report, then the outcome snapshot, of one version."""
    from predictions.services.outcomes import outcome_snapshot_take

    version = ModelVersion.objects.select_related("machine_type", "dataset").filter(
        id=job.params.get("version_id")).first()
    if version is None:
        raise Conflict("The model version of this job no longer exists.")
    progress(10, "Comparing recent data with the training reference")
    report = drift_check(version=version, trigger="manual")
    result: dict[str, Any] = {"report": report.id, "status": report.status, "drift_share": report.drift_share}
    if _takes_outcomes(version):
        progress(80, "Joining predictions with failures and work orders")
        result["outcomes"] = outcome_snapshot_take(version=version).id
    return result


def models_monitor(*, now: datetime | None = None) -> list[int]:
    """The scheduled run in one tenant: a drift report per champion and an outcome snapshot per
    champion classifier. A version checked by a scheduled run within the last hour is skipped, so
    a duplicate delivery does no work twice; one version's failure does not stop the others."""
    from predictions.services.outcomes import outcome_snapshot_take

    reports = []
    for version in monitored_versions():
        if recently_checked(version_id=version.id, within=timedelta(hours=1)):
            continue
        try:
            reports.append(drift_check(version=version, now=now).id)
            if _takes_outcomes(version):
                outcome_snapshot_take(version=version, now=now)
        except (Conflict, InvalidInput) as exc:
            logger.warning("Drift check of version %s skipped in %s: %s", version.id, connection.schema_name,
                           exc.message)
    return reports
