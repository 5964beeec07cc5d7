"""The degradation simulator, on every built-in machine type. No database: the simulator is pure numpy."""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa
import pytest

from engine.metadata import derived_evaluate, numeric_sensors, signal_ranges
from engine.synthetic.simulator import SimulationOptions, simulate_fleet, simulation_scale, zones_at_failure
from machines.library import library_get, library_list

KEYS = [summary["key"] for summary in library_list()]
MOTOR = "induction-motor-siemens-1la7"


@functools.cache
def fleet(key: str, machines: int = 8, seed: int = 0, healthy_fraction: float = 0.25) -> pa.Table:
    return simulate_fleet(library_get(key), machines=machines, seed=seed, healthy_fraction=healthy_fraction)


def column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False))


def runs(table: pa.Table) -> list[np.ndarray]:
    """Row indices of each machine's run, in cycle order."""
    machine = column(table, "machine")
    return [np.flatnonzero(machine == name) for name in dict.fromkeys(machine)]


@pytest.mark.parametrize("key", KEYS)
def test_schema_and_dtypes(key: str) -> None:
    document, table = library_get(key), fleet(key)
    schema = table.schema
    assert schema.field("machine").type == pa.string()
    assert schema.field("cycle").type == pa.int64()
    assert schema.field("ts").type == pa.timestamp("us", "UTC")
    for sensor in document["sensors"]:
        expected = pa.float32() if sensor["kind"] == "numeric" else pa.string()
        assert schema.field(sensor["name"]).type == expected
    for sensor in document["sensors"]:
        if sensor["kind"] == "categorical":
            assert set(column(table, sensor["name"])) <= set(sensor["categories"])
    for derived in document.get("derived_signals", []):
        assert schema.field(derived["name"]).type == pa.float32()
    assert schema.field("regime").type == pa.string()
    assert set(column(table, "regime")) <= {regime["name"] for regime in document["operating_regimes"]}
    assert schema.field("failed").type == pa.bool_()
    assert schema.field("time_to_failure_h").type == pa.float64()
    assert len(set(column(table, "machine"))) == 8


@pytest.mark.parametrize("key", KEYS)
def test_labels_are_consistent(key: str) -> None:
    table = fleet(key)
    names = ("failure_mode", "failed", "time_to_failure_h", "cycle")
    mode, failed, ttf, cycle = (column(table, name) for name in names)
    ts = column(table, "ts").astype("datetime64[us]").astype(np.int64)
    step_hours = simulation_scale(library_get(key)).step_hours  # the type's own step
    assert float(table.schema.metadata[b"step_hours"]) == step_hours
    censored = 0
    for rows in runs(table):
        assert np.array_equal(cycle[rows], np.arange(len(rows)))
        assert np.all(np.diff(ts[rows]) == round(step_hours * 3.6e9))
        assert len(set(mode[rows])) == 1
        if mode[rows][0] == "":
            censored += 1
            assert not failed[rows].any() and np.isnan(ttf[rows]).all()
        else:
            assert failed[rows].sum() == 1 and failed[rows][-1]
            assert np.allclose(np.diff(ttf[rows]), -step_hours) and ttf[rows][-1] == 0
    assert censored == 2  # 25 % of 8 machines


@pytest.mark.parametrize("key", KEYS)
def test_derived_signals_follow_their_formulas(key: str) -> None:
    document, table = library_get(key), fleet(key)
    sensors = {sensor["name"]: column(table, sensor["name"]).astype(np.float64) for sensor in numeric_sensors(document)}
    for name, expected in derived_evaluate(document, sensors).items():
        expected = np.broadcast_to(np.asarray(expected, dtype=np.float32), (table.num_rows,))
        np.testing.assert_allclose(column(table, name), expected, rtol=1e-5, equal_nan=True)


def test_same_seed_same_table_other_seed_other_table() -> None:
    document = library_get(MOTOR)
    first = simulate_fleet(document, machines=5, seed=7)
    assert same_table(first, simulate_fleet(document, machines=5, seed=7))
    assert not same_table(first, simulate_fleet(document, machines=5, seed=8))


def same_table(first: pa.Table, second: pa.Table) -> bool:
    # Table.equals treats NaN (a dropout) as unequal to itself; compare column by column instead.
    if first.schema != second.schema or first.num_rows != second.num_rows:
        return False
    for name in first.column_names:
        a, b = column(first, name), column(second, name)
        if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            return False
    return True


@pytest.mark.parametrize("key", KEYS)
def test_healthy_machines_stay_mostly_normal(key: str) -> None:
    document, table = library_get(key), fleet(key, machines=4, healthy_fraction=1.0)
    assert not column(table, "failed").any()
    inside = total = 0
    for sensor in numeric_sensors(document):
        values = column(table, sensor["name"])
        values = values[~np.isnan(values)]
        low, high = sensor["ranges"]["normal"]
        inside += int(((values >= low) & (values <= high)).sum())
        total += len(values)
    assert inside / total >= 0.95


def drift_by_signal(table: pa.Table, mode: str, signal: str) -> float:
    """Mean over runs of this mode: (mean of the last 5 %) - (mean of the first 20 %), after removing
    each regime's typical level (taken from the first 20 % of every run) so regime switches cancel."""
    failure_mode, regime = column(table, "failure_mode"), column(table, "regime")
    values = column(table, signal).astype(np.float64)
    heads = np.concatenate([rows[: int(len(rows) * 0.2)] for rows in runs(table)])
    for name in set(regime):
        in_regime = regime == name
        head_values = values[np.intersect1d(heads, np.flatnonzero(in_regime))]
        values[in_regime] -= np.nanmean(head_values) if np.isfinite(head_values).any() else 0.0
    changes = []
    for rows in runs(table):
        if failure_mode[rows[0]] != mode:
            continue
        run = values[rows]
        head, tail = run[: int(len(run) * 0.2)], run[int(len(run) * 0.95):]
        if np.isfinite(head).any() and np.isfinite(tail).any():
            changes.append(np.nanmean(tail) - np.nanmean(head))
    return float(np.mean(changes)) if len(changes) >= 3 else float("nan")  # one run is all weather


@pytest.mark.parametrize("key", KEYS)
def test_affected_signals_drift_as_stated_and_others_do_not(key: str) -> None:
    document = library_get(key)
    table = fleet(key, machines=60, seed=3, healthy_fraction=0.0)
    spans = {name: ranges["normal"][1] - ranges["normal"][0] for name, ranges in signal_ranges(document).items()}
    formulas = {signal["name"]: signal["formula"] for signal in document.get("derived_signals", [])}
    healthy = {name: float(np.mean(ranges["normal"])) for name, ranges in signal_ranges(document).items()}
    healthy.update(document["operating_regimes"][0]["signal_levels"])
    for mode in document["failure_modes"]:
        affected = {a["signal"] for a in mode["affected_signals"]}
        for item in mode["affected_signals"]:
            change = drift_by_signal(table, mode["name"], item["signal"])
            if np.isnan(change) or item["signal"] not in spans:
                continue  # a mode fewer than 3 machines of this fleet failed by, or a signal without ranges
            if item["magnitude"] * abs(healthy.get(item["signal"], 0.0)) < 0.02 * spans[item["signal"]]:
                continue  # a change this small (C-MAPSS's 0.5 %) is below the sensor noise of a few runs
            sign = 1 if item["direction"] == "increase" else -1
            assert sign * change > 0, (mode["name"], item, change)
        # A derived signal is driven through a sensor it reads: those sensors may move too.
        touched = affected | {n for s in affected if s in formulas for n in spans if n in formulas[s]}
        for sensor in numeric_sensors(document):
            name = sensor["name"]
            if name in touched:
                continue
            change = drift_by_signal(table, mode["name"], name)
            assert np.isnan(change) or abs(change) < 0.2 * spans[name], (mode["name"], name, change)


def sensor_matrix(table: pa.Table, document: dict) -> np.ndarray:
    return np.column_stack([column(table, sensor["name"]) for sensor in numeric_sensors(document)])


def test_dropouts_at_their_rate() -> None:
    document = library_get(MOTOR)
    options = SimulationOptions(dropout_rate=0.02, stuck_rate=0.0)
    values = sensor_matrix(simulate_fleet(document, machines=20, options=options), document)
    assert 0.015 <= np.isnan(values).mean() <= 0.025
    quiet = SimulationOptions(dropout_rate=0.0, stuck_rate=0.0)
    assert not np.isnan(sensor_matrix(simulate_fleet(document, machines=5, options=quiet), document)).any()


def stuck_stretches(table: pa.Table, document: dict, shortest: int) -> int:
    """Runs of at least `shortest` identical consecutive readings of a sensor within one machine."""
    values, count = sensor_matrix(table, document), 0
    for rows in runs(table):
        same = np.diff(values[rows], axis=0) == 0
        for flags in same.T:
            edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
            lengths = np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)
            count += int((lengths >= shortest - 1).sum())
    return count


def test_stuck_sensors_at_their_rate() -> None:
    document = library_get(MOTOR)
    options = SimulationOptions(dropout_rate=0.0, stuck_rate=0.002, stuck_steps=(10, 20))
    table = simulate_fleet(document, machines=20, options=options)
    expected = 0.002 * table.num_rows * len(numeric_sensors(document))
    assert 0.5 * expected <= stuck_stretches(table, document, 10) <= 1.5 * expected
    clean = simulate_fleet(document, machines=20, options=SimulationOptions(dropout_rate=0.0, stuck_rate=0.0))
    assert stuck_stretches(clean, document, 10) == 0


def test_values_stay_physically_plausible() -> None:
    document = library_get(MOTOR)
    table = simulate_fleet(document, machines=10, healthy_fraction=0.0)
    for sensor in numeric_sensors(document):
        low, high = sensor["ranges"]["critical"]
        margin = 0.05 * (high - low) + 1e-3
        values = column(table, sensor["name"])
        values = values[~np.isnan(values)]
        assert values.min() >= max(low - margin, 0 if low >= 0 else -np.inf) and values.max() <= high + margin


def test_run_lengths_follow_the_options() -> None:
    options = SimulationOptions(min_run_steps=50, max_run_steps=80)
    table = simulate_fleet(library_get(MOTOR), machines=10, options=options)
    lengths = [len(rows) for rows in runs(table)]
    assert min(lengths) >= 50 and max(lengths) <= 80


def test_zones_at_failure_reads_the_worst_affected_signal_in_the_last_rows() -> None:
    document = library_get(MOTOR)  # bearing_wear moves vibration_de_mm_s (normal to 1.8, warning to 4.5)
    document["failure_modes"] = [mode for mode in document["failure_modes"] if mode["name"] == "bearing_wear"]
    vibration = [1.0, 5.0, 1.0, 1.0, 1.0, 1.0, 3.0, float("nan"), 1.0, 1.0, 1.0, 9.9]
    table = pa.table({
        "machine": ["a"] * 4 + ["b"] * 4 + ["c"] * 4,
        "failure_mode": ["bearing_wear"] * 4 + ["bearing_wear"] * 4 + [""] * 4,
        "vibration_de_mm_s": pa.array(vibration, pa.float32()),
        "bearing_de_temp_c": pa.array([40.0] * 12, pa.float32()),
    })
    # a: the critical reading is 3 rows before the end, outside last_steps=2; c is censored.
    assert zones_at_failure(document, table, last_steps=2) == [("bearing_wear", "normal"), ("bearing_wear", "warning")]
    assert zones_at_failure(document, table, last_steps=3)[0] == ("bearing_wear", "critical")
