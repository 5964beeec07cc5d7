"""Global explanations (engine.global_explain): mean |SHAP| importance whose shares sum to 1 and
whose ranking is the one `attribute` gives directly, dependence points in the signal's own
values, for XGBoost, LightGBM and a blend; and the training suite storing them."""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from engine.attribution import LOG_ODDS, attribute
from engine.bundles import FAILURE, RUL, bundle_dump, bundle_load
from engine.explain import factor_of
from engine.features import FeatureSpec, document_signals, feature_names
from engine.global_explain import (
    MAX_BACKGROUND,
    MAX_ROWS,
    MIN_BACKGROUND,
    MIN_ROWS,
    POINTS,
    TOP_DEPENDENCE,
    TOP_SUMMARY,
    WORK,
    global_explanation,
    held_out_explanation,
    importance_items,
    sample_sizes,
)
from engine.splits import split_train_validation_test
from engine.synthetic.simulator import simulate_fleet
from engine.training.classifier import (
    column_numpy,
    default_horizon_h,
    failure_labels,
    sanitise_feature_names,
    training_features,
)
from engine.training.learners import LIGHTGBM, XGBOOST, TreeModel, fit
from engine.training.search import DEFAULTS, Blend
from engine.training.suite import train_suite
from machines.library import library_get

TYPE = "induction-motor-siemens-1la7"
LEARNERS = ["xgboost", "lightgbm", "blend"]


@functools.cache
def fleet() -> pa.Table:
    return simulate_fleet(library_get(TYPE), machines=30, seed=5)


@functools.cache
def data() -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Features, labels, names, and the held-out / training row masks of the fleet."""
    table, document = fleet(), library_get(TYPE)
    features = training_features(table, document, FeatureSpec.for_document(document))
    names = sanitise_feature_names(feature_names(document_signals(document), FeatureSpec.for_document(document)))
    label, keep = failure_labels(table, default_horizon_h(table))
    train, _, test = split_train_validation_test(column_numpy(table, "machine").astype(str), seed=0)
    return features, label.astype(float), names, test & keep, train & keep


@functools.cache
def model(learner: str) -> TreeModel | Blend:
    features, label, names, _, train = data()
    fitted = {name: fit(name, "binary", DEFAULTS[name], features[train], label[train], names, rounds=30, seed=0)[0]
              for name in (XGBOOST, LIGHTGBM)}
    return Blend([fitted[XGBOOST], fitted[LIGHTGBM]]) if learner == "blend" else fitted[learner]


def rows_and_background() -> tuple[np.ndarray, np.ndarray]:
    features, _, _, test, train = data()
    rng = np.random.default_rng(1)
    return (features[np.sort(rng.choice(np.flatnonzero(test), 150, replace=False))],
            features[np.sort(rng.choice(np.flatnonzero(train), 30, replace=False))])


@functools.cache
def explained(learner: str) -> dict[str, Any]:
    rows, background = rows_and_background()
    return global_explanation(model(learner), rows, background, names=data()[2], output=LOG_ODDS)


@pytest.mark.parametrize("learner", LEARNERS)
def test_shares_sum_to_one_per_feature_and_per_signal(learner: str) -> None:
    view = explained(learner)
    assert sum(f["importance"] for f in view["features"]) == pytest.approx(1.0, abs=1e-3)
    assert sum(s["importance"] for s in view["signals"]) == pytest.approx(1.0, abs=1e-3)
    assert all(f["importance"] > 0 for f in view["features"])
    json.dumps(view, allow_nan=False)  # it lives in the bundle's meta and a jsonb column


@pytest.mark.parametrize("learner", LEARNERS)
def test_the_ranking_is_mean_absolute_shap_from_attribute(learner: str) -> None:
    rows, background = rows_and_background()
    names = data()[2]
    direct = attribute(model(learner), rows, names=names, background=background)
    strength = np.abs(direct.values).mean(axis=0)
    view = explained(learner)
    top = [f["feature"] for f in view["features"][:10]]
    assert top == [names[i] for i in np.argsort(-strength, kind="stable")[:10]]
    shares = {f["feature"]: f["importance"] for f in view["features"]}
    for i in np.argsort(-strength)[:10]:
        assert shares[names[i]] == pytest.approx(strength[i] / strength.sum(), abs=1e-5)
    signals = [factor_of(n) for n in names]
    per_signal = {s: np.abs(direct.values[:, [i for i, own in enumerate(signals) if own == s]].sum(axis=1)).mean()
                  for s in set(signals)}
    assert [s["signal"] for s in view["signals"]] == sorted((s for s in per_signal if per_signal[s] > 0),
                                                            key=lambda s: -per_signal[s])
    assert view["base"] == pytest.approx(float(direct.base.mean()), rel=1e-3)
    assert view["output"] == LOG_ODDS and view["rows"] == 150 and view["background_rows"] == 30


@pytest.mark.parametrize("learner", LEARNERS)
def test_dependence_points_are_the_raw_values_and_the_signals_shap(learner: str) -> None:
    rows, background = rows_and_background()  # 150 rows: under POINTS, every row is a point
    names = data()[2]
    direct = attribute(model(learner), rows, names=names, background=background)
    view = explained(learner)
    assert len(view["dependence"]) == TOP_DEPENDENCE
    assert [d["signal"] for d in view["dependence"]] == [s["signal"] for s in view["signals"][:TOP_DEPENDENCE]]
    for plot in view["dependence"]:
        column = names.index(plot["feature"])
        assert factor_of(plot["feature"]) == plot["signal"]
        # Not normalised: the signal's own values (a temperature in degrees, a speed in rpm).
        np.testing.assert_allclose(plot["value"], rows[:, column], rtol=5e-3)
        members = [i for i, n in enumerate(names) if factor_of(n) == plot["signal"]]
        np.testing.assert_allclose(plot["shap"], direct.values[:, members].sum(axis=1), rtol=5e-3, atol=1e-6)


def test_the_summary_colours_by_the_value_rank_of_a_level_statistic() -> None:
    rows, _ = rows_and_background()
    names = data()[2]
    view = explained("xgboost")
    assert 0 < len(view["summary"]) <= TOP_SUMMARY
    for row in view["summary"]:
        assert len(row["shap"]) == len(row["rank"]) == len(rows)
        # The signal's strongest level statistic: the value reads in the signal's unit.
        assert row["feature"].split("__")[1].rsplit("_", 1)[0] in ("mean", "max", "min", "last")
        values = rows[:, names.index(row["feature"])]
        ranks = np.array([np.nan if r is None else r for r in row["rank"]])
        finite = np.isfinite(values)
        assert 0 <= np.nanmin(ranks) < 0.1 and 0.9 < np.nanmax(ranks) <= 1  # ties share their mean rank
        order = np.argsort(values[finite])
        assert np.all(np.diff(ranks[finite][order]) >= 0)  # a higher value never gets a lower rank


def test_sample_sizes_follow_the_model_size() -> None:
    assert sample_sizes(model("xgboost")) == (MAX_ROWS, MAX_BACKGROUND)  # 30 trees: the caps
    rows, background = sample_sizes(model("blend"))  # 60 trees: as much work as the budget allows
    assert rows < MAX_ROWS and background < MAX_BACKGROUND and rows * background * 60 <= WORK * 1.01
    features, label, names, _, train = data()
    big = fit(XGBOOST, "binary", {**DEFAULTS[XGBOOST], "max_depth": 1}, features[train], label[train], names,
              rounds=3000, seed=0)[0]
    assert sample_sizes(big) == (MIN_ROWS, MIN_BACKGROUND)  # the floors


def test_too_few_held_out_rows_give_no_view() -> None:
    features, _, names, test, train = data()
    few = np.zeros(len(features), bool)
    few[np.flatnonzero(test)[:5]] = True
    assert held_out_explanation(model("xgboost"), features, held_out=few, trained=train, names=names,
                                output=LOG_ODDS) is None
    view = held_out_explanation(model("xgboost"), features, held_out=test, trained=train, names=names,
                                output=LOG_ODDS)
    assert view is not None and view["seconds"] >= 0 and view["rows"] <= 500
    assert all(len(plot["shap"]) <= POINTS for plot in view["summary"])


def test_the_suite_stores_the_view_and_ranks_importance_by_it() -> None:
    table, document = fleet(), library_get(TYPE)
    suite = train_suite(table, document, horizon_h=default_horizon_h(table), seed=0, kinds=[FAILURE, RUL])
    for kind, output in ((FAILURE, LOG_ODDS), (RUL, "hours of remaining life")):
        bundle = bundle_load(bundle_dump(suite.bundles[kind]))  # through the bundle's meta JSON
        view = bundle.extra["global_explanation"]
        assert view["output"] == output and view["method"] == "interventional TreeSHAP"
        assert bundle.extra["importance"] == importance_items(view)
        first = bundle.extra["importance"][0]
        assert set(first) == {"feature", "label", "signal", "importance"}
        assert first["feature"] == view["features"][0]["feature"]
        assert len(json.dumps(view)) < 60_000  # small: it is stored with the bundle and the version
