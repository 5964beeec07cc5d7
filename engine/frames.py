"""Readings -> model frames: one row per machine and step, the shape models train and score on.

Models see time in steps of `step_hours` (the simulator's default is one hour per step). Real
readings arrive at their own pace, so they are bucketed to the model's step before any
window feature is computed: numeric sensors by their mean over the bucket (missing values
skipped), categorical ones by their last value. Derived signals are then computed from the
bucketed sensors with the type's formulas, as the simulator does. A bucket is stamped with its
start time. No Django imports.

Cycle-indexed data (C-MAPSS and the like) is stored with `ts = 1970-01-01 + cycle seconds`
(docs/ingest.md). Bucketing it by the hour would merge 3,600 cycles into one step, so such data
is read with `time_scale = 3600`: one cycle becomes one model step of one "hour", and horizons
and remaining life come out in cycles. The scale travels with the models (bundle extra
`time_scale`), so scoring reads stored readings the way training did; cold-start models of a
type with `hours_per_cycle` are simulated that way too. Readings a model cannot read at its
scale (cycles for a clock model, clock times for a cycle model) are refused
(`other_scale_machines`), never bucketed into nonsense.

The step follows the data (`step_hours_for`): the largest round interval (1-2-5 ladder: 20 ms,
50 ms, 0.1 s ... 30 min) not longer than the typical gap between a machine's readings, and at
most `DEFAULT_STEP_HOURS`. Readings every 50 ms become 20 ms steps, so each reading keeps its
own step instead of 16,000 of them collapsing into one hourly mean; hourly or slower data and
cycle-indexed data keep one-hour steps. Cold-start models keep the step their type was simulated
at (`engine.synthetic.scales`: from its P-F intervals, 12 h or a day for most built-in types).
The step travels with the models (bundle extra `step_hours`) like the time scale. Buckets are cut
on whole microseconds, so a 20 ms step puts a reading on a boundary in the same bucket in Postgres and in numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from engine.metadata import MachineTypeLike, machine_type_schema

Array = np.ndarray
DEFAULT_STEP_HOURS = 1.0
CYCLE_TIME_SCALE = 3600.0
_CYCLE_DATA_BEFORE = 315_532_800.0  # 1980-01-01: stored cycles are seconds after 1970-01-01
CYCLE_DATA_BEFORE = datetime.fromtimestamp(_CYCLE_DATA_BEFORE, UTC)  # the same rule, for SQL on stored times
# Round steps, in seconds: 1-2-5 below a second, then the usual clock intervals up to an hour.
_STEP_LADDER_S = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0,
                  60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)


def step_hours_for(typical_interval_s: float | None) -> float:
    """The model step, in hours, for readings `typical_interval_s` apart (already multiplied by
    the time scale): the largest ladder step not longer than the interval (2% slack, so hourly
    readings a second early keep hourly steps), at most one hour. None or a non-positive
    interval (one reading per machine) keeps the default."""
    if typical_interval_s is None or not np.isfinite(typical_interval_s) or typical_interval_s <= 0:
        return DEFAULT_STEP_HOURS
    fitting = [s for s in _STEP_LADDER_S if s <= typical_interval_s * 1.02] or [_STEP_LADDER_S[0]]
    return min(fitting[-1] / 3600.0, DEFAULT_STEP_HOURS)


def time_scale_for(seconds: Array) -> float:
    """3600 for cycle-indexed readings (every time before 1980), else 1."""
    finite = np.asarray(seconds, np.float64)
    finite = finite[np.isfinite(finite)]
    return CYCLE_TIME_SCALE if len(finite) and float(finite.max()) < _CYCLE_DATA_BEFORE else 1.0


def other_scale_machines(machines: Array, seconds: Array, *, time_scale: float) -> list[str]:
    """The machines whose readings models of this `time_scale` cannot read (sorted names): readings
    counted in cycles (stored before 1980) for models that read clock time, and clock-time
    readings for cycle models. Bucketing cycles by the hour would merge 3,600 cycles into one
    step (every machine the same score, each window ending 1970-01-01); bucketing clock seconds
    as cycles would make each second an "hour". Any model reads cycle data one cycle a step."""
    names, codes = np.unique(np.asarray(machines).astype(str), return_inverse=True)
    stored = np.asarray(seconds, np.float64)
    latest = np.full(len(names), -np.inf)  # each machine's latest finite time, as time_scale_for reads it
    finite = np.isfinite(stored)
    np.maximum.at(latest, codes[finite], stored[finite])
    cycles = np.isfinite(latest) & (latest < _CYCLE_DATA_BEFORE)
    clock = np.isfinite(latest) & ~cycles
    other = clock if time_scale == CYCLE_TIME_SCALE else cycles
    return [str(name) for name in names[other]]


def time_unit_of(time_scale: float) -> str:
    """The unit a model's horizons and remaining life are in: one step of a cycle-indexed model is
    one cycle, however it is stored (as a model "hour")."""
    return "cycles" if time_scale == CYCLE_TIME_SCALE else "h"


def cycle_of(step_start_seconds: float) -> int:
    """The cycle a cycle-indexed model step starts at (its frame time is cycle x 3600 s)."""
    return int(step_start_seconds // CYCLE_TIME_SCALE)


def window_end_cycle(window_end: datetime) -> int | None:
    """The cycle of a prediction's `window_end`, None for time-indexed data. A step time before
    1980 can only come from cycle-indexed data (the rule `time_scale_for` applies to readings;
    a cycle step stays before 1980 up to 87,600 cycles)."""
    seconds = window_end.timestamp()
    return cycle_of(seconds) if seconds < _CYCLE_DATA_BEFORE else None


Reading = tuple[str, datetime, Mapping[str, Any]]


def frame_from_readings(readings: Sequence[Reading], document: MachineTypeLike, *,
                        step_hours: float = DEFAULT_STEP_HOURS, time_scale: float = 1.0) -> pa.Table:
    """(machine, time, {sensor: value}) triples -> a bucketed frame, sorted by machine and time."""
    schema = machine_type_schema(document)
    numeric = [sensor.name for sensor in schema.numeric_sensors]
    categorical = [sensor.name for sensor in schema.categorical_sensors]
    machines = np.array([m for m, _, _ in readings], dtype=object)
    seconds = np.array([_epoch_seconds(ts) for _, ts, _ in readings], dtype=np.float64)
    values = {name: np.array([_float(v.get(name)) for _, _, v in readings]) for name in numeric}
    labels = {name: np.array([v.get(name) for _, _, v in readings], dtype=object) for name in categorical}
    return frame_from_columns(machines, seconds, values, labels, schema, step_hours=step_hours,
                              time_scale=time_scale)


def frame_from_columns(
    machines: Array, seconds: Array, numeric: Mapping[str, Array], categorical: Mapping[str, Array],
    document: MachineTypeLike, *, step_hours: float = DEFAULT_STEP_HOURS, time_scale: float = 1.0,
) -> pa.Table:
    """The columnar form: epoch seconds, float arrays per numeric sensor (NaN = missing).
    `time_scale` stretches time before bucketing (see the module docstring)."""
    if not step_hours > 0 or not time_scale > 0:
        raise ValueError(f"step_hours and time_scale must be > 0, got {step_hours} and {time_scale}")
    seconds = np.asarray(seconds, np.float64) * time_scale
    # Whole microseconds: 1461148512.94 / 0.02 is 73057425646.99999 in floating point.
    step_us = max(1, round(step_hours * 3.6e9))
    bucket = np.floor_divide(np.round(seconds * 1e6).astype(np.int64), step_us)
    names = np.asarray(machines).astype(str)
    order = np.lexsort((seconds, bucket, names))
    names, bucket = names[order], bucket[order]
    first = np.r_[True, (names[1:] != names[:-1]) | (bucket[1:] != bucket[:-1])] if len(order) else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    columns: dict[str, Any] = {
        "machine": pa.array(names[starts], pa.string()),
        "ts": pa.array(bucket[starts] * step_us, pa.timestamp("us", tz="UTC")),
    }
    sensor_values = {name: _bucket_mean(np.asarray(column, np.float64)[order], starts)
                     for name, column in numeric.items()}
    schema = machine_type_schema(document)
    for sensor in schema.numeric_sensors:  # a sensor never sent is missing, not an error
        sensor_values.setdefault(sensor.name, np.full(len(starts), np.nan))
    columns.update({name: pa.array(v, pa.float64()) for name, v in sensor_values.items()})
    for name, column in categorical.items():
        columns[name] = pa.array(_bucket_last(np.asarray(column, object)[order], starts, len(order)), pa.string())
    derived = schema.derived_evaluate(sensor_values) if len(starts) else {}
    for name, value in derived.items():
        value = np.broadcast_to(np.asarray(value, np.float64), (len(starts),))
        # A formula over finite inputs can still overflow or divide by zero: missing, not inf.
        columns[name] = pa.array(np.where(np.isfinite(value), value, np.nan), pa.float64())
    return pa.table(columns)


def _bucket_mean(values: Array, starts: Array) -> Array:
    """Mean per bucket over the finite values: NaN and +-inf (an old stored row, a file read
    without the ingest's checks) count as missing, so they can reach no feature or model."""
    if not len(starts):
        return np.zeros(0)
    valid = np.isfinite(values)
    sums = np.add.reduceat(np.where(valid, values, 0.0), starts)
    counts = np.add.reduceat(valid.astype(np.int64), starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _bucket_last(values: Array, starts: Array, total: int) -> list[str | None]:
    ends = np.r_[starts[1:], total] - 1
    out: list[str | None] = []
    for start, end in zip(starts, ends, strict=True):
        present = [v for v in values[start : end + 1] if v is not None and v == v]
        out.append(str(present[-1]) if present else None)
    return out


def _epoch_seconds(ts: datetime) -> float:
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp()


def _float(value: Any) -> float:
    try:
        return float(value) if value is not None else np.nan
    except (TypeError, ValueError):
        return np.nan
