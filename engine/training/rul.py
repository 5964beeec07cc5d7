"""Remaining-useful-life regressor with a split-conformal prediction interval. No Django imports.

Target: `time_to_failure_h` on the rows of failing runs; censored runs (NaN) are left out, since
their remaining life is unknown. The target is capped at `cap_h` (piecewise-linear RUL: a healthy
machine's remaining life cannot be read from its signals, so every value above the cap is
treated as "at least cap_h"). By default the cap is the 20th percentile of the training machines'
targets, about the length of the degradation phase (the simulator's P-F interval is at least 10%
of a run and the targets of one run are uniform over its length). A high cap (say the 95th
percentile) asks the model for the run length from healthy-looking rows: measured on simulated
fleets it then does no better than predicting the mean (R^2 <= 0). Metrics are measured against
the capped target; pass `cap_h` to choose another cap.

Interval: split conformal. The absolute residuals on the validation machines give q, their
ceil((n + 1) * coverage) / n empirical quantile, and the interval is [pred - q, pred + q] with the
lower bound clipped at 0. Coverage holds on average over exchangeable machines; rows of one machine
are correlated, so the measured test coverage scatters more than row counts suggest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import xgboost as xgb

from engine.features import FeatureSpec, document_signals, feature_names
from engine.metadata import MachineTypeLike
from engine.splits import split_train_validation_test
from engine.training.classifier import (
    DEFAULT_PARAMS,
    column_numpy,
    sanitise_feature_names,
    training_features,
)
from engine.training.learners import XGBOOST, TreeModel
from engine.training.search import (
    REGRESSION,
    Model,
    SearchOutcome,
    SearchSettings,
    plain_model,
    search_regressor,
)

Array = np.ndarray
DEFAULT_ROUNDS = 250
DEFAULT_CAP_QUANTILE = 0.2


@dataclass
class RulResult:
    booster: Model  # one booster of either library, or a blend (engine.training.search)
    feature_names: list[str]
    signals: list[str]
    spec: FeatureSpec
    cap_h: float
    coverage: float  # the target coverage of the interval
    q: float  # interval half-width, hours
    metrics: dict[str, float]  # test machines
    baseline: dict[str, float]  # predicting the training mean on the test machines
    sizes: dict[str, int] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)  # the search's leaderboard and choices, when searched

    def predict(self, features: Array) -> Array:
        return np.clip(self.booster.predict(features), 0.0, self.cap_h)

    def predict_interval(self, features: Array) -> tuple[Array, Array, Array]:
        """(prediction, lower, upper) in hours."""
        prediction = self.predict(features)
        return prediction, np.maximum(prediction - self.q, 0.0), prediction + self.q


def regression_metrics(truth: Array, prediction: Array) -> dict[str, float]:
    error = prediction - truth
    total = float(np.sum((truth - truth.mean()) ** 2)) if len(truth) else 0.0
    return {
        "rmse": float(np.sqrt(np.mean(error**2))) if len(truth) else float("nan"),
        "mae": float(np.mean(np.abs(error))) if len(truth) else float("nan"),
        "r2": 1.0 - float(np.sum(error**2)) / total if total > 0 else float("nan"),
        "rows": float(len(truth)),
    }


def conformal_quantile(residuals: Array, coverage: float) -> float:
    """The split-conformal half-width: the ceil((n + 1) * coverage)-th smallest absolute residual."""
    n = len(residuals)
    if n == 0:
        return float("inf")
    rank = int(np.ceil((n + 1) * coverage))
    return float(np.sort(np.abs(residuals))[rank - 1]) if rank <= n else float("inf")


def train_rul_regressor(
    table: pa.Table, document: MachineTypeLike, *, seed: int = 0, spec: FeatureSpec | None = None,
    coverage: float = 0.9, cap_h: float | None = None, rounds: int = DEFAULT_ROUNDS,
    params: Mapping[str, Any] | None = None, validation_fraction: float = 0.2, test_fraction: float = 0.2,
    init: xgb.Booster | None = None, features: Array | None = None, search: SearchSettings | None = None,
    progress: Any = None,
) -> RulResult:
    """`init`: fine-tune by continued boosting on top of a trained booster with the same features;
    pass its `cap_h` too, so the target keeps the scale the booster learned. `features`: the
    table's `training_features(table, document, spec)` when the caller already has them.
    `search`: choose the learner, its hyperparameters and (unless `cap_h` is given) the cap by a
    model search on the validation runs (engine.training.search) instead of the fixed XGBoost."""
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")
    spec = spec or FeatureSpec.for_document(document)
    signals = document_signals(document)
    features = training_features(table, document, spec) if features is None else features
    names = sanitise_feature_names(feature_names(signals, spec))
    target = column_numpy(table, "time_to_failure_h").astype(np.float64)
    known = ~np.isnan(target)
    machines = column_numpy(table, "machine").astype(str)
    train, validation, test = split_train_validation_test(
        machines, validation_fraction=validation_fraction, test_fraction=test_fraction, seed=seed,
    )
    train, validation, test = train & known, validation & known, test & known
    if not train.any() or not validation.any():
        raise ValueError("no failing runs among the training or validation machines; simulate more machines")
    outcome: SearchOutcome | None = None
    if search is not None:
        outcome = search_regressor(features, target, train, validation, names, seed=seed,
                                   settings=dataclasses.replace(search, cap=cap_h if cap_h is not None else search.cap),
                                   run_lengths=failing_run_lengths(table, train), progress=progress)
        cap_h = outcome.cap
    if cap_h is None:
        cap_h = float(np.quantile(target[train], DEFAULT_CAP_QUANTILE))
    if not cap_h > 0:
        raise ValueError(f"cap_h must be > 0, got {cap_h}")
    capped = np.minimum(target, cap_h)
    if outcome is not None:
        model, search_model = outcome.model, outcome.search_model
    else:
        booster_params = {**DEFAULT_PARAMS, **(params or {}), "objective": "reg:squarederror", "seed": seed}
        booster = xgb.train(booster_params, xgb.DMatrix(features[train], capped[train], feature_names=names), rounds,
                            xgb_model=init)
        model = search_model = TreeModel(XGBOOST, booster, names)
    result = RulResult(
        booster=model, feature_names=names, signals=signals, spec=spec, cap_h=float(cap_h), coverage=coverage,
        q=0.0, metrics={}, baseline={},
        sizes={"train_rows": int(train.sum()), "validation_rows": int(validation.sum()), "test_rows": int(test.sum())},
        search=outcome.summary() if outcome is not None else {},
    )
    # Residuals of the model that never saw the validation runs (the refitted one has).
    validation_prediction = np.clip(search_model.predict(features[validation]), 0.0, cap_h)
    result.q = conformal_quantile(capped[validation] - validation_prediction, coverage)
    prediction, lower, upper = result.predict_interval(features[test])
    truth = capped[test]
    result.metrics = {
        **regression_metrics(truth, prediction),
        "coverage": float(np.mean((truth >= lower) & (truth <= upper))) if len(truth) else float("nan"),
        "interval_width_h": float(np.mean(upper - lower)) if len(truth) else float("nan"),
    }
    result.baseline = regression_metrics(truth, np.full(len(truth), float(capped[train].mean())))
    if outcome is not None:
        # What a user gets from XGBoost with its defaults on the same features and split.
        plain = plain_model(REGRESSION, features[train], capped[train], names, seed=seed)
        result.search["plain_baseline"] = regression_metrics(truth, np.clip(plain.predict(features[test]), 0, cap_h))
    return result


def failing_run_lengths(table: pa.Table, rows: Array) -> Array:
    """The length (time units) of each failing run among `rows`: its largest time to failure."""
    target = column_numpy(table, "time_to_failure_h").astype(np.float64)
    machines = column_numpy(table, "machine").astype(str)
    failing = rows & ~np.isnan(target)
    if not failing.any():
        return np.zeros(0)
    _, codes = np.unique(machines[failing], return_inverse=True)
    longest = np.zeros(codes.max() + 1)
    np.maximum.at(longest, codes, target[failing])
    return longest

