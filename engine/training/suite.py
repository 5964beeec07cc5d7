"""Train the four models of a machine type on one table, with what explanations need.

One entry point for the onboarding pipeline, real-data training and the benchmarks:
`train_suite(table, document, horizon_h=...)` -> bundles by kind, their timings and the
training table's fingerprint. The classifier's bundle carries the surrogate rule tree and the
past-failure case base (`engine.explain`); the classifier's and the RUL regressor's carry their
global explanation (mean |SHAP| importance, summary and dependence points on held-out machines:
`engine.global_explain`) and the feature ranking it gives as "importance" (by total gain when
too few machines are held out to explain). The anomaly
detector and the forecaster are imported lazily so a process that only classifies never loads
them. No Django imports.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from engine.attribution import LOG_ODDS
from engine.baselines import typical_spreads
from engine.bundles import ANOMALY, FAILURE, FORECAST, KINDS, RUL, Bundle
from engine.explain import CaseBase, global_importance
from engine.features import FeatureSpec, document_signals
from engine.frames import DEFAULT_STEP_HOURS, time_unit_of
from engine.global_explain import held_out_explanation, importance_items
from engine.metadata import MachineTypeLike
from engine.splits import split_train_validation_test
from engine.synthetic.scales import scale_from_metadata
from engine.training.classifier import (
    ClassifierResult,
    column_numpy,
    failure_labels,
    train_failure_classifier,
    training_features,
)
from engine.training.learners import XGBOOST, TreeModel
from engine.training.rul import train_rul_regressor
from engine.training.search import SearchSettings

Progress = Callable[[int, str], None]
# Continued boosting on a small real dataset: smaller steps and shallower trees, so the new trees
# correct the synthetic model rather than memorise a handful of runs.
FINE_TUNE_PARAMS = {"learning_rate": 0.03, "max_depth": 4, "min_child_weight": 5.0}


@dataclass
class Suite:
    bundles: dict[str, Bundle]
    seconds: dict[str, float]
    fingerprint: str
    rows: int
    machines: int
    skipped: dict[str, str] = field(default_factory=dict)  # kind -> why it was not trained


def table_fingerprint(table: pa.Table) -> str:
    """SHA-256 over the table's columns (names, types and values), independent of chunking."""
    digest = hashlib.sha256()
    for name in sorted(table.column_names):
        column = table.column(name).combine_chunks()
        digest.update(name.encode())
        digest.update(str(column.type).encode())
        for buffer in column.buffers():
            if buffer is not None:
                digest.update(memoryview(buffer))
    return digest.hexdigest()


def train_suite(
    table: pa.Table, document: MachineTypeLike, *, horizon_h: float, seed: int = 0,
    step_hours: float | None = None, kinds: Sequence[str] = KINDS, progress: Progress | None = None,
    spec: FeatureSpec | None = None, init: Mapping[str, Bundle] | None = None, init_rounds: int = 100,
    time_scale: float | None = None, search: SearchSettings | None = None, rul_cap_h: float | None = None,
    baseline_steps: int | None = None,
) -> Suite:
    """`init` fine-tunes: the failure classifier and RUL regressor continue boosting from these
    bundles' boosters (`init_rounds` more trees, the RUL cap kept); their feature spec is used.
    `search` (without `init`): the classifier and the RUL regressor are each chosen by a model
    search, each with the whole of its budget (engine.training.search).
    `step_hours` and `time_scale` (what the bundles carry, so scoring buckets readings the same
    way): a simulated table's own (its schema metadata) when None, else one hour and clock time.
    `rul_cap_h`: the RUL regressor's cap, when the caller knows the longest warning time.
    `baseline_steps` (cold start: a simulated table): the length of a machine's baseline in model
    steps; the bundles then carry `baseline_spreads`, the spread a healthy simulated machine shows
    in its baseline (`engine.baselines.typical_spreads`), which scoring scales a noisier real
    machine's deviations to."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown model kinds {unknown}; known: {', '.join(KINDS)}")
    report = progress or (lambda percent, message: None)
    spec = spec or FeatureSpec.for_document(document)
    suite = Suite({}, {}, table_fingerprint(table), table.num_rows,
                  len(set(column_numpy(table, "machine").astype(str))))
    simulated = scale_from_metadata(table.schema.metadata)
    if step_hours is None:
        step_hours = simulated.step_hours if simulated is not None else DEFAULT_STEP_HOURS
    if time_scale is None:
        time_scale = simulated.time_scale if simulated is not None else 1.0
    common: dict[str, Any] = {"step_hours": step_hours, "time_scale": time_scale, "trained_on_rows": table.num_rows}
    if baseline_steps is not None:
        common["baseline_spreads"] = typical_spreads(table, signals=document_signals(document), steps=baseline_steps)
    features = _Features(table, document)
    steps = [(FAILURE, "failure classifier"), (RUL, "remaining-life regressor"), (ANOMALY, "anomaly detector"),
             (FORECAST, "sensor forecaster")]
    for index, (kind, label) in enumerate(steps):
        if kind not in kinds:
            continue
        report(int(100 * index / len(steps)), f"Training the {label}")
        started = time.perf_counter()
        try:
            start_from = (init or {}).get(kind)
            options: dict[str, Any] = {"init": start_from, "rounds": init_rounds} if start_from is not None else {}
            if kind in (FAILURE, RUL) and search is not None and start_from is None:
                options.update(search=search, progress=_scaled(report, index, len(steps)))
            if kind == RUL and rul_cap_h is not None and start_from is None:
                options["cap_h"] = rul_cap_h
            if kind == RUL:
                options["time_scale"] = time_scale
            if kind == FORECAST:
                options["horizons"] = forecast_horizons(step_hours)
            suite.bundles[kind] = _TRAINERS[kind](table, document, horizon_h=horizon_h, seed=seed, spec=spec,
                                                  features=features, **options)
        except _NotTrainable as exc:
            suite.skipped[kind] = str(exc)
            continue
        suite.bundles[kind].extra.update(common)
        suite.seconds[kind] = round(time.perf_counter() - started, 3)
    report(100, "Models trained")
    return suite


def forecast_horizons(step_hours: float) -> list[float]:
    """The forecaster's horizons at this step: its hour-scale defaults (1-48 h), stretched for
    steps longer than an hour, so a daily-step model forecasts 1-48 days ahead, not 1-2 steps."""
    from engine.training.forecast import HORIZONS_H

    return [h * max(step_hours, 1.0) for h in HORIZONS_H]


def _scaled(report: Progress, index: int, steps: int) -> Progress:
    """A step's own 0-100 progress as its share of the suite's."""
    return lambda percent, message: report(int(100 * (index + percent / 100) / steps), message)


class _NotTrainable(Exception):
    """The data cannot train this kind (no failing runs for RUL, say); the others still train."""


@dataclass
class _Features:
    """The training table's window features, computed once per feature spec: the classifier, its
    explainers, the RUL regressor and the anomaly detector all learn from the same matrix (a
    fine-tuned model keeps its own spec, hence more than one)."""

    table: pa.Table
    document: MachineTypeLike
    computed: list[tuple[FeatureSpec, np.ndarray]] = field(default_factory=list)

    def matrix(self, spec: FeatureSpec) -> np.ndarray:
        matrix = self.known(spec)
        if matrix is None:
            matrix = training_features(self.table, self.document, spec)
            self.computed.append((spec, matrix))
        return matrix

    def known(self, spec: FeatureSpec) -> np.ndarray | None:
        return next((matrix for known, matrix in self.computed if known == spec), None)


def continues_boosting(bundle: Bundle) -> bool:
    """Can this classifier or RUL bundle be fine-tuned by continued boosting? Only a single
    XGBoost booster can (a searched model may be LightGBM or a blend)."""
    booster = getattr(bundle.model, "booster", None)
    return isinstance(booster, TreeModel) and booster.learner == XGBOOST


def _continued(init: Bundle) -> Any:
    if not continues_boosting(init):
        raise _NotTrainable("only an XGBoost champion can be fine-tuned by continued boosting")
    return init.model.booster.raw


def _failure(table: pa.Table, document: MachineTypeLike, *, horizon_h: float, seed: int, spec: FeatureSpec,
             features: _Features, init: Bundle | None = None, rounds: int | None = None,
             search: SearchSettings | None = None, progress: Progress | None = None) -> Bundle:
    extra: dict[str, Any] = {"spec": spec, "search": search, "progress": progress}
    if init is not None:
        extra = {"init": _continued(init), "rounds": rounds, "spec": init.model.spec, "params": FINE_TUNE_PARAMS}
        horizon_h = init.model.horizon_h
    matrix = features.matrix(extra["spec"])
    result = train_failure_classifier(table, document, horizon_h=horizon_h, seed=seed, features=matrix, **extra)
    return Bundle(FAILURE, result, _classifier_extra(result, table, seed, matrix))


def _classifier_extra(result: ClassifierResult, table: pa.Table, seed: int, features: np.ndarray) -> dict[str, Any]:
    label, keep = failure_labels(table, result.horizon_h)
    machines = column_numpy(table, "machine").astype(str)
    train, _, test = split_train_validation_test(machines, seed=seed)
    train, test = train & keep, test & keep
    view = held_out_explanation(result.booster, features, held_out=test, trained=train, names=result.feature_names,
                                output=LOG_ODDS, seed=seed)
    importance = _importance(view, result.booster, result.feature_names)
    position = {name: i for i, name in enumerate(result.feature_names)}
    cases = CaseBase.build(
        features[train], label[train], machines=machines[train],
        modes=column_numpy(table, "failure_mode").astype(str)[train],
        time_to_failure=column_numpy(table, "time_to_failure_h").astype(np.float64)[train],
        importance_order=[position[item["feature"]] for item in importance], seed=seed,
    )
    return {"cases": cases.to_arrays(), "importance": importance,
            **({"global_explanation": view} if view is not None else {})}


def _importance(view: dict[str, Any] | None, model: Any, names: Sequence[str]) -> list[dict[str, Any]]:
    """The features ranked by mean |SHAP| where there is a global view, else by total gain."""
    return importance_items(view) if view is not None else global_importance(model, names)


def _rul(table: pa.Table, document: MachineTypeLike, *, horizon_h: float, seed: int, spec: FeatureSpec,
         features: _Features, init: Bundle | None = None, rounds: int | None = None,
         search: SearchSettings | None = None, progress: Progress | None = None,
         cap_h: float | None = None, time_scale: float = 1.0) -> Bundle:
    extra: dict[str, Any] = {"spec": spec, "search": search, "progress": progress, "cap_h": cap_h}
    if init is not None:
        extra = {"init": _continued(init), "rounds": rounds, "spec": init.model.spec,
                 "cap_h": init.model.cap_h, "params": FINE_TUNE_PARAMS}
    matrix = features.matrix(extra["spec"])
    try:
        result = train_rul_regressor(table, document, seed=seed, features=matrix, **extra)
    except ValueError as exc:
        raise _NotTrainable(str(exc)) from exc
    # Explained on the rows its metrics are measured on: the held-out machines' failing runs.
    known = ~np.isnan(column_numpy(table, "time_to_failure_h").astype(np.float64))
    train, _, test = split_train_validation_test(column_numpy(table, "machine").astype(str), seed=seed)
    unit = "hours" if time_unit_of(time_scale) == "h" else "cycles"
    view = held_out_explanation(result.booster, matrix, held_out=test & known, trained=train & known,
                                names=result.feature_names, output=f"{unit} of remaining life", seed=seed)
    extra_out: dict[str, Any] = {"importance": _importance(view, result.booster, result.feature_names)}
    if view is not None:
        extra_out["global_explanation"] = view
    return Bundle(RUL, result, extra_out)


def _anomaly(table: pa.Table, document: MachineTypeLike, *, horizon_h: float, seed: int,
             spec: FeatureSpec, features: _Features) -> Bundle:
    from engine.training.anomaly import train_anomaly_detector

    try:
        # Only a matrix already computed: on its own the detector checks the table first, so a
        # table it cannot learn from is skipped with a reason rather than failing the suite.
        result = train_anomaly_detector(table, document, seed=seed, spec=spec, features=features.known(spec))
    except ValueError as exc:
        raise _NotTrainable(str(exc)) from exc
    return Bundle(ANOMALY, result)


def _forecast(table: pa.Table, document: MachineTypeLike, *, horizon_h: float, seed: int,
              spec: FeatureSpec, features: _Features, horizons: Sequence[float]) -> Bundle:  # reads raw signals
    from engine.training.forecast import train_sensor_forecaster

    try:
        result = train_sensor_forecaster(table, document, seed=seed, horizons=horizons)
    except ValueError as exc:
        raise _NotTrainable(str(exc)) from exc
    return Bundle(FORECAST, result)


_TRAINERS: dict[str, Callable[..., Bundle]] = {FAILURE: _failure, RUL: _rul, ANOMALY: _anomaly, FORECAST: _forecast}

