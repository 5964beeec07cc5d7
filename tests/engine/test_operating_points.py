"""Healthy machines at their own operating points (engine.synthetic.operating_points)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine.metadata import derived_evaluate, numeric_sensors
from engine.synthetic.operating_points import healthy_fleet
from engine.synthetic.simulator import simulate_fleet
from machines.library import library_get

PUMP = library_get("centrifugal-pump")


def _column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), np.float64)


def _per_machine_means(table: pa.Table, name: str) -> np.ndarray:
    machine = np.asarray(table.column("machine").to_numpy(zero_copy_only=False)).astype(str)
    values = _column(table, name)
    return np.array([np.nanmean(values[machine == m]) for m in np.unique(machine)])


def test_every_machine_is_healthy_for_the_whole_run_and_stays_in_its_normal_ranges() -> None:
    fleet = healthy_fleet(PUMP, machines=12, steps=200, seed=3)
    assert fleet.num_rows == 12 * 200
    assert not np.asarray(fleet.column("failed")).any()
    assert set(fleet.column("failure_mode").to_pylist()) == {""}
    for sensor in numeric_sensors(PUMP):
        low, high = sensor["ranges"]["normal"]
        values = _column(fleet, sensor["name"])
        values = values[np.isfinite(values)]
        outside = np.mean((values < low - 0.02 * (high - low)) | (values > high + 0.02 * (high - low)))
        assert outside < 0.02, (sensor["name"], outside)


def test_machines_sit_at_different_operating_points_unlike_the_plain_simulator() -> None:
    shifted = healthy_fleet(PUMP, machines=12, steps=200, seed=3)
    plain = simulate_fleet(PUMP, machines=12, seed=3, healthy_fraction=1.0)
    for name in ("flow_m3_h", "discharge_pressure_bar", "bearing_temp_c"):
        low, high = next(s["ranges"]["normal"] for s in PUMP["sensors"] if s["name"] == name)
        spread, plain_spread = np.ptp(_per_machine_means(shifted, name)), np.ptp(_per_machine_means(plain, name))
        assert spread > 0.2 * (high - low), name  # spread across the normal range
        assert spread > 1.5 * plain_spread, name


def test_derived_signals_follow_their_formulas_after_the_shift() -> None:
    fleet = healthy_fleet(PUMP, machines=4, steps=50, seed=1)
    sensors = {s["name"]: _column(fleet, s["name"]) for s in numeric_sensors(PUMP)}
    for name, value in derived_evaluate(PUMP, sensors).items():
        np.testing.assert_allclose(_column(fleet, name), np.asarray(value, np.float32), rtol=1e-4, equal_nan=True)


def test_the_same_seed_gives_the_same_fleet() -> None:
    first, again = (healthy_fleet(PUMP, machines=3, steps=30, seed=5).to_pandas() for _ in range(2))
    assert first.equals(again)  # NaN (dropouts) in the same places count as equal here
