"""Window features and leakage-free splits. No database: both modules are pure numpy / pyarrow."""

from __future__ import annotations

import datetime as dt
import functools
import math

import numpy as np
import pyarrow as pa
import pytest

from engine.features import (
    MAINTENANCE_FEATURE,
    FeatureSpec,
    document_signals,
    serving_features,
    window_features,
)
from engine.splits import split_by_machine, split_by_time, split_train_validation_test
from engine.synthetic.simulator import simulate_fleet
from machines.library import library_get

MOTOR = "induction-motor-siemens-1la7"
SPEC3 = FeatureSpec(windows=(3,))


@functools.cache
def motor_fleet(machines: int = 10) -> pa.Table:
    return simulate_fleet(library_get(MOTOR), machines=machines, seed=0, step_hours=1.0)  # one row an hour


def motor_features(table: pa.Table) -> tuple[np.ndarray, list[str]]:
    document = library_get(MOTOR)
    return window_features(table, signals=document_signals(document), spec=FeatureSpec.for_document(document))


def tiny(machine: list[str], hours: list[float], x: list[float], **extra: list[object]) -> pa.Table:
    return pa.table({"machine": machine, "t": pa.array(hours, pa.float64()), "x": pa.array(x, pa.float64()), **extra})


def features_of(table: pa.Table, spec: FeatureSpec = SPEC3) -> dict[str, np.ndarray]:
    matrix, names = window_features(table, signals=["x"], spec=spec, time_column="t")
    assert matrix.dtype == np.float32 and matrix.shape == (table.num_rows, len(names))
    return {name: matrix[:, i].astype(np.float64) for i, name in enumerate(names)}


# --- statistics against hand-computed numbers ------------------------------------------------------


def test_statistics_match_hand_computed_values() -> None:
    # Machine A: x = 1, 3, 2, 6 at hours 0..3, given out of order and interleaved with machine B.
    table = tiny(["A", "B", "A", "A", "B", "A"], [3, 0, 1, 0, 1, 2], [6, 100, 3, 1, 200, 2])
    f = features_of(table)
    row_a3, row_a1, row_a0 = 0, 2, 3
    # Window [3, 2, 6]: mean 11/3, population std sqrt(26)/3, slope 3/2 per hour.
    assert f["x__mean_3"][row_a3] == pytest.approx(11 / 3, rel=1e-6)
    assert f["x__std_3"][row_a3] == pytest.approx(math.sqrt(26) / 3, rel=1e-6)
    assert (f["x__min_3"][row_a3], f["x__max_3"][row_a3], f["x__last_3"][row_a3]) == (2, 6, 6)
    assert f["x__slope_3"][row_a3] == pytest.approx(1.5, rel=1e-6)
    assert f["x__delta_3"][row_a3] == pytest.approx(6 - 11 / 3, rel=1e-6)
    # A partial window at the start of the run uses the history there is: [1, 3].
    assert [f[f"x__{s}_3"][row_a1] for s in ("mean", "std", "min", "max", "last", "slope", "delta")] == [
        2, 1, 1, 3, 3, 2, 1,
    ]
    # One point: no spread, no slope.
    assert (f["x__mean_3"][row_a0], f["x__std_3"][row_a0], f["x__delta_3"][row_a0]) == (1, 0, 0)
    assert np.isnan(f["x__slope_3"][row_a0])
    # Machine B never sees machine A's rows.
    assert f["x__mean_3"][4] == 150 and f["x__slope_3"][4] == 100


def test_statistics_beyond_float32_are_missing_not_infinite() -> None:
    # 1e200 is a finite double (an inline reading may hold it); its window statistics are not.
    f = features_of(tiny(["A", "A", "A"], [0, 1, 2], [1.0, 1e200, -1e200]))
    assert all(not np.isinf(values).any() for values in f.values())
    assert np.isnan(f["x__mean_3"][1]) and f["x__mean_3"][0] == 1


def test_slope_is_per_hour_with_irregular_sampling() -> None:
    f = features_of(tiny(["A", "A", "A"], [0, 2, 3], [0, 4, 6]))
    assert f["x__slope_3"][2] == pytest.approx(2.0)


def test_feature_names_follow_signal_statistic_window() -> None:
    _, names = window_features(tiny(["A"], [0], [1]), signals=["x"], spec=FeatureSpec(windows=(2, 5)), time_column="t")
    assert names[:8] == [
        "x__mean_2", "x__std_2", "x__min_2", "x__max_2", "x__last_2", "x__slope_2", "x__delta_2", "x__mean_5",
    ]
    assert len(names) == 14


def test_unknown_statistic_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown statistics"):
        FeatureSpec(statistics=("mean", "median"))


# --- against a straightforward reference ---------------------------------------------------------


def reference_statistics(hours: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """One row's statistics from its window's points, the plain way: valid points only."""
    keep = ~np.isnan(x)
    t, y = hours[keep], x[keep]
    if not len(y):
        return dict.fromkeys(("mean", "std", "min", "max", "last", "slope", "delta"), math.nan)
    mean = y.mean()
    dt_ = t - t.mean()
    spread = float((dt_**2).sum())
    slope = float((dt_ * (y - mean)).sum() / spread) if spread > 0 else math.nan
    return {"mean": mean, "std": y.std(), "min": y.min(), "max": y.max(), "last": y[-1], "slope": slope,
            "delta": y[-1] - mean}


def test_window_statistics_match_a_row_by_row_reference_with_groups_and_dropouts() -> None:
    rng = np.random.default_rng(7)
    rows = 1_500
    machine = rng.choice(["A", "B", "C", "D", "E"], rows)
    hours = np.cumsum(rng.exponential(1.0, rows))  # irregular sampling, distinct times
    signals = {
        "x": rng.normal(1500, 3, rows),  # a large mean beside a small spread
        "y": np.where(rng.random(rows) < 0.5, 2.5, rng.normal(0, 1, rows)),  # runs of a constant
    }
    signals["x"][rng.random(rows) < 0.2] = np.nan
    signals["y"][rng.random(rows) < 0.5] = np.nan
    shuffled = rng.permutation(rows)
    table = pa.table({"machine": machine[shuffled], "t": pa.array(hours[shuffled]),
                      **{name: pa.array(v[shuffled]) for name, v in signals.items()}})
    spec = FeatureSpec(windows=(1, 4, 24))
    matrix, names = window_features(table, signals=list(signals), spec=spec, time_column="t")
    column = {name: i for i, name in enumerate(names)}
    position = np.argsort(shuffled)  # generated row -> table row
    for row in range(rows):
        own = np.flatnonzero((machine == machine[row]) & (hours <= hours[row]))  # sorted by time already
        for window in spec.windows:
            recent = own[-window:]
            for signal, values in signals.items():
                expected = reference_statistics(hours[recent], values[recent])
                got = [matrix[position[row], column[f"{signal}__{stat}_{window}"]] for stat in expected]
                want = np.asarray(list(expected.values()), dtype=np.float32)
                np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5,
                                           err_msg=f"row {row}, {signal}, window {window}")


# --- missing values ---------------------------------------------------------------------------------


def test_dropouts_are_skipped_and_empty_windows_give_nan() -> None:
    nan = float("nan")
    table = tiny(["A"] * 4 + ["B"] * 2, [0, 1, 2, 3, 0, 1], [1, nan, 5, nan, nan, nan])
    f = features_of(table)
    # Row A2: window [1, nan, 5] -> valid points at hours 0 and 2.
    assert (f["x__mean_3"][2], f["x__min_3"][2], f["x__max_3"][2], f["x__slope_3"][2]) == (3, 1, 5, 2)
    # Row A3: window [nan, 5, nan] -> last is the latest valid value, one point has no slope.
    assert (f["x__mean_3"][3], f["x__last_3"][3], f["x__std_3"][3], f["x__delta_3"][3]) == (5, 5, 0, 0)
    assert np.isnan(f["x__slope_3"][3])
    # Machine B has no valid value at all.
    for name, values in f.items():
        assert np.isnan(values[4:]).all(), name


# --- no look-ahead, no cross-talk, row order ----------------------------------------------------------


def test_changing_a_future_row_never_changes_earlier_features() -> None:
    table = motor_fleet()
    before, _ = motor_features(table)
    cycle = table.column("cycle").to_numpy()
    future = cycle >= 40
    current = table.column("current_a").to_numpy(zero_copy_only=False).copy()
    current[future] = current[future] * 3 + 50
    after, _ = motor_features(table.set_column(table.schema.get_field_index("current_a"), "current_a", [current]))
    np.testing.assert_array_equal(after[~future], before[~future])
    assert not np.allclose(after[future], before[future], equal_nan=True)  # the edit did reach the features


def test_a_machine_never_affects_another() -> None:
    table = motor_fleet()
    machine = np.asarray(table.column("machine").to_numpy(zero_copy_only=False))
    before, _ = motor_features(table)
    others = machine != "sim-0003"
    alone, _ = motor_features(table.filter(pa.array(others)))
    np.testing.assert_array_equal(alone, before[others])


def test_original_row_order_is_preserved() -> None:
    table = motor_fleet()
    before, _ = motor_features(table)
    shuffled = np.random.default_rng(1).permutation(table.num_rows)
    after, _ = motor_features(table.take(pa.array(shuffled)))
    np.testing.assert_array_equal(after, before[shuffled])


# --- categorical attributes -----------------------------------------------------------------------


def test_categories_one_hot_in_metadata_order_and_unknown_is_all_zeros() -> None:
    spec = FeatureSpec.for_document(library_get("ai4i-milling-machine"), windows=(2,))
    assert list(spec.categorical) == ["product_type"]
    table = tiny(["A", "A", "B", "C"], [0, 1, 0, 0], [1, 2, 3, 4], product_type=["M", "M", "X", None])
    matrix, names = window_features(table, signals=["x"], spec=spec, time_column="t")
    onehot = matrix[:, [names.index(f"product_type__{c}") for c in ("L", "M", "H")]]
    assert names[-3:] == ["product_type__L", "product_type__M", "product_type__H"]
    np.testing.assert_array_equal(onehot, [[0, 1, 0], [0, 1, 0], [0, 0, 0], [0, 0, 0]])


# --- time since maintenance -----------------------------------------------------------------------


def test_hours_since_the_latest_maintenance_at_or_before_each_row() -> None:
    spec = FeatureSpec(windows=(2,), maintenance_times={"A": [1.5, 3.0], "C": [0.0]})
    table = tiny(["A"] * 6 + ["B"], [5, 4, 3, 2, 1, 0, 7], [0] * 7)
    f = features_of(table, spec)
    np.testing.assert_array_equal(f[MAINTENANCE_FEATURE], [2, 1, 0, 0.5, np.nan, np.nan, np.nan])


def test_maintenance_times_as_datetimes_on_a_timestamp_column() -> None:
    table = motor_fleet()
    epoch = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    spec = FeatureSpec(windows=(2,), maintenance_times={"sim-0000": [epoch + dt.timedelta(hours=10)]})
    matrix, names = window_features(table, signals=["current_a"], spec=spec)
    machine = np.asarray(table.column("machine").to_numpy(zero_copy_only=False))
    cycle = table.column("cycle").to_numpy()
    since = matrix[:, names.index(MAINTENANCE_FEATURE)]
    first = machine == "sim-0000"
    np.testing.assert_array_equal(since[first & (cycle >= 10)], (cycle[first & (cycle >= 10)] - 10).astype(np.float32))
    assert np.isnan(since[first & (cycle < 10)]).all() and np.isnan(since[~first]).all()


# --- serving ----------------------------------------------------------------------------------------


def test_serving_features_equal_window_features_on_each_machines_latest_row() -> None:
    document = library_get(MOTOR)
    spec = FeatureSpec.for_document(document, maintenance_times={"sim-0002": [dt.datetime(2024, 1, 2, tzinfo=dt.UTC)]})
    signals = document_signals(document)
    table = motor_fleet()
    full, names = window_features(table, signals=signals, spec=spec)
    machine = np.asarray(table.column("machine").to_numpy(zero_copy_only=False))
    cycle = table.column("cycle").to_numpy()
    last_cycle = {m: cycle[machine == m].max() for m in np.unique(machine)}
    is_last = np.array([c == last_cycle[m] for m, c in zip(machine, cycle, strict=True)])
    # Serving sees only recent history: the last max(windows) rows of each machine, shuffled.
    recent = np.flatnonzero(np.array([c > last_cycle[m] - 24 for m, c in zip(machine, cycle, strict=True)]))
    history = table.take(pa.array(np.random.default_rng(2).permutation(recent)))
    ids, served, served_names = serving_features(history, signals=signals, spec=spec)
    assert served_names == names and ids == sorted(last_cycle)
    expected = {m: full[np.flatnonzero(is_last & (machine == m))[0]] for m in ids}
    np.testing.assert_array_equal(served, np.stack([expected[m] for m in ids]))


# --- the simulator ------------------------------------------------------------------------------------


def test_simulated_fleet_gives_finite_features_where_inputs_are_valid() -> None:
    document = library_get(MOTOR)
    table = motor_fleet()
    matrix, names = motor_features(table)
    signals = document_signals(document)
    assert len(names) == len(signals) * 2 * 7 and matrix.shape == (table.num_rows, len(names))
    inputs = np.stack([table.column(s).to_numpy(zero_copy_only=False) for s in signals], axis=1)
    row_valid = np.isfinite(inputs).all(axis=1)
    # A slope needs two points: this row and the one before it (same machine: rows come in cycle order).
    valid = row_valid & np.r_[False, row_valid[:-1]] & (table.column("cycle").to_numpy() >= 1)
    assert valid.mean() > 0.9
    assert np.isfinite(matrix[valid]).all()


# --- splits -------------------------------------------------------------------------------------------


def fleet_ids(machines: int = 50, rows: int = 7) -> np.ndarray:
    return np.repeat([f"m{i:03d}" for i in range(machines)], rows)


def test_machine_split_keeps_each_machine_on_one_side_with_the_right_share() -> None:
    machines = fleet_ids()
    train, test = split_by_machine(machines, test_fraction=0.2, seed=3)
    assert not (train & test).any() and (train | test).all()
    assert not set(machines[train]) & set(machines[test])
    assert len(set(machines[test])) == 10


def test_three_way_split_is_disjoint_by_machine() -> None:
    machines = fleet_ids(100)
    train, validation, test = split_train_validation_test(machines, validation_fraction=0.15, test_fraction=0.2)
    sides = [set(machines[mask]) for mask in (train, validation, test)]
    assert [len(s) for s in sides] == [65, 15, 20]
    assert not (sides[0] & sides[1] or sides[0] & sides[2] or sides[1] & sides[2])
    assert (train.astype(int) + validation + test == 1).all()


def test_splits_are_deterministic_by_seed_and_ignore_row_order() -> None:
    machines = fleet_ids()
    first = split_by_machine(machines, seed=7)[1]
    assert (split_by_machine(machines, seed=7)[1] == first).all()
    assert set(machines[split_by_machine(machines, seed=8)[1]]) != set(machines[first])
    shuffled = np.random.default_rng(0).permutation(len(machines))
    assert set(machines[shuffled][split_by_machine(machines[shuffled], seed=7)[1]]) == set(machines[first])


def test_a_tiny_fleet_still_trains_on_something() -> None:
    train, validation, test = split_train_validation_test(np.array(["a", "b"]))
    assert train.sum() == 1 and test.sum() == 1 and validation.sum() == 0


def test_time_split_cuts_each_machine_with_a_gap() -> None:
    table = motor_fleet()
    machines = np.asarray(table.column("machine").to_numpy(zero_copy_only=False))
    times = table.column("ts").to_numpy()
    order = np.random.default_rng(4).permutation(len(machines))  # row order must not matter
    train, test = split_by_time(times[order], machines[order], cutoff_fraction=0.8, gap=23)
    cycles = table.column("cycle").to_numpy()[order]
    for machine in np.unique(machines):
        mine = machines[order] == machine
        train_cycles, test_cycles = cycles[mine & train], cycles[mine & test]
        assert len(train_cycles) == int(mine.sum() * 0.8)
        if mine.sum() - len(train_cycles) <= 23:  # a short run: the gap swallows its whole tail
            assert len(test_cycles) == 0
            continue
        assert test_cycles.min() - train_cycles.max() == 24  # 23 rows in between belong to neither side
        assert test_cycles.max() == mine.sum() - 1
    assert test.sum() > 0
