"""Each machine's own normal (engine.baselines): pure, no database."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from engine.baselines import (
    Baseline,
    baseline_from_frame,
    reference_levels,
    references,
    relative_frame,
    typical_spreads,
)

LIBRARY = Path(__file__).resolve().parents[2] / "machines" / "library"


def _frame(machines: dict[str, dict[str, np.ndarray]]) -> pa.Table:
    names: list[str] = []
    ts: list[int] = []
    columns: dict[str, list[float]] = {}
    for name, signals in machines.items():
        rows = len(next(iter(signals.values())))
        names += [name] * rows
        ts += list(range(rows))
        for signal, values in signals.items():
            columns.setdefault(signal, []).extend(values.tolist())
    return pa.table({"machine": pa.array(names), "ts": pa.array(np.array(ts, np.int64) * 3_600_000_000,
                                                                  pa.timestamp("us", "UTC")),
                     **{k: pa.array(v, pa.float64()) for k, v in columns.items()}})


def test_shift_puts_each_machine_baseline_on_the_reference_and_keeps_wear() -> None:
    rng = np.random.default_rng(0)
    slow = np.r_[1450 + rng.normal(0, 2, 100), 1450 + rng.normal(0, 2, 20) - 40]  # wear at the end
    fast = 1000 + rng.normal(0, 2, 120)
    frame = _frame({"pump-1": {"speed": slow}, "pump-2": {"speed": fast}})
    baselines = baseline_from_frame(frame, signals=["speed"], steps=50)
    assert baselines["pump-1"].steps == 50
    assert baselines["pump-1"].levels["speed"] == pytest.approx(1450, abs=1)
    moved = relative_frame(frame, baselines, {"speed": 1225.0}).column("speed").to_numpy()
    one, two = moved[:120], moved[120:]
    assert np.mean(one[:100]) == pytest.approx(1225, abs=1)
    assert np.mean(two) == pytest.approx(1225, abs=1)
    assert np.mean(one[100:]) == pytest.approx(1185, abs=2)  # the 40 rpm drop still shows


def test_a_noisier_machine_is_scaled_down_to_the_reference_spread_and_a_quieter_one_never_up() -> None:
    rng = np.random.default_rng(1)
    noisy = np.r_[100 + rng.normal(0, 10, 200), np.full(20, 150.0)]  # then a 50-unit rise: 5 of its own spreads
    quiet = np.r_[np.full(100, 50.0), np.full(100, 51.0)]  # a quantised sensor: no spread in its baseline
    frame = _frame({"noisy": {"t": noisy}, "quiet": {"t": quiet}})
    baselines = baseline_from_frame(frame, signals=["t"], steps=100)
    moved = relative_frame(frame, baselines, {"t": 0.0}, reference_spread={"t": 1.0})
    values = moved.column("t").to_numpy()
    assert np.std(values[:200]) == pytest.approx(1.0, rel=0.2)  # the noisy machine in the models' units
    assert np.mean(values[200:220]) == pytest.approx(5.0, rel=0.25)  # its rise still stands out, in those units
    assert values[-1] == pytest.approx(1.0)  # the quiet one's 1-degree step stays 1 degree: not amplified


def test_unscaled_without_reference_spread() -> None:
    frame = _frame({"m": {"t": np.r_[np.full(10, 5.0), np.full(10, 7.0)]}})
    moved = relative_frame(frame, baseline_from_frame(frame, signals=["t"], steps=10), {"t": 0.0})
    assert moved.column("t").to_numpy()[-1] == pytest.approx(2.0)


def test_regimes_get_fleet_means_plus_a_machine_offset() -> None:
    rng = np.random.default_rng(2)
    machines = {}
    for index in range(6):
        setting = rng.choice([0.0, 10.0, 20.0], 60)  # three set points, switching every row
        level = 100 + 30 * (setting / 10) + index  # each machine 1 unit higher than the last
        machines[f"e{index}"] = {"setting": setting, "temp": level + rng.normal(0, 0.5, 60)}
    frame = _frame(machines)
    baselines = baseline_from_frame(frame, signals=["setting", "temp"], steps=20)  # ~7 rows a regime
    assert baselines["e0"].regimes is not None and baselines["e0"].regimes.count == 3
    moved = relative_frame(frame, baselines, {"temp": 0.0, "setting": 0.0}).column("temp").to_numpy()
    # regime jumps of 30 and the machines' own offsets are both gone: what is left is the noise
    assert np.std(moved) < 1.0
    levels = baselines["e3"].regime_levels()["temp"]
    assert sorted(levels) == pytest.approx([103, 133, 163], abs=1)


def test_short_baseline_uses_what_the_machine_has() -> None:
    frame = _frame({"new": {"t": np.array([1.0, 2.0, 3.0])}, "one": {"t": np.array([4.0])}})
    baselines = baseline_from_frame(frame, signals=["t", "absent"], steps=20)
    assert baselines["new"].steps == 3 and baselines["new"].levels["t"] == pytest.approx(2.0)
    assert baselines["one"].steps == 1 and np.isnan(baselines["one"].spreads["t"])
    moved = relative_frame(frame, baselines, {"t": 10.0}, reference_spread={"t": 1.0}).column("t").to_numpy()
    assert moved[-1] == pytest.approx(10.0)  # no spread known: shifted, not scaled


def test_machines_without_baseline_and_missing_values_stay_as_they_are() -> None:
    frame = _frame({"known": {"t": np.array([1.0, np.nan, 3.0])}, "other": {"t": np.array([9.0, 9.0])}})
    baselines = {"known": baseline_from_frame(frame, signals=["t"], steps=3)["known"]}
    moved = relative_frame(frame, baselines, {"t": 0.0}).column("t").to_numpy()
    assert moved[0] == pytest.approx(-1.0) and np.isnan(moved[1])
    assert moved[3:].tolist() == [9.0, 9.0]


def test_baseline_round_trips_through_json() -> None:
    rng = np.random.default_rng(3)
    frame = _frame({f"e{i}": {"s": rng.choice([0.0, 5.0], 80), "t": rng.normal(0, 1, 80)} for i in range(3)})
    baseline = baseline_from_frame(frame, signals=["s", "t"], steps=40)["e1"]
    again = Baseline.from_json(json.loads(json.dumps(baseline.to_json())))
    assert again == baseline or again.to_json() == baseline.to_json()


def test_steps_must_be_positive() -> None:
    with pytest.raises(ValueError, match="steps"):
        baseline_from_frame(_frame({"m": {"t": np.ones(3)}}), signals=["t"], steps=0)


def test_reference_levels_follow_the_simulator() -> None:
    pump = json.loads((LIBRARY / "centrifugal-pump.json").read_text())
    levels = reference_levels(pump)
    for sensor in pump["sensors"]:
        if sensor["kind"] == "categorical":
            continue
        set_by = [r for r in pump["operating_regimes"] if sensor["name"] in r["signal_levels"]]
        low, high = sensor["ranges"]["normal"]
        if not set_by:  # the middle of its normal range, give or take the small regime offset
            assert levels[sensor["name"]] == pytest.approx((low + high) / 2, abs=0.05 * (high - low))
    assert all(np.isfinite(v) for v in levels.values())


def test_typical_spreads_are_the_median_baseline_spread_of_the_fleet() -> None:
    rng = np.random.default_rng(4)
    # machine i's noise is i + 1; after the baseline every machine wears (the rise is not noise)
    fleet = {f"m{i}": {"t": np.r_[rng.normal(0, i + 1.0, 50), np.full(10, 100.0)]} for i in range(5)}
    spreads = typical_spreads(_frame(fleet), signals=["t", "absent"], steps=50)
    assert set(spreads) == {"t"}
    assert spreads["t"] == pytest.approx(3.0, rel=0.25)  # the median machine's, its wear left out


def test_reference_levels_weigh_regimes_by_share() -> None:
    engine = json.loads((LIBRARY / "turbofan-engine-cmapss.json").read_text())
    shares = {r["name"]: r["share"] for r in engine["operating_regimes"]}
    expected = sum(shares[r["name"]] * r["signal_levels"]["op_setting_1"] for r in engine["operating_regimes"])
    assert reference_levels(engine)["op_setting_1"] == pytest.approx(expected / sum(shares.values()))
    assert "overall_pressure_ratio" in reference_levels(engine)  # derived signals too


def test_a_machine_in_one_regime_is_moved_onto_that_regime_and_one_that_alternates_onto_the_mix() -> None:
    engine = json.loads((LIBRARY / "turbofan-engine-cmapss.json").read_text())
    refs = references(engine)
    sea_level = next(r for r in engine["operating_regimes"] if r["name"] == "sea_level")["signal_levels"]
    assert refs.set_points == ["op_setting_1", "op_setting_2", "op_setting_3"]
    rng = np.random.default_rng(5)
    at_sea_level = {s: np.full(40, float(sea_level[s])) + rng.normal(0, 0.001, 40) for s in refs.set_points}
    at_sea_level["t30_r"] = 1580 + rng.normal(0, 1, 40)  # its own level, 10 degR under the simulated one
    frame = _frame({"e1": at_sea_level})
    moved = relative_frame(frame, baseline_from_frame(frame, signals=list(at_sea_level), steps=20), refs)
    # Onto the sea-level regime: its settings stay where they are, its temperature sits on the
    # simulated sea-level level. The share-weighted mix would have moved the throttle settings to
    # an operating point no simulated engine ran at.
    assert np.mean(moved.column("op_setting_3").to_numpy()) == pytest.approx(sea_level["op_setting_3"], abs=0.01)
    assert np.mean(moved.column("t30_r").to_numpy()) == pytest.approx(sea_level["t30_r"], abs=0.5)
    mixed = refs.nearest(refs.mixed)
    assert mixed is refs.mixed  # a baseline at the mix (a machine alternating unseen) stays on the mix


def test_a_type_without_regimes_has_only_the_mix() -> None:
    document = json.loads((LIBRARY / "centrifugal-pump.json").read_text())
    document["operating_regimes"] = document["operating_regimes"][:1]
    refs = references(document)
    assert refs.regimes == [] and refs.nearest({"flow_m3_h": 1.0}) is refs.mixed
