"""Models of independent-observation data: one classifier per label, on each row's own values.

An observation type (docs/metadata.md) holds one labelled row per process run, inspection or test
cycle. Nothing links a row to the one before it, so there are no windows, runs or horizons: the
features are the row's own values (scalar sensors, array sensors' per-row summaries, derived
signals computed on them), and each label is learned as its own multi-class (or binary) problem.

Validation
----------
Stratified K-fold over rows (default 5 folds, shuffled with the seed): every fold keeps each
class's share, so every class is trained on and tested on. Rows are independent by the type's
own declaration; a contiguous split would be wrong for the usual way such data is recorded, with
conditions set in blocks of consecutive rows (it leaves whole classes out of training). When rows
of one machine are not independent of each other (repeated inspections of few units), pass
`groups` (the machine of each row): the folds then keep a group's rows together
(`StratifiedGroupKFold`), so no unit is both trained and tested on.

Every metric is measured on out-of-fold predictions: each row predicted by the model that did
not see it. In the same job, with the same features and the same folds, a plain baseline
(XGBoost with its default settings) is measured; the learner with the better out-of-fold macro-F1
is refitted on every labelled row and kept, and the report shows both.

The learner is pluggable: any `Learner` (number of classes, seed -> an unfitted classifier with
scikit-learn's `fit` / `predict_proba` whose fitted form `booster_of` can store) can replace the
default. No Django here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from engine.array_summaries import summary_slots
from engine.metadata import MachineTypeLike, MachineTypeSchema, machine_type_schema

Array = np.ndarray
Learner = Callable[[int, int], Any]  # (classes, seed) -> an unfitted classifier
Progress = Callable[[int, str], None]
DEFAULT_FOLDS = 5
MIN_CLASS_ROWS = 2  # a class seen once cannot be both trained on and tested on


def xgboost_learner(classes: int, seed: int) -> xgb.XGBClassifier:
    """The default learner: twice XGBoost's default trees, each on 80% of the rows and half the
    features (a few hundred summary features, many of them near copies of each other), with 64
    histogram bins rather than 256, which keeps its time near the baseline's."""
    return xgb.XGBClassifier(n_estimators=200, learning_rate=0.1, max_depth=6, subsample=0.8,
                             colsample_bytree=0.5, max_bin=64, random_state=seed, n_jobs=2, verbosity=0)


def plain_xgboost(classes: int, seed: int) -> xgb.XGBClassifier:
    """The baseline: XGBoost as a data scientist's first notebook cell has it."""
    return xgb.XGBClassifier(random_state=seed, n_jobs=2, verbosity=0)


# The learners a stored model names (`TargetModel.learner`), so its way of learning can be re-run.
LEARNERS: dict[str, Learner] = {"xgboost_learner": xgboost_learner, "plain_xgboost": plain_xgboost}


# --- features ---------------------------------------------------------------------------------


def feature_names_for(slots: Sequence[str], document: MachineTypeLike) -> list[str]:
    """The stored slots (scalar sensors, categorical ones as their index, array summaries), then
    the derived signals."""
    return [*slots, *(name for name, _ in machine_type_schema(document).formulas)]


def observation_features(columns: Mapping[str, Array], names: Sequence[str], document: MachineTypeLike,
                         rows: int) -> Array:
    """(rows, features) float64 in the order of `names`; a column missing from `columns` is NaN.
    Formulas read an array sensor as its row mean."""
    schema = machine_type_schema(document)
    values = {name: np.asarray(columns[name], dtype=np.float64) if name in columns else np.full(rows, np.nan)
              for name in names if name in columns or not _derived(name, schema)}
    inputs = {sensor.name: values.get(sensor.name, np.full(rows, np.nan)) for sensor in schema.numeric_sensors}
    for sensor in schema.sensors:
        if sensor.array:
            inputs[sensor.name] = values.get(summary_slots(sensor.name)[0], np.full(rows, np.nan))
    with np.errstate(all="ignore"):
        derived = schema.derived_evaluate(inputs) if schema.formulas else {}
    matrix = np.column_stack([np.broadcast_to(np.asarray(values[name] if name in values else derived[name],
                                                         dtype=np.float64), (rows,)) for name in names])
    matrix[~np.isfinite(matrix)] = np.nan
    return matrix.reshape(rows, len(names))


def _derived(name: str, schema: MachineTypeSchema) -> bool:
    signal = schema.by_name.get(name)
    return signal is not None and signal.derived


# --- the model --------------------------------------------------------------------------------


@dataclass
class TargetModel:
    """One label's classifier: `classes` in the column order of its probabilities."""

    name: str
    classes: list[str]
    booster: xgb.Booster
    learner: str

    def predict_proba(self, matrix: Array) -> Array:
        raw = self.booster.predict(xgb.DMatrix(matrix, missing=np.nan))
        if raw.ndim == 1:  # binary: the probability of the second class
            raw = np.column_stack([1 - raw, raw])
        return np.asarray(raw, dtype=np.float64)


@dataclass
class ObservationModel:
    """Every label's classifier on one feature list, with their out-of-fold metrics."""

    feature_names: list[str]
    targets: list[TargetModel]
    metrics: dict[str, Any] = field(default_factory=dict)  # label -> the kept learner's metrics
    baseline: dict[str, Any] = field(default_factory=dict)  # label -> the plain baseline's
    validation: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # label -> why it has no model

    def predict(self, matrix: Array) -> dict[str, tuple[Array, Array]]:
        """Per label: each row's class and the probabilities of every class. Rows are scored
        one by one in effect: no row's result depends on the others given with it."""
        found: dict[str, tuple[Array, Array]] = {}
        for target in self.targets:
            probabilities = target.predict_proba(matrix)
            found[target.name] = (np.asarray(target.classes, dtype=object)[probabilities.argmax(axis=1)],
                                  probabilities)
        return found


def booster_of(model: Any) -> xgb.Booster:
    """The stored form of a fitted learner (XGBoost's booster)."""
    return model.get_booster() if hasattr(model, "get_booster") else model


# --- training ---------------------------------------------------------------------------------


def train_observations(matrix: Array, feature_names: Sequence[str], labels: Mapping[str, Array],
                       classes: Mapping[str, Sequence[str]], *, learner: Learner = xgboost_learner,
                       baseline: Learner = plain_xgboost, folds: int = DEFAULT_FOLDS, seed: int = 0,
                       groups: Array | None = None, progress: Progress | None = None) -> ObservationModel:
    """One classifier per label in `labels` (each row's class, None where unlabelled), validated
    out of fold against the baseline; `classes` lists each label's declared classes."""
    result = ObservationModel(feature_names=list(feature_names), targets=[],
                              validation={"split": "stratified k-fold" if groups is None else "stratified group k-fold",
                                          "folds": folds, "seed": seed, "shuffled": True})
    for position, (name, column) in enumerate(labels.items()):
        if progress is not None:
            progress(int(100 * position / max(len(labels), 1)), f"Training label '{name}'")
        rows, reason = _trainable(column, folds)
        if reason:
            result.skipped[name] = reason
            continue
        chosen, measured = _train_one(matrix[rows], column[rows], classes[name], learner, baseline, folds=folds,
                                      seed=seed, groups=None if groups is None else groups[rows])
        result.targets.append(TargetModel(name=name, classes=chosen["classes"], booster=chosen["booster"],
                                          learner=chosen["learner"]))
        result.metrics[name], result.baseline[name] = measured
    return result


def _trainable(column: Array, folds: int) -> tuple[Array, str]:
    labelled = np.array([value is not None for value in column], dtype=bool)
    values, counts = np.unique(column[labelled].astype(str), return_counts=True)
    rare = [f"{value} ({count})" for value, count in zip(values, counts, strict=True) if count < MIN_CLASS_ROWS]
    if len(values) < 2:
        return labelled, f"needs rows of at least two classes; found {len(values)}"
    if rare:
        return labelled, (f"every class needs at least {MIN_CLASS_ROWS} labelled rows to be validated; "
                          f"too few: {', '.join(rare)}")
    return labelled, ""


def _train_one(matrix: Array, column: Array, declared: Sequence[str], learner: Learner, baseline: Learner, *,
               folds: int, seed: int, groups: Array | None) -> tuple[dict[str, Any], tuple[dict[str, Any],
                                                                                          dict[str, Any]]]:
    present, target = _encoded(column, declared)
    splits = _folds(target, folds, seed, groups)
    measured = {role: _out_of_fold(make, matrix, target, splits, present, seed)
                for role, make in (("learner", learner), ("baseline", baseline))}
    keep = "baseline" if measured["baseline"]["macro_f1"] > measured["learner"]["macro_f1"] else "learner"
    final = (learner if keep == "learner" else baseline)(len(present), seed).fit(matrix, target)
    name = getattr(learner if keep == "learner" else baseline, "__name__", keep)
    chosen = {"classes": present, "booster": booster_of(final), "learner": name}
    return chosen, ({**measured[keep], "learner": name, "kept_over_baseline": keep == "learner"},
                    measured["baseline"])


def out_of_fold_metrics(matrix: Array, column: Array, declared: Sequence[str], learner: Learner, *,
                        folds: int = DEFAULT_FOLDS, seed: int = 0, groups: Array | None = None) -> dict[str, Any]:
    """A learner's out-of-fold metrics on one label's labelled rows, on the very folds
    `train_observations` cuts for that label from the same rows, seed and fold count (how a
    champion's way of learning is re-measured beside a new model)."""
    rows = np.array([value is not None for value in column], dtype=bool)
    present, target = _encoded(column[rows], declared)
    splits = _folds(target, folds, seed, None if groups is None else groups[rows])
    return _out_of_fold(learner, matrix[rows], target, splits, present, seed)


def _encoded(column: Array, declared: Sequence[str]) -> tuple[list[str], Array]:
    """The declared classes present in the column, in declared order, and each row's index."""
    present = [value for value in declared if value in set(column.tolist())]
    return present, np.array([present.index(value) for value in column], dtype=np.int64)


def _out_of_fold(make: Learner, matrix: Array, target: Array, splits: list[tuple[Array, Array]],
                 present: Sequence[str], seed: int) -> dict[str, Any]:
    started = time.perf_counter()
    predicted = np.empty(len(target), dtype=np.int64)
    for train, test in splits:
        predicted[test] = _fit_predict(make, matrix[train], target[train], matrix[test], len(present), seed)
    return {**_metrics(target, predicted, present), "seconds": round(time.perf_counter() - started, 2)}


def _folds(target: Array, folds: int, seed: int, groups: Array | None) -> list[tuple[Array, Array]]:
    smallest = int(np.bincount(target).min())
    count = max(2, min(folds, smallest))  # a class with 3 rows allows 3 folds, not 5
    if groups is not None:
        count = max(2, min(count, len(np.unique(groups))))
        splitter = StratifiedGroupKFold(n_splits=count, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(target)), target, groups))
    return list(StratifiedKFold(n_splits=count, shuffle=True, random_state=seed).split(np.zeros(len(target)), target))


def _fit_predict(make: Learner, train_x: Array, train_y: Array, test_x: Array, classes: int, seed: int) -> Array:
    """Classes absent from a training fold (a group split may leave one out) are renumbered for
    the learner and mapped back, so a fold never fails on them."""
    seen = np.unique(train_y)
    if len(seen) == 1:
        return np.full(len(test_x), seen[0])
    model = make(len(seen), seed).fit(train_x, np.searchsorted(seen, train_y))
    return np.asarray(seen[np.asarray(model.predict_proba(test_x)).argmax(axis=1)])


def _metrics(target: Array, predicted: Array, classes: Sequence[str]) -> dict[str, Any]:
    labels = list(range(len(classes)))
    per_class = f1_score(target, predicted, labels=labels, average=None, zero_division=0)
    return {"accuracy": float(accuracy_score(target, predicted)),
            "macro_f1": float(f1_score(target, predicted, labels=labels, average="macro", zero_division=0)),
            "f1_per_class": {value: float(score) for value, score in zip(classes, per_class, strict=True)},
            "rows": len(target),
            "class_counts": {value: int(count) for value, count in zip(classes, np.bincount(target, minlength=len(
                classes)), strict=True)}}
