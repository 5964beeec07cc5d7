"""A machine type's time scale from its metadata: the step the simulator and the cold-start models
use, and the default warning horizon. No Django imports.

Failure modes carry a P-F interval (`pf_interval_hours`: the warning time between a detectable
fault and the failure). The step is chosen so the warning times are drawn in real time at a
resolution the models can use, while a run stays a few hundred steps long:

- the shortest P-F interval should span at least `PF_STEPS` steps (the step is rounded *down* to
  a readable length on `STEP_LADDER_H`), and
- the longest must fit in `MAX_PF_STEPS` steps (the step is rounded *up*); when the two disagree
  (a type with a near-sudden mode beside one that wears for a year) the second wins, and the
  near-sudden mode is simply short at that step: a warning of an hour cannot be read from daily
  readings, which is the truth.

A type whose data count cycles (`hours_per_cycle` in its metadata, C-MAPSS) is simulated one cycle
a step: its times are divided by `hours_per_cycle`, and its models speak in cycles like models
trained on cycle-indexed readings (`engine.frames.CYCLE_TIME_SCALE`: a cycle is a model "hour").

The horizon default is half the warning time that at least three quarters of the type's failures
give (the lower quartile of the P-F intervals, each mode weighted by how often it fails, 1/MTTF),
rounded down to whole minutes, hours or days: a failure predicted that far ahead has almost always
begun to show, and there is still time to act. Half the median measured worse on types that mix
slow and fast modes: a steam turbine's 41-day horizon gave F1 0.53, 4 days 0.64 (the fast modes'
positives lay before any sign of them). The RUL regressor's cap is the median (the typical
warning time): beyond it, no sign of wear yet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from engine.frames import CYCLE_TIME_SCALE
from engine.metadata import FailureMode, MachineTypeLike, machine_type_schema

PF_STEPS = 20
MAX_PF_STEPS = 300
HORIZON_QUANTILE = 0.25
HORIZON_PF_FRACTION = 0.5
_MINUTE, _DAY = 1 / 60, 24.0
# Readable step lengths, in hours: seconds, minutes, hours, days, a week.
STEP_LADDER_H = (
    1 / 3600, 2 / 3600, 5 / 3600, 10 / 3600, 15 / 3600, 30 / 3600,
    _MINUTE, 2 * _MINUTE, 5 * _MINUTE, 10 * _MINUTE, 15 * _MINUTE, 30 * _MINUTE,
    1.0, 2.0, 3.0, 6.0, 12.0, _DAY, 2 * _DAY, 7 * _DAY,
)


@dataclass(frozen=True)
class TimeScale:
    """How a type's models see time. `step_hours` and `time_scale` are what the bundles carry
    (`engine.frames`); `hours_per_unit` turns a model hour into real hours (1, or the
    type's `hours_per_cycle` for cycle models, whose model hour is one cycle)."""

    step_hours: float
    time_scale: float = 1.0
    hours_per_unit: float = 1.0

    @property
    def cycles(self) -> bool:
        return self.time_scale == CYCLE_TIME_SCALE


def type_time_scale(document: MachineTypeLike) -> TimeScale:
    """The scale a type is simulated at: one cycle a step for cycle types, else the step from
    its P-F intervals (`step_for_intervals`)."""
    schema = machine_type_schema(document)
    if schema.hours_per_cycle is not None:
        return TimeScale(step_hours=1.0, time_scale=CYCLE_TIME_SCALE, hours_per_unit=schema.hours_per_cycle)
    return TimeScale(step_hours=step_for_intervals(pf_intervals(schema)))


def pf_intervals(document: MachineTypeLike, *, hours_per_unit: float = 1.0) -> list[float]:
    """The modes' P-F intervals in model hours (cycles for cycle types); modes without one are
    left out. With none at all, 30 % of each MTTF stands in (the simulator's default share)."""
    return _pf_intervals(machine_type_schema(document).failure_modes, hours_per_unit=hours_per_unit)


def _pf_intervals(modes: Sequence[FailureMode], *, hours_per_unit: float) -> list[float]:
    given = [m.pf_interval_hours for m in modes if m.pf_interval_hours]
    if not given:
        given = [0.3 * (m.mean_time_to_failure_hours or 0.0) for m in modes]
    return [value / hours_per_unit for value in given]


def step_for_intervals(intervals: Sequence[float]) -> float:
    """The readable step (hours) for these P-F intervals (the module docstring's two rules)."""
    if not intervals:
        return 1.0
    fine = ladder_floor(min(intervals) / PF_STEPS)
    coarse = ladder_ceil(max(intervals) / MAX_PF_STEPS)
    return max(fine, coarse)


def ladder_floor(hours: float) -> float:
    fitting = [step for step in STEP_LADDER_H if step <= hours * 1.0001]
    return fitting[-1] if fitting else STEP_LADDER_H[0]


def ladder_ceil(hours: float) -> float:
    fitting = [step for step in STEP_LADDER_H if step >= hours * 0.9999]
    return fitting[0] if fitting else STEP_LADDER_H[-1]


def default_horizon(document: MachineTypeLike, scale: TimeScale | None = None) -> float:
    """The default warning horizon in model hours (cycles for cycle types): half the warning time
    at least three quarters of the type's failures give (`HORIZON_QUANTILE`), readable, at least
    one step."""
    scale = scale or type_time_scale(document)
    warning = weighted_pf_interval(document, scale, quantile=HORIZON_QUANTILE)
    if warning is None:
        return scale.step_hours
    return max(readable_floor(HORIZON_PF_FRACTION * warning, cycles=scale.cycles), scale.step_hours)


def typical_pf_interval(document: MachineTypeLike, scale: TimeScale | None = None) -> float | None:
    """The median P-F interval over the failure modes, each weighted by how often it fails
    (1/MTTF), in model hours; None without failure modes. The RUL regressor's cap for simulated
    fleets: beyond the warning time most failures give, remaining life cannot be read."""
    return weighted_pf_interval(document, scale, quantile=0.5)


def weighted_pf_interval(document: MachineTypeLike, scale: TimeScale | None = None, *,
                         quantile: float) -> float | None:
    """The P-F interval at this quantile of the type's failures (modes weighted by 1/MTTF), in
    model hours; modes without an interval are left out unless none has one."""
    schema = machine_type_schema(document)
    scale = scale or type_time_scale(schema)
    modes = [m for m in schema.failure_modes if m.pf_interval_hours] or list(schema.failure_modes)
    if not modes:
        return None
    intervals = np.array(_pf_intervals(modes, hours_per_unit=scale.hours_per_unit))
    weights = np.array([1 / float(m.mean_time_to_failure_hours or np.inf) for m in modes])
    order = np.argsort(intervals)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return float(intervals[order][min(int(np.searchsorted(cumulative, quantile - 1e-9)), len(order) - 1)])


def readable_floor(hours: float, *, cycles: bool = False) -> float:
    """Whole cycles; else whole days from two days up, whole hours from one, whole minutes below."""
    if cycles:
        return float(max(1, math.floor(hours)))
    if hours >= 2 * _DAY:
        return _DAY * math.floor(hours / _DAY)
    if hours >= 1:
        return float(math.floor(hours))
    return max(_MINUTE * math.floor(hours / _MINUTE), hours if hours < _MINUTE else 0.0)


def describe_hours(hours: float) -> str:
    """A step or horizon as people say it: "30 s", "10 min", "6 h", "1 day", "3 days"."""
    if hours >= _DAY and abs(hours / _DAY - round(hours / _DAY)) < 1e-9:
        days = round(hours / _DAY)
        return f"{days} day" if days == 1 else f"{days} days"
    if hours >= 1:
        return f"{hours:g} h"
    if hours >= _MINUTE:
        return f"{hours * 60:g} min"
    return f"{hours * 3600:g} s"


_METADATA_KEYS = (b"step_hours", b"time_scale", b"hours_per_unit")


def scale_metadata(scale: TimeScale) -> dict[bytes, bytes]:
    """A simulated table's schema metadata: the scale its rows are in, for the trainer to keep."""
    return {key: repr(float(getattr(scale, key.decode()))).encode() for key in _METADATA_KEYS}


def scale_from_metadata(metadata: Mapping[bytes, bytes] | None) -> TimeScale | None:
    """The scale a simulated table was made at, None for any other table."""
    if not metadata or b"step_hours" not in metadata:
        return None
    return TimeScale(**{key.decode(): float(metadata[key]) for key in _METADATA_KEYS if key in metadata})
