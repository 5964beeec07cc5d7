"""Readings -> model frames: what a model may see of values that are not finite."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from engine.frames import frame_from_readings
from machines.library import library_get

MILL = library_get("ai4i-milling-machine")


def _at(minute: int) -> datetime:
    return datetime(2026, 11, 1, 10, minute, tzinfo=UTC)


def test_a_bucket_averages_only_its_finite_values() -> None:
    readings = [("M", _at(minute), {"torque_nm": value})
                for minute, value in enumerate([40.0, math.inf, 44.0, math.nan, -math.inf])]
    frame = frame_from_readings(readings, MILL)
    assert frame.column("torque_nm").to_pylist() == [42.0]


def test_a_derived_signal_that_overflows_is_missing_not_infinite() -> None:
    # Finite inputs (inline readings accept any finite double) whose product is beyond a double.
    frame = frame_from_readings([("M", _at(0), {"torque_nm": 1e200, "speed_rpm": 1e200})], MILL)
    power = frame.column("power_w").to_pylist()[0]
    assert power is None or math.isnan(power)
