"""Score model frames with a machine type's models: probability, failure mode, RUL with its
interval, anomaly score, the verdict (state, health, risk shown: `engine.decision`) and, on
request, the explanation. No Django imports.

`score_frame(models, frame, rows="latest")` scores each machine's latest step given its recent
history (the fleet and on-demand paths); `rows="all"` scores every step of the frame (batch
files). Everything is vectorised over rows; explanations cost more (TreeSHAP, the case search)
and are computed in chunks only when asked for.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.bundles import ANOMALY, FAILURE, FORECAST, RUL, Bundle
from engine.decision import Verdicts, decide
from engine.explain import CaseBase, confidence
from engine.explanation import Inputs, explain_rows
from engine.features import FeatureSpec, serving_features, window_features
from engine.frames import time_unit_of
from engine.metadata import MachineTypeSchema, machine_type_schema
from engine.training.classifier import column_numpy

Array = np.ndarray
EXPLAIN_CHUNK = 1_000


@dataclass
class ModelSet:
    """The champion bundles of one machine type (at least the failure classifier)."""

    document: Mapping[str, Any]
    bundles: dict[str, Bundle]
    versions: dict[str, int] = field(default_factory=dict)  # kind -> model version id
    sources: dict[str, str] = field(default_factory=dict)  # kind -> the data it learned from (Dataset.Source)
    # The tenant's own past failures as cases (the app builds them: predictions/services/past_cases.py).
    real_cases: CaseBase | None = None
    _cases: tuple[CaseBase | None] | None = None  # read from the bundle once

    def __post_init__(self) -> None:
        if FAILURE not in self.bundles:
            raise ValueError("a model set needs a failure classifier")

    @property
    def classifier(self) -> Any:
        return self.bundles[FAILURE].model

    @functools.cached_property
    def schema(self) -> MachineTypeSchema:
        """The type read once per model set (machine_type_schema hashes the document to find it)."""
        return machine_type_schema(self.document)

    @property
    def step_hours(self) -> float:
        return float(self.bundles[FAILURE].extra.get("step_hours", 1.0))

    @property
    def time_scale(self) -> float:
        """3600 when the models learned from cycle-indexed data (engine.frames)."""
        return float(self.bundles[FAILURE].extra.get("time_scale", 1.0))

    @property
    def baseline_spreads(self) -> dict[str, float] | None:
        """The spread a healthy simulated machine showed in its baseline, per signal (cold-start
        models trained since it was kept; None for older ones and models of real data)."""
        spreads = self.bundles[FAILURE].extra.get("baseline_spreads")
        return dict(spreads) if spreads else None

    @property
    def time_unit(self) -> str:
        """"cycles" or "h": the unit of the horizon and the remaining life."""
        return time_unit_of(self.time_scale)

    def detector(self) -> Any | None:
        """The anomaly detector, if it reads the classifier's steps. One trained on normal
        operation at the data's own step (20 ms, say: `normal_training`) while the classifier is
        still the simulated hourly one would score hourly means it never saw: it is left out here
        and scores files alone (`anomaly_files`)."""
        bundle = self.bundles.get(ANOMALY)
        if bundle is None:
            return None
        own = (float(bundle.extra.get("step_hours", 1.0)), float(bundle.extra.get("time_scale", 1.0)))
        return bundle.model if own == (self.step_hours, self.time_scale) else None

    @property
    def history_steps(self) -> int:
        """Steps of history a prediction needs for full windows."""
        return max(max(b.model.spec.windows) for b in self.bundles.values() if hasattr(b.model, "spec"))

    @property
    def baseline_steps(self) -> int:
        """Steps from the start of the current run a prediction needs (run age and baseline)."""
        return max((b.model.spec.baseline_steps for b in self.bundles.values() if hasattr(b.model, "spec")),
                   default=0)

    def case_base(self) -> CaseBase | None:
        """The simulated (training) failure windows similar past cases are found among."""
        if self._cases is None:
            extra = self.bundles[FAILURE].extra
            self._cases = (CaseBase.from_arrays(extra["cases"]) if "cases" in extra else None,)
        return self._cases[0]


@dataclass
class Scores:
    """Scores of many rows as columns; `rows()` turns them into the dicts the API returns."""

    machine: Array  # str
    window_end: pa.Array  # timestamps
    positions: Array  # frame row of each scored row
    matrix: Array  # the classifier's features
    horizon_h: float
    threshold: float
    probability: Array
    failure_mode: Array  # str, "" where no failure is predicted
    failure_mode_probability: Array  # NaN where no failure is predicted
    rul: tuple[Array, Array, Array] | None
    anomaly: Array | None
    verdicts: Verdicts
    confidence: Array

    def __len__(self) -> int:
        return len(self.machine)

    @property
    def health(self) -> Array:
        """0-100 by the decision rules, NaN while a machine learns its normal."""
        return self.verdicts.health

    def rows(self) -> list[dict[str, Any]]:
        times = self.window_end.to_pylist()
        probability = np.round(self.probability, 5).tolist()
        predicted = (self.probability >= self.threshold).tolist()
        mode_p = [None if p != p else round(p, 4) for p in self.failure_mode_probability.tolist()]
        rul = [np.round(a, 2).tolist() for a in self.rul] if self.rul else None
        anomaly = np.round(self.anomaly, 4).tolist() if self.anomaly is not None else None
        trust = np.round(self.confidence, 3).tolist()
        return [{
            "machine": str(self.machine[i]), "window_end": times[i], "horizon_h": self.horizon_h,
            "probability": probability[i], "prediction": predicted[i], "threshold": self.threshold,
            "failure_mode": str(self.failure_mode[i]), "failure_mode_probability": mode_p[i],
            "rul_h": rul[0][i] if rul else None, "rul_lower_h": rul[1][i] if rul else None,
            "rul_upper_h": rul[2][i] if rul else None, "anomaly_score": anomaly[i] if anomaly else None,
            "confidence": trust[i], **self.verdicts.row(i),
        } for i in range(len(self))]


def score_columns(models: ModelSet, frame: pa.Table, *, rows: str | Array = "latest",
                  learning: Mapping[str, float] | None = None) -> Scores:
    """The vectorised core: every score of every scored row, no explanations. `rows`: "latest",
    "all", or the frame positions to score (each with its history in the frame). `learning`: each
    machine's baseline progress (0-1) where it is still learning its normal (no verdict then)."""
    if isinstance(rows, str) and rows not in ("latest", "all"):
        raise ValueError("rows must be 'latest', 'all' or frame positions")
    clf = models.classifier
    machines, times, matrix, positions = _features(frame, clf.signals, clf.spec, rows)
    probability = clf.predict_proba(matrix)
    mode, mode_p = _modes(clf, matrix, probability >= clf.threshold)
    rul = _rul(models, frame, rows, matrix)
    anomaly = _anomaly(models, frame, rows, matrix)
    cap = models.bundles[RUL].model.cap_h if RUL in models.bundles else None
    progress = None if learning is None else [learning.get(str(m)) for m in machines]
    skill = models.bundles[RUL].model.metrics.get("r2") if RUL in models.bundles else None
    verdicts = decide(probability=probability, threshold=clf.threshold, rul=rul[0] if rul else None, rul_cap=cap,
                      horizon=clf.horizon_h, anomaly=anomaly, learning=progress, rul_skill=skill)
    return Scores(machines, times, positions, matrix, clf.horizon_h, clf.threshold, probability, mode, mode_p, rul,
                  anomaly, verdicts, confidence(probability, clf.threshold))


def score_frame(models: ModelSet, frame: pa.Table, *, rows: str = "latest", explain: bool = True,
                forecast_horizon_h: float | None = 168.0,
                learning: Mapping[str, float] | None = None) -> list[dict[str, Any]]:
    """Scores as dicts; with `explain`, the explanation too, and for `rows="latest"` the sensor
    forecast over `forecast_horizon_h` hours (None leaves it out: it is the costliest part of an
    explanation, ~5 ms a machine). `learning` as in `score_columns`."""
    if not frame.num_rows:
        return []
    scores = score_columns(models, frame, rows=rows, learning=learning)
    out = scores.rows()
    if explain:
        _explain(models, frame, out, scores.matrix, scores.positions, rows)
        if rows == "latest" and forecast_horizon_h:  # per batch row it would repeat itself row after row
            _forecasts(models, frame, out, forecast_horizon_h)
    return out


@dataclass(frozen=True)
class RecentSteps:
    """Each machine's last steps, oldest first: its verdict states and its anomaly scores (None
    where the type has no anomaly detector)."""

    states: dict[str, list[str]]
    anomalies: dict[str, list[float | None]]


def recent_steps(models: ModelSet, frame: pa.Table, *, steps: int,
                 learning: Mapping[str, float] | None = None) -> RecentSteps:
    """Each machine's verdict state and anomaly score at each of its last `steps` steps in the
    frame, oldest first: the windows an alert rule's k of n and its hysteresis read (the evidence
    in the readings, however often the machine is scored), for both alert kinds."""
    if not frame.num_rows or steps < 1:
        return RecentSteps({}, {})
    machines = column_numpy(frame, "machine").astype(str)
    order = np.lexsort((_epoch_us(frame), machines))
    ends = np.r_[machines[order][1:] != machines[order][:-1], True]
    rank = _rank_from_end(ends)
    scores = score_columns(models, frame, rows=np.sort(order[rank < steps]), learning=learning)
    anomaly = scores.anomaly.tolist() if scores.anomaly is not None else [None] * len(scores)
    states: dict[str, list[str]] = {}
    anomalies: dict[str, list[float | None]] = {}
    for position in np.argsort(_epoch_us(frame)[scores.positions], kind="stable"):
        machine = str(scores.machine[position])
        states.setdefault(machine, []).append(str(scores.verdicts.state[position]))
        value = anomaly[position]
        anomalies.setdefault(machine, []).append(None if value is None or value != value else float(value))
    return RecentSteps(states, anomalies)


def _rank_from_end(ends: Array) -> Array:
    """For rows sorted by (machine, time) with `ends` marking each machine's last row: how many
    rows of the same machine come after each."""
    index = np.arange(len(ends))
    next_end = np.minimum.accumulate(np.where(ends, index, len(ends))[::-1])[::-1]
    return next_end - index


def _epoch_us(frame: pa.Table) -> Array:
    return np.asarray(frame.column("ts").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(
        zero_copy_only=False))


def _features(frame: pa.Table, signals: list[str], spec: FeatureSpec,
              rows: str | Array) -> tuple[Array, pa.Array, Array, Array]:
    """(machine per row, time per row, feature matrix, frame row index per scored row)."""
    machine_column = column_numpy(frame, "machine")
    times = frame.column("ts").combine_chunks()
    if not isinstance(rows, str):  # chosen positions: every row's windows, then the chosen ones
        matrix, _ = window_features(frame, signals=signals, spec=spec)
        return machine_column[rows], times.take(pa.array(rows)), matrix[rows], np.asarray(rows)
    if rows == "all":
        matrix, _ = window_features(frame, signals=signals, spec=spec)
        return machine_column, times, matrix, np.arange(frame.num_rows)
    machines, matrix, _ = serving_features(frame, signals=signals, spec=spec)
    latest = _latest_rows(frame, machine_column.astype(str))
    positions = np.array([latest[m] for m in machines], dtype=np.int64)
    return np.array(machines, dtype=object), times.take(pa.array(positions)), matrix, positions


def _latest_rows(frame: pa.Table, machines: Array) -> dict[str, int]:
    hours = np.asarray(frame.column("ts").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64()).to_numpy(
        zero_copy_only=False))
    latest: dict[str, int] = {}
    for index in np.lexsort((hours, machines)):
        latest[str(machines[index])] = int(index)
    return latest


def _same_spec(a: FeatureSpec, b: FeatureSpec) -> bool:
    return a == b


def _matrix_for(model: Any, models: ModelSet, frame: pa.Table, rows: str | Array, matrix: Array) -> Array:
    """The classifier's matrix when the model was trained on the same features, else its own."""
    clf = models.classifier
    if _same_spec(model.spec, clf.spec) and list(model.signals) == list(clf.signals):
        return matrix
    return _features(frame, model.signals, model.spec, rows)[2]


def _modes(clf: Any, matrix: Array, predicted: Array) -> tuple[Array, Array]:
    """The most likely failure mode and its probability, for the rows predicted to fail only: a
    mode is an answer to "what will fail", which only those rows ask (and the multi-class model
    is the costliest of the boosters)."""
    names = np.full(len(matrix), "", dtype=object)
    probability = np.full(len(matrix), np.nan)
    if not clf.mode_names or not predicted.any():
        return names, probability
    if clf.mode_booster is None:
        names[predicted], probability[predicted] = clf.mode_names[0], 1.0
        return names, probability
    proba = clf.predict_mode_proba(matrix[predicted])
    best = proba.argmax(axis=1)
    names[predicted] = np.array(clf.mode_names, dtype=object)[best]
    probability[predicted] = proba[np.arange(len(best)), best]
    return names, probability


def _rul(models: ModelSet, frame: pa.Table, rows: str | Array, matrix: Array) -> tuple[Array, Array, Array] | None:
    bundle = models.bundles.get(RUL)
    if bundle is None:
        return None
    result = bundle.model
    prediction, lower, upper = result.predict_interval(_matrix_for(result, models, frame, rows, matrix))
    return prediction, lower, upper


def _anomaly(models: ModelSet, frame: pa.Table, rows: str | Array, matrix: Array) -> Array | None:
    detector = models.detector()
    if detector is None:
        return None
    return np.asarray(detector.score(_matrix_for(detector, models, frame, rows, matrix)), np.float64)


def _explain(models: ModelSet, frame: pa.Table, out: list[dict[str, Any]], matrix: Array, positions: Array,
             rows_mode: str | Array) -> None:
    rul = models.bundles.get(RUL)
    detector = models.detector()
    rul_matrix = _matrix_for(rul.model, models, frame, rows_mode, matrix) if rul is not None else None
    anomaly_matrix = _matrix_for(detector, models, frame, rows_mode, matrix) if detector is not None else None
    for start in range(0, len(out), EXPLAIN_CHUNK):
        chunk = slice(start, start + EXPLAIN_CHUNK)
        inputs = Inputs(frame, positions[chunk], rul_matrix[chunk] if rul_matrix is not None else None,
                        anomaly_matrix[chunk] if anomaly_matrix is not None else None,
                        latest=isinstance(rows_mode, str) and rows_mode == "latest")
        explain_rows(models, out[chunk], matrix[chunk], inputs)


def _forecasts(models: ModelSet, frame: pa.Table, out: list[dict[str, Any]], horizon_h: float) -> None:
    bundle = models.bundles.get(FORECAST)
    if bundle is None:
        return
    from engine.training.forecast import forecast_crossings

    machine_column = column_numpy(frame, "machine").astype(str)
    for item in out:
        history = frame.filter(pa.array(machine_column == item["machine"]))
        history = history.filter(pc.less_equal(history.column("ts"), pa.scalar(item["window_end"],
                                                       history.column("ts").type)))
        forecast = forecast_crossings(bundle.model, history, models.schema, horizon_h=horizon_h)
        # A cycle model's steps are cycles: its "hours" to a limit count cycles (models.time_unit).
        item["explanation"]["forecast"] = [{**signal, "time_unit": models.time_unit} for signal in forecast]

