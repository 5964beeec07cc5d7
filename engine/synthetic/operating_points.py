"""Healthy machines at their own operating points: the fleet a plant really has.

The simulator puts every healthy machine of a type at the same levels (the middle of each normal
range or the regime's level, plus a small offset). Real machines of one type run at different
points inside their normal ranges (a pump throttled to 1,200 rpm, a motor on a lighter load) and
their sensors carry calibration offsets. `healthy_fleet` simulates healthy runs and moves each
machine, sensor by sensor, to its own point: a shift drawn uniformly from the shifts that keep the
machine's own readings (1st to 99th percentile) inside the sensor's normal range, plus a
calibration offset within `calibration` of the normal span. Derived signals are recomputed from
the shifted sensors, so they always equal their formulas. No degradation, no labels: a fleet that
any alert on is a false alert.

Used by the false-alarm benchmark (benchmarks/false_alarms.py) and the demo's healthy machines
(pdm_saas/demo.py). numpy and pyarrow only (no Django).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pyarrow as pa

from engine.metadata import MachineTypeLike, MachineTypeSchema, Signal, machine_type_schema
from engine.synthetic.simulator import SimulationOptions, simulate_fleet

Array = np.ndarray
CALIBRATION = 0.02  # of the normal span: a sensor within its calibration tolerance
_PERCENTILES = (1.0, 99.0)  # the machine's own spread that must stay inside normal
_DRAWS = 30


def healthy_fleet(document: MachineTypeLike, *, machines: int, steps: int, seed: int = 0,
                  step_hours: float = 1.0, calibration: float = CALIBRATION,
                  options: SimulationOptions | None = None) -> pa.Table:
    """`machines` healthy runs of `steps` steps each, every machine at its own operating point.
    The simulator's table layout (labels say: no failure)."""
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    options = replace(options or SimulationOptions(), min_run_steps=steps, max_run_steps=steps)
    table = simulate_fleet(document, machines=machines, seed=seed, step_hours=step_hours, healthy_fraction=1.0,
                           options=options)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))  # apart from the simulator's streams
    return _shifted(document, table, rng, calibration)


def _shifted(document: MachineTypeLike, table: pa.Table, rng: np.random.Generator, calibration: float) -> pa.Table:
    machine = np.asarray(table.column("machine").to_numpy(zero_copy_only=False)).astype(str)
    starts = np.flatnonzero(np.r_[True, machine[1:] != machine[:-1]]) if table.num_rows else np.zeros(0, np.int64)
    bounds = np.r_[starts, table.num_rows]
    schema = machine_type_schema(document)
    sensors = {s.name: np.asarray(table.column(s.name).to_numpy(zero_copy_only=False), np.float64).copy()
               for s in schema.numeric_sensors}
    normal = {s.name: _normal(s) for s in schema.numeric_sensors}
    derived_normal = {d.name: _normal(d) for d in schema.signals if d.derived and d.ranges is not None}
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        own = {name: values[start:end] for name, values in sensors.items()}
        for name, shift in _operating_point(own, normal, derived_normal, schema, rng, calibration).items():
            sensors[name][start:end] += shift
    columns = {name: table.column(name) for name in table.column_names}
    for name, values in {**sensors, **schema.derived_evaluate(sensors)}.items():
        values = np.broadcast_to(np.asarray(values, np.float64), (table.num_rows,))
        columns[name] = pa.array(values.astype(np.float32), pa.float32())
    return pa.table(columns)


def _normal(signal: Signal) -> tuple[float, float]:
    if signal.ranges is None:  # numeric sensors always have ranges; derived ones are asked only if they do
        raise ValueError(f"signal '{signal.name}' has no ranges")
    return signal.ranges["normal"]


def _operating_point(values: Mapping[str, Array], normal: Mapping[str, tuple[float, float]],
                     derived_normal: Mapping[str, tuple[float, float]], schema: MachineTypeSchema,
                     rng: np.random.Generator, calibration: float) -> dict[str, float]:
    """One machine's shift per sensor. Sensors moved one by one can push a derived signal (a
    temperature rise, a pressure ratio) out of its normal range, which no healthy machine does:
    up to `_DRAWS` draws, the first that keeps every derived signal's readings inside normal, else
    the draw leaving the fewest of them outside."""
    best: tuple[float, dict[str, float]] = (np.inf, {})
    for _ in range(_DRAWS):
        shifts = {name: _shift(own, *normal[name], rng) + rng.uniform(-1, 1) * calibration * (
            normal[name][1] - normal[name][0]) for name, own in values.items()}
        outside = _derived_outside({name: own + shifts[name] for name, own in values.items()}, derived_normal,
                                   schema)
        if outside < best[0]:
            best = (outside, shifts)
        if outside == 0:
            break
    return best[1]


def _derived_outside(sensors: Mapping[str, Array], derived_normal: Mapping[str, tuple[float, float]],
                     schema: MachineTypeSchema) -> float:
    """The share of derived readings outside their normal range, beyond the 1% of each tail a
    healthy machine's own spread may reach."""
    if not derived_normal:
        return 0.0
    worst = 0.0
    for name, value in schema.derived_evaluate(sensors).items():
        if name not in derived_normal:
            continue
        value = np.asarray(value, np.float64)
        value = value[np.isfinite(value)]
        if len(value):
            low, high = derived_normal[name]
            share = float(np.mean((value < low) | (value > high)))
            worst = max(worst, share - 2 * _PERCENTILES[0] / 100)
    return max(worst, 0.0)


def _shift(values: Array, low: float, high: float, rng: np.random.Generator) -> float:
    """A shift that keeps this machine's own readings inside [low, high]; 0 when they cannot fit."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 0.0
    bottom, top = np.percentile(finite, _PERCENTILES)
    down, up = low - bottom, high - top  # the most it may move each way
    return float(rng.uniform(down, up)) if down <= up else 0.0
