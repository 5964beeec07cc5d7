"""Failure classifier: probability that a machine fails within `horizon_h` hours, plus the most
likely failure mode. No Django imports.

Labels
------
- A row of a failing run is positive when its `time_to_failure_h <= horizon_h` (horizon 0: only the
  failure row itself), negative otherwise.
- A censored run (no failure observed, `time_to_failure_h` NaN) is negative except its last
  `horizon_h` hours, whose rows are dropped: whether the machine failed soon after the observation
  stopped is unknown, so calling them negatives would be a guess.

Training
--------
Window features (`engine.features.window_features`) are computed on the whole table so each
row sees its full history, then rows are split train / validation / test by machine. XGBoost
(`binary:logistic`, hist) with `scale_pos_weight` = negatives / positives of the training rows.
The decision threshold is chosen on the validation machines: the one with the best F1 among those
whose false-positive rate is at most `max_fpr` (default 0.05). When none qualifies, the threshold
with the lowest validation FPR is used and `threshold_note` says so. Metrics are measured on the
test machines, next to a majority-class baseline.

When at least two failure modes occur among the positive rows, a second booster
(`multi:softprob`) predicts the mode from the same features, trained on positive rows only; its
test accuracy is reported next to always predicting the training set's most common mode.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import xgboost as xgb

from engine.features import FeatureSpec, document_signals, feature_names, window_features
from engine.metadata import MachineTypeLike
from engine.splits import split_train_validation_test
from engine.training.learners import XGBOOST, TreeModel
from engine.training.search import (
    BINARY,
    Model,
    Progress,
    SearchOutcome,
    SearchSettings,
    model_blobs,
    model_from_blobs,
    plain_model,
    search_classifier,
)
from engine.training.thresholds import binary_metrics, choose_threshold

Array = np.ndarray

DEFAULT_PARAMS: dict[str, Any] = {
    "tree_method": "hist",
    "max_depth": 6,
    "learning_rate": 0.1,
    "subsample": 0.9,
    "colsample_bytree": 0.8,
    "min_child_weight": 1.0,
    "nthread": 2,
}
DEFAULT_ROUNDS = 250
_UNSAFE = re.compile(r"[\[\]<>{}:,\"]")  # XGBoost refuses [ ] <; LightGBM JSON characters


@dataclass
class ClassifierResult:
    booster: Model  # one booster of either library, or a blend (engine.training.search)
    feature_names: list[str]  # sanitised, in the column order predict_proba expects
    signals: list[str]
    spec: FeatureSpec
    horizon_h: float
    threshold: float
    threshold_note: str  # "" when the threshold met the FPR target on validation
    metrics: dict[str, float]  # test machines
    baseline: dict[str, float]  # majority class on the test machines
    validation: dict[str, float]  # at the chosen threshold
    mode_booster: xgb.Booster | None = None
    mode_names: list[str] = field(default_factory=list)
    mode_metrics: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)  # the search's leaderboard and choices, when searched

    def predict_proba(self, features: Array) -> Array:
        """Probability of failure within the horizon for each row of a (rows, features) matrix."""
        return self.booster.predict(features)

    def predict(self, features: Array) -> Array:
        return self.predict_proba(features) >= self.threshold

    def predict_mode_proba(self, features: Array) -> Array:
        """(rows, modes) probabilities over `mode_names`; empty columns when no mode model."""
        if self.mode_booster is None:
            return np.zeros((len(features), len(self.mode_names)))
        raw = np.asarray(self.mode_booster.inplace_predict(np.asarray(features, dtype=np.float32)), dtype=np.float64)
        return raw.reshape(len(features), len(self.mode_names))

    def predict_mode(self, features: Array) -> list[str]:
        if self.mode_booster is None:
            return [self.mode_names[0] if self.mode_names else ""] * len(features)
        return [self.mode_names[i] for i in self.predict_mode_proba(features).argmax(axis=1)]

    def save_boosters(self) -> dict[str, bytes]:
        """The boosters as named blobs, each in its library's own format (a bundle's members)."""
        blobs = model_blobs(self.booster, "failure")
        if self.mode_booster is not None:
            blobs["mode.ubj"] = bytes(self.mode_booster.save_raw("ubj"))
        return blobs

    def with_boosters(self, blobs: Mapping[str, bytes]) -> ClassifierResult:
        """A copy whose boosters are loaded from `save_boosters()` output."""
        booster, mode = load_boosters(blobs, self.feature_names)
        return dataclasses.replace(self, booster=booster, mode_booster=mode)


def load_boosters(blobs: Mapping[str, bytes], names: Sequence[str]) -> tuple[Model, xgb.Booster | None]:
    """The failure model and the mode booster from `save_boosters()` output, or from a bundle of
    before the model search, whose one XGBoost booster is `failure.ubj`."""
    mode = load_booster(blobs["mode.ubj"]) if "mode.ubj" in blobs else None
    if "failure.ubj" in blobs:
        return TreeModel.from_bytes(XGBOOST, blobs["failure.ubj"], names), mode
    return model_from_blobs(blobs, "failure", names), mode


def load_booster(raw: bytes | bytearray) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster


def sanitise_feature_names(names: Sequence[str]) -> list[str]:
    """XGBoost rejects `[`, `]` and `<` in feature names; replace them and keep names unique."""
    out: list[str] = []
    seen: set[str] = set()
    for name in names:
        safe = _UNSAFE.sub("_", name) or "f"
        candidate, n = safe, 1
        while candidate in seen:
            n += 1
            candidate = f"{safe}_{n}"
        seen.add(candidate)
        out.append(candidate)
    return out


def training_features(table: pa.Table, document: MachineTypeLike, spec: FeatureSpec) -> Array:
    """The window features every trainer of a machine type learns from: its numeric sensors and
    derived signals, all rows, in table order. Compute once and pass to each trainer."""
    return window_features(table, signals=document_signals(document), spec=spec)[0]


def column_numpy(table: pa.Table, name: str) -> Array:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False))


def row_hours(table: pa.Table, time_column: str = "ts") -> Array:
    column = table.column(time_column)
    if pa.types.is_timestamp(column.type):
        micros = column.cast(pa.timestamp("us")).cast(pa.int64())
        return np.asarray(micros.to_numpy(zero_copy_only=False), dtype=np.float64) / 3.6e9
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float64)


def remaining_observed_hours(machines: Array, hours: Array) -> Array:
    """Hours from each row to its machine's last observed row."""
    _, codes = np.unique(machines, return_inverse=True)
    last = np.full(codes.max() + 1 if len(codes) else 0, -np.inf)
    np.maximum.at(last, codes, hours)
    return last[codes] - hours


def default_horizon_h(table: pa.Table) -> float:
    """10% of the median failing run's length, in whole hours (at least one): inside the
    simulator's degradation phase, which lasts at least 10% of a run, so positives are rows
    whose signals can already show the failure coming."""
    ttf = column_numpy(table, "time_to_failure_h").astype(np.float64)
    machines = column_numpy(table, "machine").astype(str)
    failing = ~np.isnan(ttf)
    lengths = [ttf[machines == machine].max() for machine in np.unique(machines[failing])]
    return max(1.0, round(0.1 * float(np.median(lengths)))) if lengths else 1.0


def failure_labels(table: pa.Table, horizon_h: float) -> tuple[Array, Array]:
    """(label, keep): label per row, and which rows have a known label (see the module docstring)."""
    if horizon_h < 0:
        raise ValueError(f"horizon_h must be >= 0, got {horizon_h}")
    ttf = column_numpy(table, "time_to_failure_h").astype(np.float64)
    failing = ~np.isnan(ttf)
    machines = column_numpy(table, "machine").astype(str)
    observed = remaining_observed_hours(machines, row_hours(table))
    label = failing & (np.nan_to_num(ttf, nan=np.inf) <= horizon_h)
    keep = failing | (observed > horizon_h)
    return label, keep


def train_failure_classifier(
    table: pa.Table, document: MachineTypeLike, *, horizon_h: float, seed: int = 0, spec: FeatureSpec | None = None,
    rounds: int = DEFAULT_ROUNDS, params: Mapping[str, Any] | None = None, max_fpr: float = 0.05,
    validation_fraction: float = 0.2, test_fraction: float = 0.2, init: xgb.Booster | None = None,
    features: Array | None = None, search: SearchSettings | None = None, progress: Progress | None = None,
) -> ClassifierResult:
    """`init`: fine-tune by continued boosting: `rounds` more trees on top of a trained booster
    with the same features (a synthetic-data model refined on real data, say). `features`: the
    table's `training_features(table, document, spec)` when the caller already has them.
    `search`: choose the learner and its hyperparameters by a model search scored at the
    FPR-constrained threshold on the validation runs (engine.training.search) instead of
    the fixed XGBoost; the threshold is then chosen on that model's validation scores."""
    spec = spec or FeatureSpec.for_document(document)
    signals = document_signals(document)
    label, keep = failure_labels(table, horizon_h)
    features = training_features(table, document, spec) if features is None else features
    names = sanitise_feature_names(feature_names(signals, spec))
    machines = column_numpy(table, "machine").astype(str)
    modes = column_numpy(table, "failure_mode").astype(str)
    train, validation, test = split_train_validation_test(
        machines, validation_fraction=validation_fraction, test_fraction=test_fraction, seed=seed,
    )
    train, validation, test = train & keep, validation & keep, test & keep
    if not label[train].any() or label[train].all():
        raise ValueError("training machines hold a single class; simulate more machines or change the horizon")
    positives = float(label[train].sum())
    booster_params = {
        **DEFAULT_PARAMS, **(params or {}), "objective": "binary:logistic", "eval_metric": "aucpr", "seed": seed,
        "scale_pos_weight": (float(train.sum()) - positives) / positives,
    }
    outcome: SearchOutcome | None = None
    if search is not None:
        outcome = search_classifier(features, label, train, validation, names, seed=seed, settings=search,
                                    max_fpr=max_fpr, progress=progress)
        model = outcome.model  # trained on the training runs only, as the threshold needs
    else:
        booster = xgb.train(booster_params, xgb.DMatrix(features[train], label[train], feature_names=names), rounds,
                            xgb_model=init)
        model = TreeModel(XGBOOST, booster, names)
    result = ClassifierResult(
        booster=model, feature_names=names, signals=signals, spec=spec, horizon_h=float(horizon_h),
        threshold=0.5, threshold_note="", metrics={}, baseline={}, validation={},
        sizes={
            "train_rows": int(train.sum()), "validation_rows": int(validation.sum()), "test_rows": int(test.sum()),
            "train_machines": len(np.unique(machines[train])), "test_machines": len(np.unique(machines[test])),
        },
        search=outcome.summary() if outcome is not None else {},
    )
    validation_scores = result.predict_proba(features[validation])
    result.threshold, result.threshold_note = choose_threshold(label[validation], validation_scores, max_fpr=max_fpr)
    result.validation = binary_metrics(
        label[validation], validation_scores, validation_scores >= result.threshold,
    )
    test_scores = result.predict_proba(features[test])
    result.metrics = binary_metrics(label[test], test_scores, test_scores >= result.threshold)
    majority = bool(label[train].mean() > 0.5)
    constant = np.full(int(test.sum()), majority)
    result.baseline = binary_metrics(label[test], constant.astype(np.float64), constant)
    if outcome is not None:
        result.search.update(max_fpr=max_fpr, plain_baseline=_plain_baseline(features, label, train, validation, test,
                                                                             names, seed=seed, max_fpr=max_fpr))
    _train_mode_model(result, features, label, modes, train, test, booster_params, rounds)
    return result


def _plain_baseline(features: Array, label: Array, train: Array, validation: Array, test: Array, names: list[str], *,
                    seed: int, max_fpr: float) -> dict[str, float]:
    """What a user gets from XGBoost with its defaults on the same features and split: its test
    metrics at its own threshold, chosen on the validation runs as ours is."""
    plain = plain_model(BINARY, features[train], label[train], names, seed=seed)
    threshold, _ = choose_threshold(label[validation], plain.predict(features[validation]), max_fpr=max_fpr)
    scores = plain.predict(features[test])
    return binary_metrics(label[test], scores, scores >= threshold)


def _train_mode_model(
    result: ClassifierResult, features: Array, label: Array, modes: Array, train: Array, test: Array,
    params: Mapping[str, Any], rounds: int,
) -> None:
    mode_names = sorted(set(modes[label]) - {""})
    result.mode_names = mode_names
    named = label & (modes != "")
    train_rows, test_rows = train & named, test & named
    if len(mode_names) < 2 or len(set(modes[train_rows])) < 2:
        return
    index = {name: i for i, name in enumerate(mode_names)}
    target = np.array([index[m] for m in modes[train_rows]], dtype=np.float32)
    mode_params = {
        key: value for key, value in params.items() if key not in {"scale_pos_weight", "objective", "eval_metric"}
    }
    mode_params.update({"objective": "multi:softprob", "num_class": len(mode_names), "eval_metric": "mlogloss"})
    dmatrix = xgb.DMatrix(features[train_rows], target, feature_names=result.feature_names)
    result.mode_booster = xgb.train(mode_params, dmatrix, rounds)
    if not test_rows.any():
        return
    truth = modes[test_rows]
    predicted = np.array(result.predict_mode(features[test_rows]))
    values, counts = np.unique(modes[train_rows], return_counts=True)
    majority = values[int(np.argmax(counts))]
    result.mode_metrics = {
        "accuracy": float(np.mean(predicted == truth)),
        "baseline_accuracy": float(np.mean(truth == majority)),
        "modes": float(len(mode_names)),
        "rows": float(len(truth)),
    }
