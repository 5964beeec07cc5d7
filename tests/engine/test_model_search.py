"""The real-data model search and the features fitted to the data (issue 14): regimes found from
set points and not from wear, run age and change from the run's own baseline (serving equals
training), the same seed giving the same model, and held-out runs never shaping the model; for
the remaining-life regressor and for the failure classifier, which is chosen at its
false-positive limit and saves, loads, scores and explains as any learner or a blend."""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import zipfile
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from engine.bundles import FAILURE, RUL, Bundle, bundle_dump, bundle_load
from engine.features import (
    RUN_AGE_FEATURE,
    FeatureSpec,
    data_spec,
    run_windows,
    serving_features,
    window_features,
)
from engine.regimes import Regimes, fit_regimes
from engine.scoring import ModelSet, score_frame
from engine.splits import split_train_validation_test
from engine.synthetic.simulator import simulate_fleet
from engine.training.classifier import (
    ClassifierResult,
    column_numpy,
    default_horizon_h,
    failure_labels,
    train_failure_classifier,
)
from engine.training.learners import LIGHTGBM, XGBOOST, fit
from engine.training.rul import RulResult, train_rul_regressor
from engine.training.search import (
    BINARY,
    DEFAULTS,
    Blend,
    Candidate,
    Objective,
    Problem,
    SearchSettings,
    evaluate,
)
from engine.training.suite import train_suite
from machines.library import library_get

TYPE = "centrifugal-pump"
SEARCH = SearchSettings(budget_s=600, max_trials=4)  # both defaults and two proposals: every step of a search
# Twelve runs to failure split by machine leave two or three for validation and for test: enough for
# what these tests prove (same seed, same model; test runs never reach training), at half the cost
# of a larger fleet.
MACHINES = 12


@functools.cache
def fleet(seed: int = 3) -> pa.Table:
    return simulate_fleet(library_get(TYPE), machines=MACHINES, seed=seed, healthy_fraction=0.0)


@functools.cache
def searched_once() -> RulResult:
    """The search on the plain fleet, shared: each search takes a while."""
    return searched(fleet())


def searched(table: pa.Table, *, search: SearchSettings = SEARCH, **options: Any) -> RulResult:
    document = library_get(TYPE)
    train = split_train_validation_test(column_numpy(table, "machine").astype(str), seed=0)[0]
    spec = data_spec(table, document, rows=train, seed=0)
    return train_rul_regressor(table, document, seed=0, spec=spec, search=search, **options)


def test_regimes_come_from_set_points_not_from_wear_or_noise() -> None:
    rng = np.random.default_rng(0)
    rows = 3_000
    level = rng.integers(0, 3, rows).astype(float)
    wear = np.linspace(0, 4, rows)
    columns = {
        "altitude": level * 10 + rng.normal(0, 0.01, rows),  # three set points
        "temperature": 500 + 40 * level + wear + rng.normal(0, 0.5, rows),  # follows the set point, and wears
        "vibration": 1 + wear / 4 + rng.normal(0, 0.05, rows),  # wears only
    }
    regimes = fit_regimes(columns, list(columns), seed=0)
    assert regimes.count == 3 and "altitude" in regimes.settings and "vibration" not in regimes.settings
    scaled = regimes.normalise(columns)
    assigned = regimes.assign(columns)
    assert len(np.unique(assigned)) == 3
    for regime in range(3):  # the set point's jump is gone; within a regime the signal is centred
        assert abs(float(np.mean(scaled["temperature"][assigned == regime]))) < 0.05
    assert Regimes.from_json(regimes.to_json()) == regimes

    noise = {"a": rng.normal(0, 1, rows), "b": rng.normal(5, 2, rows)}
    assert fit_regimes(noise, list(noise), seed=0).settings == ()


def test_only_values_on_separated_levels_reach_the_k_means_search() -> None:
    from engine.regimes import _gapped

    rng = np.random.default_rng(1)
    rows = 2_000
    assert _gapped(rng.integers(0, 6, rows) * 10.0 + rng.normal(0, 0.01, rows))  # six set points
    assert _gapped(np.array([0.0, 1.0, 1.0, 2.0]))  # a few distinct values always qualify
    assert not _gapped(np.linspace(0, 4, rows) + rng.normal(0, 0.05, rows))  # wear drifts continuously
    assert not _gapped(rng.normal(0, 1, rows))  # noise around one level
    # two levels, each as wide as the gap between them: no silhouette of 0.99 is possible
    assert not _gapped(np.r_[rng.uniform(0, 1, rows), rng.uniform(2, 3, rows)])


def test_windows_follow_the_runs() -> None:
    assert run_windows(200) == (5, 20, 50)
    assert run_windows(20) == (2, 3, 5)  # never shorter than 2, 3 and 4 steps, always increasing
    assert run_windows(0) == (2, 3, 4)


def test_run_age_and_change_from_baseline_serve_as_they_train() -> None:
    hours = np.arange(12, dtype=float)
    signal = np.r_[np.full(3, 1.0), np.arange(9, dtype=float) + 2.0]  # flat for 3 steps, then rising
    table = pa.table({"machine": ["M"] * 12, "ts": hours, "x": signal})
    spec = FeatureSpec(windows=(2, 4), statistics=("mean",), baseline_steps=3)
    features, names = window_features(table, signals=["x"], spec=spec)
    age, change = names.index(RUN_AGE_FEATURE), names.index("x__change")
    np.testing.assert_array_equal(features[:, age], hours)  # hours since the run's first row
    assert features[1, change] == pytest.approx(1.0 - 1.0)  # young run: baseline of the rows so far
    assert features[-1, change] == pytest.approx(np.mean(signal[-4:]) - 1.0)  # longest window - first 3
    # Serving sees the run's first steps and the recent ones, with a gap between (scoring's query):
    kept = np.r_[0:3, 7:12]
    _, latest, _ = serving_features(table.take(pa.array(kept)), signals=["x"], spec=spec)
    np.testing.assert_allclose(latest[0], features[-1], rtol=1e-6)


def test_same_seed_same_search_same_model() -> None:
    table = fleet()
    first, second = searched_once(), searched(table)
    assert _without_times(first.search) == _without_times(second.search)
    features, _ = window_features(table, signals=first.signals, spec=first.spec)
    np.testing.assert_array_equal(first.predict(features), second.predict(features))
    learners = {row["learner"] for row in first.search["leaderboard"]}
    assert {"xgboost", "lightgbm"} <= learners  # both libraries' defaults are always candidates
    assert first.search["trials"] == 4 and first.search["stopped_by"] == "max_trials"
    assert "plain_baseline" in first.search and first.metrics["rmse"] > 0
    # The winner, blend or single booster, survives the bundle round trip exactly.
    loaded = bundle_load(bundle_dump(Bundle(RUL, first))).model
    np.testing.assert_array_equal(loaded.predict(features), first.predict(features))
    assert loaded.search["winner"] == first.search["winner"]


def scrambled_test_runs(table: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """The table with its test runs' signals and remaining life shuffled and rescaled, and the
    test rows."""
    test = split_train_validation_test(column_numpy(table, "machine").astype(str), seed=0)[2]
    assert test.any()
    rng = np.random.default_rng(9)
    scrambled = table
    for name in ("time_to_failure_h", *[s["name"] for s in library_get(TYPE)["sensors"] if s["kind"] == "numeric"]):
        values = column_numpy(table, name).astype(np.float64).copy()
        values[test] = rng.permutation(values[test]) * 3.0 + 1.0
        scrambled = scrambled.set_column(scrambled.column_names.index(name), name, pa.array(values))
    return scrambled, test


def test_held_out_runs_never_shape_the_model_or_its_cap() -> None:
    """Scramble the test runs' signals and remaining life: the cap, the leaderboard and the model
    stay exactly the same, so nothing of a test run reached training or selection."""
    table = fleet()
    scrambled, test = scrambled_test_runs(table)
    original, other = searched_once(), searched(scrambled)
    assert original.cap_h == other.cap_h and original.spec == other.spec
    assert _without_times(original.search, keep_plain=False) == _without_times(other.search, keep_plain=False)
    features, _ = window_features(table, signals=original.signals, spec=original.spec)
    train_or_validation = ~test
    np.testing.assert_array_equal(original.predict(features[train_or_validation]),
                                  other.predict(features[train_or_validation]))
    assert original.metrics != other.metrics  # the test runs did change: only the held-out figures moved


def test_a_cap_set_by_the_user_is_kept() -> None:
    # The point is the cap, not the learners: the two libraries' defaults are search enough.
    result = searched(fleet(), cap_h=40.0, search=SearchSettings(budget_s=600, max_trials=2))
    assert result.cap_h == 40.0 and result.search["cap"] == 40.0 and result.search["cap_scores"] == []
    assert float(np.max(result.predict(np.zeros((3, len(result.feature_names)))))) <= 40.0


# --- the failure classifier ---------------------------------------------------------------------

CLASSIFIER_SEARCH = SearchSettings(budget_s=600, max_trials=3)


@functools.cache
def classifier_once() -> ClassifierResult:
    return classifier_searched(fleet())


def classifier_searched(table: pa.Table) -> ClassifierResult:
    document = library_get(TYPE)
    train = split_train_validation_test(column_numpy(table, "machine").astype(str), seed=0)[0]
    spec = data_spec(table, document, rows=train, seed=0)
    return train_failure_classifier(table, document, horizon_h=default_horizon_h(fleet()), seed=0, spec=spec,
                                    search=CLASSIFIER_SEARCH)


def test_a_classifier_is_ranked_by_f1_under_the_false_positive_limit_then_pr_auc() -> None:
    y = np.array([1] * 10 + [0] * 90, bool)
    # A orders the rows better overall (higher PR-AUC), but one negative scores above every
    # positive, so with no false alarm allowed (1% of 90) it flags none; B flags 7 of 10 with none.
    a = np.r_[np.linspace(0.9, 0.8, 10), [0.95], np.linspace(0.5, 0.0, 89)]
    b = np.r_[np.linspace(0.9, 0.6, 7), [0.1, 0.05, 0.02], np.linspace(0.55, 0.0, 90)]
    strict = Objective(BINARY, max_fpr=0.01)
    scores_a, scores_b = strict.score(y, a), strict.score(y, b)
    assert scores_a["validation_pr_auc"] > scores_b["validation_pr_auc"]
    assert scores_b["validation_f1"] > scores_a["validation_f1"] and scores_b["validation_fpr"] <= 0.01
    assert strict.rank(scores_b) < strict.rank(scores_a)  # B first: it is better where it will be used
    # Allowed 5% false alarms, A catches every failure and wins.
    loose = Objective(BINARY, max_fpr=0.05)
    assert loose.rank(loose.score(y, a)) < loose.rank(loose.score(y, b))
    # Equal F1: the better ordering (PR-AUC) breaks the tie.
    tie = {"validation_f1": 0.5, "validation_pr_auc": 0.6}
    assert strict.rank(tie) < strict.rank({**tie, "validation_pr_auc": 0.4})


def test_classifier_search_same_seed_same_model_and_it_keeps_its_best() -> None:
    first, second = classifier_once(), classifier_searched(fleet())
    assert first.save_boosters() == second.save_boosters() and first.threshold == second.threshold
    assert _without_times(first.search) == _without_times(second.search)
    assert first.search["trials"] == 3 and first.search["max_fpr"] == 0.05
    board = first.search["leaderboard"]
    objective = Objective(BINARY)
    best_trial = min((r for r in board if r["trial"] is not None), key=lambda r: (objective.rank(r), r["trial"]))
    blend = next((r for r in board if r["trial"] is None), None)
    assert blend is not None  # both defaults ran, so there is a best of each library to blend
    # The blend is kept only when it ranks before the best single candidate on validation.
    if objective.rank(blend) < objective.rank(best_trial):
        assert first.search["winner"] == "blend" and isinstance(first.booster, Blend)
    else:
        assert first.search["winner"] == f"trial {best_trial['trial']} ({best_trial['learner']})"
        assert first.booster.learner == best_trial["learner"]
    assert first.validation["fpr"] <= 0.05 or first.threshold_note
    plain = first.search["plain_baseline"]
    assert {"f1", "recall", "fpr"} <= set(plain) and first.metrics["rows"] == plain["rows"]


def test_classifier_search_never_reads_a_test_run() -> None:
    """Scramble the test runs' signals and failures: the leaderboard, the threshold and the model
    stay exactly the same."""
    scrambled, _ = scrambled_test_runs(fleet())
    original, other = classifier_once(), classifier_searched(scrambled)
    assert _without_times(original.search, keep_plain=False) == _without_times(other.search, keep_plain=False)
    assert original.threshold == other.threshold and original.save_boosters() == other.save_boosters()
    assert original.metrics != other.metrics  # only the held-out figures moved


def test_lightgbm_and_blend_classifiers_save_load_score_and_explain() -> None:
    table, document = fleet(), library_get(TYPE)
    bundle = train_suite(table, document, horizon_h=default_horizon_h(table), seed=0, kinds=[FAILURE],
                         search=SearchSettings(budget_s=600, max_trials=2)).bundles[FAILURE]
    searched = bundle.model
    assert searched.search["trials"] == 2 and bundle.extra["importance"]
    features, _ = window_features(table, signals=searched.signals, spec=searched.spec)
    label, _ = failure_labels(table, searched.horizon_h)
    names = searched.feature_names
    lightgbm = fit(LIGHTGBM, "binary", DEFAULTS[LIGHTGBM], features, label, names, rounds=20, seed=0)[0]
    xgboost = fit(XGBOOST, "binary", DEFAULTS[XGBOOST], features, label, names, rounds=20, seed=0)[0]
    for booster in (lightgbm, Blend([xgboost, lightgbm])):
        model = dataclasses.replace(searched, booster=booster)
        loaded = bundle_load(bundle_dump(Bundle(FAILURE, model, bundle.extra))).model
        assert type(loaded.booster) is type(booster) and loaded.booster.learner == booster.learner
        np.testing.assert_array_equal(loaded.predict_proba(features), model.predict_proba(features))
        np.testing.assert_allclose(loaded.booster.contributions(features[:50]).sum(axis=1),
                                   booster.contributions(features[:50]).sum(axis=1))
        scored = score_frame(ModelSet(document, {FAILURE: Bundle(FAILURE, loaded, bundle.extra)}), table,
                             forecast_horizon_h=None)
        assert len(scored) == len(set(column_numpy(table, "machine").astype(str)))
        assert all(0 <= row["probability"] <= 1 and row["explanation"]["top_factors"] for row in scored)


def test_a_classifier_problem_reaches_a_worker_with_its_objective() -> None:
    """A helper worker reads the problem from bytes: it must score a candidate as the lead would."""
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 4))
    label = (features[:, 0] + rng.normal(0, 0.5, 400) > 1.2).astype(np.float64)
    rows = np.arange(400)
    problem = Problem(features, label, rows % 4 != 0, rows % 4 == 0, ["a", "b", "c", "d"], 0,
                      Objective(BINARY, max_fpr=0.02))
    copy = Problem.from_bytes(problem.to_bytes())
    assert copy.objective == problem.objective
    candidate = Candidate(0, LIGHTGBM, DEFAULTS[LIGHTGBM])
    here, there = evaluate(problem, candidate), evaluate(copy, candidate)
    assert here.scores == there.scores and "validation_f1" in here.scores and here.rounds == there.rounds


def test_a_bundle_from_before_the_search_still_loads() -> None:
    """Classifier bundles once held one XGBoost booster as `failure.ubj` and no learner list."""
    table, document = fleet(), library_get(TYPE)
    fixed = train_failure_classifier(table, document, horizon_h=default_horizon_h(table), seed=0, rounds=20)
    raw = bundle_dump(Bundle(FAILURE, fixed))
    old = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as new, zipfile.ZipFile(old, "w") as archive:
        for name in new.namelist():
            data = new.read(name)
            if name == "meta.json":
                meta = json.loads(data)
                del meta["model"]["learners"], meta["model"]["search"]
                data = json.dumps(meta).encode()
            archive.writestr("failure.ubj" if name == "failure-0.model.ubj" else name, data)
    loaded = bundle_load(old.getvalue()).model
    features, _ = window_features(table, signals=fixed.signals, spec=fixed.spec)
    assert loaded.booster.learner == XGBOOST and loaded.search == {}
    np.testing.assert_array_equal(loaded.predict_proba(features), fixed.predict_proba(features))


def _without_times(search: dict[str, Any], keep_plain: bool = True) -> dict[str, Any]:
    """The search summary without wall times (which vary) and, optionally, the test figures."""
    out = {k: v for k, v in search.items() if k != "seconds" and (keep_plain or k != "plain_baseline")}
    out["leaderboard"] = [{k: v for k, v in row.items() if k != "seconds"} for row in search["leaderboard"]]
    return out
