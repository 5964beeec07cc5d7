"""Explanations: SHAP values that reproduce every model's output, shares that sum to 1, attributions
over time that sum to the signal's, local rules that hold on the prediction they explain, and the
contract every prediction carries (docs/models.md, "The explanation contract")."""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pytest
import shap

from engine.attribution import attribute
from engine.bundles import ANOMALY, FAILURE, FORECAST, RUL
from engine.explanation import horizon_words, recommendation, span_words
from engine.factors import SignalAttribution
from engine.features import FeatureSpec, window_features, window_steps
from engine.local_rule import RuleSignal, level_columns, local_rules
from engine.scoring import ModelSet, score_frame
from engine.synthetic.simulator import simulate_fleet
from engine.temporal import temporal_attribution
from engine.training.classifier import default_horizon_h
from engine.training.forecast import DRIVER_WORDS, with_horizons
from engine.training.learners import fit
from engine.training.search import Blend
from engine.training.suite import train_suite
from machines.library import library_get

TYPE = "induction-motor-siemens-1la7"


@functools.cache
def models() -> ModelSet:
    document = library_get(TYPE)
    table = simulate_fleet(document, machines=24, seed=3)
    kinds = [FAILURE, RUL, ANOMALY, FORECAST]
    suite = train_suite(table, document, horizon_h=default_horizon_h(table), seed=0, kinds=kinds)
    return ModelSet(document, suite.bundles)


@functools.cache
def fleet() -> pa.Table:
    return simulate_fleet(library_get(TYPE), machines=6, seed=41)


@functools.cache
def matrix() -> np.ndarray:
    clf = models().classifier
    features, _ = window_features(fleet(), signals=clf.signals, spec=clf.spec)
    return features[::25]


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(600, 6)).astype(np.float32)
    features[rng.random(features.shape) < 0.05] = np.nan  # missing readings take the trees' default branch
    label = (np.nan_to_num(features[:, 0]) + np.nan_to_num(features[:, 1] * features[:, 2]) > 0.4).astype(float)
    return features, label, [f"s{i}__mean_6" for i in range(6)]


@pytest.mark.parametrize("learner", ["xgboost", "lightgbm"])
def test_shap_values_reproduce_each_learners_output(learner: str) -> None:
    features, label, names = _data()
    classifier, _ = fit(learner, "binary", {}, features, label, names, rounds=40, seed=0)
    explained = attribute(classifier, features[:80])
    probability = classifier.predict(features[:80])
    np.testing.assert_allclose(explained.total, np.log(probability / (1 - probability)), atol=1e-3)
    target = 3 * label + np.nan_to_num(features[:, 3])
    regressor, _ = fit(learner, "regression", {}, features, target, names, rounds=40, seed=0)
    np.testing.assert_allclose(attribute(regressor, features[:80], output="h").total, regressor.predict(features[:80]),
                               atol=1e-4)
    background = attribute(regressor, features[:40], background=np.nan_to_num(features[100:200]))
    np.testing.assert_allclose(background.total, regressor.predict(features[:40]), atol=1e-4)


def test_a_blend_is_explained_as_the_mean_of_its_members() -> None:
    features, label, names = _data(1)
    members = [fit(learner, "regression", {}, features, label, names, rounds=30, seed=0)[0]
               for learner in ("xgboost", "lightgbm")]
    blend = Blend(members)
    np.testing.assert_allclose(attribute(blend, features[:50]).total, blend.predict(features[:50]), atol=1e-4)


def test_the_suite_models_are_explained_exactly() -> None:
    """Classifier (log-odds), failure mode (the predicted class's margin), RUL (hours, before its
    cap) and the anomaly detector (its raw score)."""
    ms, rows = models(), matrix()
    clf = ms.classifier
    p = clf.predict_proba(rows)
    np.testing.assert_allclose(attribute(clf.booster, rows).total, np.log(p / (1 - p)), atol=1e-3)
    if clf.mode_booster is not None:
        import xgboost as xgb

        data = xgb.DMatrix(rows, feature_names=clf.feature_names)
        margins = clf.mode_booster.predict(data, output_margin=True).reshape(len(rows), -1)
        chosen = margins.argmax(axis=1)
        explained = attribute(clf.mode_booster, rows, names=clf.feature_names, classes=chosen)
        np.testing.assert_allclose(explained.total, margins[np.arange(len(rows)), chosen], atol=1e-3)
    rul = ms.bundles[RUL].model
    np.testing.assert_allclose(attribute(rul.booster, rows).total, rul.booster.predict(rows), rtol=1e-4, atol=1e-2)
    detector = ms.detector()
    assert detector is not None
    np.testing.assert_allclose(attribute(detector, rows).total, detector.raw_score(rows), rtol=1e-4)


def test_the_forecaster_is_explained_exactly_and_each_projection_names_its_drivers() -> None:
    ms = models()
    forecaster = ms.bundles[FORECAST].model
    rng = np.random.default_rng(2)
    features = rng.normal(size=(20, len(DRIVER_WORDS) - 1)).astype(np.float32)
    rows = with_horizons(features, [forecaster.horizons_h[-1]])
    explained = attribute(forecaster.booster, rows, names=DRIVER_WORDS)
    np.testing.assert_allclose(explained.total, forecaster.booster.inplace_predict(rows), rtol=1e-4, atol=1e-5)
    out = score_frame(ms, fleet(), rows="latest", forecast_horizon_h=48.0)
    drivers = [signal["drivers"] for item in out for signal in item["explanation"]["forecast"]]
    assert drivers and all(0 < len(d) <= 3 for d in drivers)
    assert all(set(d[0]) == {"driver", "contribution", "shap"} and d[0]["driver"] in DRIVER_WORDS for d in drivers)


def test_the_anomaly_closed_form_is_what_shaps_exact_explainer_gives() -> None:
    """Exact Shapley values are exponential in features: ten scored features vary, the others sit
    at the reference (the median, z = 0), where the closed form gives them nothing."""
    detector = models().detector()
    assert detector is not None
    varied = list(detector.columns[:10])
    reference = np.zeros(matrix().shape[1], np.float32)
    reference[detector.columns] = detector.median
    for row in matrix()[:3]:
        fixed = reference.copy()
        fixed[varied] = row[varied]

        def score(x: np.ndarray, base: np.ndarray = fixed) -> np.ndarray:
            full = np.repeat(base[None, :], len(x), axis=0)
            full[:, varied] = x
            return detector.raw_score(full)

        masker = shap.maskers.Independent(reference[None, varied], max_samples=1)
        exact = shap.explainers.Exact(score, masker)(fixed[None, varied]).values[0]
        ours = attribute(detector, fixed[None, :]).values[0]
        # The detector scores in float32: agreement to its precision, relative to the score.
        np.testing.assert_allclose(ours[varied], exact, rtol=1e-4, atol=1e-6 * np.abs(exact).sum())
        assert np.abs(np.delete(ours, varied)).max() == 0.0


def test_signal_shares_sum_to_one_and_keep_the_raw_values() -> None:
    explained = attribute(models().classifier.booster, matrix())
    signals = SignalAttribution.of(explained)
    np.testing.assert_allclose(signals.shares.sum(axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(signals.summed.sum(axis=1), explained.values.sum(axis=1), atol=1e-9)
    assert (signals.shares >= 0).all()
    assert set(signals.groups) >= set(models().classifier.signals)


def test_attributions_over_time_sum_to_each_signals_attribution() -> None:
    clf = models().classifier
    table = fleet()
    rows = np.arange(0, table.num_rows, 37)
    features, names = window_features(table, signals=clf.signals, spec=clf.spec)
    explained = attribute(clf.booster, features[rows], names=names)
    steps = max(clf.spec.windows)
    windows, hours = window_steps(table, signals=clf.signals, spec=clf.spec, rows=rows, steps=steps)
    spread = temporal_attribution(explained.values, names, clf.signals, clf.spec, windows, hours)
    per_signal = SignalAttribution.of(explained)
    for s, signal in enumerate(clf.signals):
        np.testing.assert_allclose(spread[:, s, :].sum(axis=1), per_signal.summed[:, per_signal.groups.index(signal)],
                                   atol=1e-9)
    # The window's newest step is the scored row's own reading.
    np.testing.assert_allclose(windows[:, 0, -1], np.asarray(table.column(clf.signals[0]).to_numpy())[rows])


def test_a_jump_in_the_last_steps_is_where_the_time_attribution_lands() -> None:
    spec = FeatureSpec(windows=(6,), statistics=("mean", "max", "last"))
    names = ["v__mean_6", "v__max_6", "v__last_6"]
    window = np.array([[[1.0, 1.0, 1.0, 1.0, 5.0, 6.0]]])
    hours = np.arange(6.0)[None, :]
    spread = temporal_attribution(np.array([[1.0, 2.0, 3.0]]), names, ["v"], spec, window, hours)[0, 0]
    assert spread.sum() == pytest.approx(6.0)
    assert spread[-1] > spread[-2] > 0 and spread[:4].sum() == pytest.approx(0.0)  # the median step level carries none
    missing = temporal_attribution(np.array([[1.0, 2.0, 3.0]]), names, ["v"], spec, np.full((1, 1, 6), np.nan), hours)
    assert missing[0, 0, -1] == pytest.approx(6.0)  # nothing to weigh by: on the newest step, still summing


def test_the_local_rule_holds_on_the_prediction_it_explains() -> None:
    ms = models()
    out = score_frame(ms, fleet(), rows="latest", forecast_horizon_h=None)
    assert any(item["prediction"] for item in out) and not all(item["prediction"] for item in out)
    for item in out:
        rule = item["explanation"]["rule"]
        assert rule is not None and rule["conditions"], item["machine"]
        readings = {f["signal"]: f["value"] for f in item["explanation"]["top_factors"]}
        last = fleet().filter(pa.compute.equal(fleet().column("machine"), item["machine"]))
        for condition in rule["conditions"]:
            value = last.column(condition["signal"])[-1].as_py()
            holds = value > condition["value"] if condition["op"] == ">" else value <= condition["value"]
            assert holds, (condition, value, readings)
            assert condition["text"].endswith(condition["unit"])  # in sensor units
        assert rule["outcome"] == ("failure" if item["prediction"] else "normal")
        assert 0 < rule["coverage"] <= 1 and 0 <= rule["fidelity"] <= 1
        assert rule["text"].startswith("IF ") and "chance of failure within" in rule["text"]


def test_a_rule_with_no_signal_to_move_is_none_and_thresholds_round_away_from_the_reading() -> None:
    def always(x: np.ndarray) -> np.ndarray:
        return (x[:, 0] > 10).astype(float)

    row = np.array([12.345, 0.0], np.float32)
    signal = RuleSignal("t", "temperature", "°C", level_columns("t", ["t__last_6", "t__std_6"]), 12.345, 4.0)
    assert signal.columns == [0]
    rule = local_rules(always, row[None, :], [[signal]], threshold=0.5, horizon="24 h")[0]
    assert rule is not None and rule["outcome"] == "failure"
    condition = rule["conditions"][0]
    assert condition["op"] == ">" and condition["value"] <= 12.345 and condition["value"] >= 10
    assert rule["fidelity"] == 1.0  # above 10 the model always says failure
    dead = RuleSignal("t", "temperature", "°C", [0], float("nan"), 4.0)
    assert local_rules(always, row[None, :], [[dead]], threshold=0.5, horizon="24 h") == [None]


def test_every_prediction_carries_the_contract() -> None:
    ms = models()
    out = score_frame(ms, fleet(), rows="latest", forecast_horizon_h=None)
    for item in out:
        e = item["explanation"]
        factors = e["top_factors"]
        assert factors and all({"feature", "value", "unit", "contribution", "shap"} <= set(f) for f in factors)
        assert sum(f["contribution"] for f in factors) + e["other_signals_share"] == pytest.approx(1.0, abs=1e-3)
        assert [f["contribution"] for f in factors] == sorted((f["contribution"] for f in factors), reverse=True)
        assert e["recommendation"] and e["confidence"] in ("high", "medium", "low")
        assert isinstance(e["similar_past_cases"], int) and len(e["similar_cases"]) <= 3
        assert e["anomaly_factors"]
        assert bool(e["rul_factors"]) == (item["rul_beyond_h"] is None)  # nothing shortens a life beyond the cap
        assert e["temporal"]["signals"] and len(e["temporal"]["hours_ago"]) == max(ms.classifier.spec.windows)
        if not item["prediction"]:
            assert e["recommendation"].startswith("No failure expected within")
        else:
            assert e["mode_factors"]


def test_a_batch_explains_every_row_and_rules_the_predicted_failures() -> None:
    ms = models()
    table = fleet().slice(0, 400)
    out = score_frame(ms, table, rows="all")
    assert len(out) == 400 and all(item["explanation"]["top_factors"] for item in out)
    for item in out:
        e = item["explanation"]
        assert (e["rule"] is not None) == item["prediction"]
        assert "temporal" not in e  # the heatmap is a latest-step view


def test_recommendation_for_a_normal_prediction_says_what_to_watch() -> None:
    factors = [{"label": "Winding temperature", "value": 84.5, "unit": "°C", "shap": 0.4},
               {"label": "Vibration", "value": 2.0, "unit": "mm/s", "shap": -0.2}]
    text = recommendation({"prediction": False}, factors, {}, "7 days")
    assert text == ("No failure expected within 7 days. Watch Winding temperature (84.5 °C): "
                    "it weighs most on the risk now.")
    assert recommendation({"prediction": True}, factors, {"recommended_action": "Clean the fins."}, "7 days") == \
        "Clean the fins."
    assert recommendation({"prediction": False}, factors[1:], {}, "24 h") == \
        "No failure expected within 24 h; no signal stands out. Keep the usual inspections."
    assert span_words(6, "h") == "6 h" and span_words(72, "h") == "72 h" and span_words(96, "h") == "4 days"
    assert span_words(20, "cycles") == "20 cycles"
    assert horizon_words(168, "h") == "7 days" and horizon_words(24, "h") == "24 h" and horizon_words(20, "cycles") == \
        "20 cycles"
