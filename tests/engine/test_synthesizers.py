"""SDV synthesizers: ranges, categories, save / load, quality report, hybrid, progress, bad input.
Plain tests (no database); tiny fleets and a few epochs keep the file fast."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from engine.metadata import derived_evaluate, numeric_sensors, signal_ranges
from engine.synthetic.simulator import simulate_fleet
from engine.synthetic.synthesizers import (
    FittedSynthesizer,
    fit_synthesizer,
    quality_report,
    training_frame,
)
from machines.library import library_get

KEY = "ai4i-milling-machine"  # has a categorical sensor (product_type) and derived signals
REPO = Path(__file__).resolve().parents[2]
FAST: dict[str, Any] = {"epochs": 2, "max_rows": 600}


@functools.cache
def document() -> dict:
    return library_get(KEY)


@functools.cache
def fleet() -> pa.Table:
    # 40 % censored runs: the hybrid's normal rows then surely include machines that never fail.
    return simulate_fleet(document(), machines=12, seed=3, healthy_fraction=0.4)


@functools.cache
def fitted(kind: str = "tvae", level: str = "row") -> FittedSynthesizer:
    return fit_synthesizer(fleet(), document(), kind=kind, level=level, seed=0, **FAST)


def values(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False))


def test_importing_the_module_loads_neither_torch_nor_sdv() -> None:
    code = "import sys, engine.synthetic.synthesizers; print(sorted({'torch', 'sdv'} & set(sys.modules)))"
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_row_sample_respects_critical_ranges_categories_and_formulas() -> None:
    synthesizer = fitted()
    sample = synthesizer.sample(800, seed=1)
    assert sample.num_rows == 800 and sample.column_names == synthesizer.columns
    for sensor in numeric_sensors(document()):
        column = values(sample, sensor["name"]).astype(float)
        low, high = sensor["ranges"]["critical"]
        assert np.all((column[~np.isnan(column)] >= low) & (column[~np.isnan(column)] <= high)), sensor["name"]
    assert set(values(sample, "product_type")) <= set(document()["sensors"][0]["categories"])
    modes = set(values(sample, "failure_mode"))
    assert modes <= {""} | {mode["name"] for mode in document()["failure_modes"]}
    sensors = {s["name"]: values(sample, s["name"]).astype(float) for s in numeric_sensors(document())}
    for name, expected in derived_evaluate(document(), sensors).items():
        np.testing.assert_allclose(values(sample, name).astype(float), expected, rtol=1e-6, equal_nan=True)
    ttf = values(sample, "time_to_failure_h").astype(float)
    assert np.all(np.isnan(ttf) == (values(sample, "failure_mode") == ""))


def test_window_sample_clips_window_statistics_and_one_hot_encodes_categories() -> None:
    synthesizer = fitted("gaussian_copula", "window")
    sample = synthesizer.sample(600, seed=1)
    ranges = signal_ranges(document())
    for name in sample.column_names:
        signal, _, stat = name.partition("__")
        column = values(sample, name).astype(float) if stat and signal in ranges or "std" in stat else None
        if column is None:
            continue
        column = column[~np.isnan(column)]
        if stat.startswith(("mean", "last")):
            low, high = ranges[signal]["critical"]
            assert np.all((column >= low) & (column <= high)), name
        elif stat.startswith("std"):
            assert np.all(column >= 0), name
    one_hot = np.stack([values(sample, f"product_type__{c}") for c in ("L", "M", "H")], axis=1)
    assert np.all(one_hot.sum(axis=1) == 1)
    assert np.all(one_hot.argmax(axis=1) == [("L", "M", "H").index(v) for v in values(sample, "product_type")])


def test_save_load_round_trip_samples_the_same_rows() -> None:
    synthesizer = fitted()
    loaded = FittedSynthesizer.load(synthesizer.save())
    assert (loaded.kind, loaded.level, loaded.columns, loaded.rows_fitted) == (
        synthesizer.kind, synthesizer.level, synthesizer.columns, synthesizer.rows_fitted)
    assert loaded.sample(300, seed=5).equals(synthesizer.sample(300, seed=5))
    assert not synthesizer.sample(300, seed=6).equals(synthesizer.sample(300, seed=5))
    with pytest.raises(ValueError, match="not a saved synthesizer"):
        FittedSynthesizer.load(b"something else")


def test_a_synthesizer_saved_before_the_engine_moved_still_loads() -> None:
    """Artifacts saved when the engine lived in the predictions app name its classes there."""
    import pickle

    from engine.synthetic.synthesizers import _FORMAT

    old = FittedSynthesizer(kind="gaussian_copula", level="rows", columns=["a"], fit_seconds=1.0, epochs=None,
                            rows_fitted=3, seed=0, document={}, models={})
    text = pickle.dumps(old, protocol=0)  # GLOBAL opcodes name the module as plain text
    assert b"engine.synthetic.synthesizers" in text
    saved = _FORMAT + text.replace(b"engine.synthetic.synthesizers", b"predictions.synthetic.synthesizers")
    loaded = FittedSynthesizer.load(saved)
    assert isinstance(loaded, FittedSynthesizer) and loaded.rows_fitted == 3


def test_quality_report_is_json_with_scores_in_unit_interval() -> None:
    report = quality_report(fleet(), fitted().sample(1000, seed=2), document())
    assert json.loads(json.dumps(report)) == report
    for key in ("overall", "column_shapes", "column_pair_trends"):
        assert 0 <= report[key] <= 1, key
    expected = set(training_frame(fleet(), document(), level="row").columns)
    assert set(report["columns"]) == expected
    assert all(0 <= score <= 1 for score in report["columns"].values())


def test_fitted_synthesizer_beats_constant_data_on_quality() -> None:
    good = fitted("gaussian_copula", "row").sample(1000, seed=2)
    real = training_frame(fleet(), document(), level="row")
    bad = real.iloc[:1000].copy()
    for name in bad.columns:
        bad[name] = bad[name].iloc[0]  # every row the same: right columns, no distribution
    bad_table = pa.Table.from_pandas(bad, preserve_index=False)
    good_score = quality_report(fleet(), good, document())["overall"]
    bad_score = quality_report(fleet(), bad_table, document())["overall"]
    assert good_score > 0.6 and good_score > bad_score + 0.3, (good_score, bad_score)


def test_hybrid_samples_normal_and_failure_window_rows_at_the_asked_share() -> None:
    synthesizer = fit_synthesizer(fleet(), document(), kind="hybrid", level="row", failure_share=0.4, seed=0, **FAST)
    assert synthesizer.failure_horizon_h and synthesizer.failure_horizon_h > 0
    sample = synthesizer.sample(500, seed=1)
    failing = values(sample, "failure_mode") != ""
    near = failing & (values(sample, "remaining_h").astype(float) <= synthesizer.failure_horizon_h * 1.5)
    assert near.sum() >= 150 and (~failing).sum() >= 50


def test_progress_reports_rising_percentages_up_to_100() -> None:
    seen: list[tuple[int, str]] = []
    fit_synthesizer(
        fleet(), document(), kind="tvae", level="row", epochs=3, max_rows=300,
        progress=lambda percent, message: seen.append((percent, message)),
    )
    percents = [p for p, _ in seen]
    assert percents == sorted(percents) and percents[0] == 0 and percents[-1] == 100
    assert any("epoch 3 of 3" in message for _, message in seen)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "timegan"}, "unknown kind 'timegan'"),
        ({"level": "sequence"}, "unknown level 'sequence'"),
        ({"table": "empty"}, "the table is empty"),
        ({"table": "no torque"}, "lacks columns the machine type needs: torque_nm"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"kind": "hybrid", "failure_horizon_h": 0.5}, "hybrid needs at least 50 failure-window rows"),
    ],
)
def test_bad_input_raises_a_clear_value_error(change: dict, message: str) -> None:
    table = fleet()
    if change.get("table") == "empty":
        table = table.slice(0, 0)
    elif change.get("table") == "no torque":
        table = table.drop_columns(["torque_nm"])
    arguments = {key: value for key, value in change.items() if key != "table"}
    with pytest.raises(ValueError, match=message):
        fit_synthesizer(table, document(), **arguments)


def test_hybrid_without_failing_runs_says_so() -> None:
    healthy = simulate_fleet(document(), machines=3, seed=0, healthy_fraction=1.0)
    assert pc.all(pc.equal(healthy.column("failure_mode"), "")).as_py()
    with pytest.raises(ValueError, match="hybrid needs failing runs"):
        fit_synthesizer(healthy, document(), kind="hybrid")
