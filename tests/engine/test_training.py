"""Failure classifier and RUL regressor on simulated fleets: not trivial on held-out machines."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from engine.bundles import RUL, Bundle, bundle_dump, bundle_load
from engine.features import FeatureSpec, window_features
from engine.synthetic.simulator import simulate_fleet
from engine.training.classifier import (
    ClassifierResult,
    choose_threshold,
    default_horizon_h,
    failure_labels,
    sanitise_feature_names,
    train_failure_classifier,
)
from engine.training.learners import TreeModel
from engine.training.rul import RulResult, conformal_quantile, train_rul_regressor
from machines.library import library_get

TYPES = ["induction-motor-siemens-1la7", "centrifugal-pump", "ai4i-milling-machine"]
MACHINES = 100
ROUNDS = 100  # fewer trees than the default 250 to keep the file fast; the metrics hold either way
PARAMS = {"max_depth": 4}


@functools.cache
def fleet(key: str, seed: int = 1) -> pa.Table:
    return simulate_fleet(library_get(key), machines=MACHINES, seed=seed)


def horizon_for(table: pa.Table) -> float:
    return default_horizon_h(table)


@functools.cache
def classifier(key: str) -> ClassifierResult:
    table = fleet(key)
    return train_failure_classifier(
        table, library_get(key), horizon_h=horizon_for(table), seed=0, rounds=ROUNDS, params=PARAMS,
    )


@functools.cache
def regressor(key: str) -> RulResult:
    return train_rul_regressor(fleet(key), library_get(key), seed=0, rounds=ROUNDS, params=PARAMS)


@pytest.mark.parametrize("key", TYPES)
def test_classifier_beats_majority_baseline_on_held_out_machines(key: str) -> None:
    result = classifier(key)
    metrics, baseline = result.metrics, result.baseline
    assert result.threshold_note == ""
    assert result.validation["fpr"] <= 0.05
    assert baseline["f1"] == 0.0
    assert metrics["f1"] >= 0.5, metrics
    assert metrics["pr_auc"] >= 3 * metrics["positive_rate"], metrics
    assert metrics["roc_auc"] >= 0.7, metrics
    assert metrics["fpr"] <= 0.1, metrics
    assert 0 < metrics["positive_rate"] < 0.5


@pytest.mark.parametrize("key", TYPES)
def test_failure_mode_classifier_beats_the_most_common_mode(key: str) -> None:
    result = classifier(key)
    assert len(result.mode_names) >= 2 and result.mode_booster is not None
    assert result.mode_metrics["accuracy"] >= result.mode_metrics["baseline_accuracy"] + 0.15, result.mode_metrics


@pytest.mark.parametrize("key", TYPES)
def test_rul_regressor_beats_the_mean_with_calibrated_interval(key: str) -> None:
    result = regressor(key)
    assert result.metrics["r2"] > 0.5, result.metrics
    assert result.metrics["rmse"] < result.baseline["rmse"], (result.metrics, result.baseline)
    assert abs(result.metrics["coverage"] - result.coverage) <= 0.1, result.metrics
    assert 0 < result.q < result.cap_h


def test_boosters_round_trip_through_bytes() -> None:
    key = TYPES[0]
    table, result, rul = fleet(key), classifier(key), regressor(key)
    features, _ = window_features(table, signals=result.signals, spec=result.spec)
    loaded = result.with_boosters(result.save_boosters())
    assert loaded.booster is not result.booster
    np.testing.assert_array_equal(loaded.predict_proba(features), result.predict_proba(features))
    np.testing.assert_array_equal(loaded.predict_mode_proba(features), result.predict_mode_proba(features))
    reloaded = bundle_load(bundle_dump(Bundle(RUL, rul))).model
    assert reloaded.booster is not rul.booster
    np.testing.assert_array_equal(reloaded.predict(features), rul.predict(features))


def test_same_seed_gives_identical_models_and_metrics() -> None:
    key = TYPES[2]
    table, document = fleet(key), library_get(key)
    kwargs: dict[str, Any] = {"seed": 0, "rounds": 30, "params": PARAMS}
    first = train_failure_classifier(table, document, horizon_h=horizon_for(table), **kwargs)
    second = train_failure_classifier(table, document, horizon_h=horizon_for(table), **kwargs)
    assert first.metrics == second.metrics and first.threshold == second.threshold
    assert first.save_boosters() == second.save_boosters()
    rul_first, rul_second = (train_rul_regressor(table, document, **kwargs) for _ in range(2))
    assert rul_first.metrics == rul_second.metrics and rul_first.q == rul_second.q


def test_censored_runs_drop_their_last_horizon_and_failing_runs_label_it() -> None:
    hours = np.arange(10, dtype=np.float64)
    table = pa.table({
        "machine": ["a"] * 10 + ["b"] * 10,
        "ts": np.r_[hours, hours],
        "time_to_failure_h": np.r_[9 - hours, np.full(10, np.nan)],
    })
    label, keep = failure_labels(table, horizon_h=3)
    assert label.tolist() == [False] * 6 + [True] * 4 + [False] * 10
    assert keep.tolist() == [True] * 10 + [True] * 6 + [False] * 4
    label, keep = failure_labels(table, horizon_h=0)
    assert label.sum() == 1 and label[9] and keep[:19].all() and not keep[19]


def test_threshold_keeps_validation_fpr_under_target_and_falls_back_with_a_note() -> None:
    y = np.array([0] * 95 + [1] * 5, bool)
    scores = np.r_[np.linspace(0, 0.5, 95), [0.9, 0.8, 0.7, 0.2, 0.1]]
    threshold, note = choose_threshold(y, scores, max_fpr=0.05)
    fpr = float(np.mean(scores[~y] >= threshold))
    assert note == "" and fpr <= 0.05 and threshold == pytest.approx(0.7)
    # Every negative ties at the top score: no threshold predicting positives has FPR <= 5%.
    threshold, note = choose_threshold(y, np.r_[np.full(95, 0.9), np.full(5, 0.1)], max_fpr=0.05)
    assert threshold == 0.9 and "lowest-FPR" in note
    # Positives all score below the negatives: the thresholds under 5% FPR catch none, and say so.
    threshold, note = choose_threshold(y, np.r_[np.linspace(0.5, 1, 95), np.zeros(5)], max_fpr=0.05)
    assert "catches a positive" in note


def test_feature_names_are_made_safe_for_xgboost() -> None:
    names = sanitise_feature_names(["Air temperature [K]", "Air temperature _K]", "a<b", "ok"])
    assert names == ["Air temperature _K_", "Air temperature _K__2", "a_b", "ok"]
    assert not any(c in name for name in names for c in "[]<")


def test_conformal_quantile_is_the_finite_sample_rank() -> None:
    residuals = np.arange(1, 11, dtype=np.float64)  # n = 10: rank ceil(11 * 0.9) = 10
    assert conformal_quantile(residuals, 0.9) == 10.0
    assert conformal_quantile(residuals, 0.5) == 6.0
    assert conformal_quantile(residuals, 0.95) == float("inf")


def test_spec_from_document_is_used_by_default() -> None:
    result = classifier(TYPES[2])
    assert result.spec == FeatureSpec.for_document(library_get(TYPES[2]))
    assert isinstance(result.booster, TreeModel)  # no search: the fixed XGBoost
    assert len(result.feature_names) == result.booster.raw.num_features()
