"""Physics-informed degradation simulator: run-to-failure trajectories from a machine type's metadata.

`simulate_fleet(document, machines=20, seed=0)` returns one pyarrow table with a row per machine
and step. Everything is driven by the metadata document (`docs/metadata.md`); nothing is fitted.

How each field is used
----------------------
- `sensors[].ranges.normal`: the healthy level of a sensor that no regime sets is the middle of
  its normal range. The noise scale of a sensor is its normal span, capped at four times the
  smallest distance from a regime level to the edge of the normal range (a speed that runs at
  1458 of a 0-1500 rpm range must not wander out of normal by noise alone).
- `sensors[].ranges.critical`: every value is clipped to the critical range widened by
  `clip_margin` of its span (never below zero when the critical range starts at or above zero).
- `sensors[].categories`: each machine draws one category (a product variant, say) for its run.
- `operating_regimes[].share`: regimes alternate in sticky runs (dwell ~ geometric with mean
  `regime_mean_dwell_hours` of clock time, at least one step); each new run draws its regime by
  share, so shares are the long-run fractions of time.
- `operating_regimes[].signal_levels`: the healthy level of a sensor in that regime. A sensor a
  regime does not set gets a small regime-dependent offset: the regime's mean standardised level
  over the sensors it does set (how "loaded" it is against the other regimes) times
  `regime_offset_fraction` of the noise scale.
- Correlation: one latent load factor per machine-step (AR(1), correlation `load_correlation`)
  moves all sensors together: by `load_fraction` of their scale for sensors named in any regime's
  `signal_levels`, by half of that for the others.
- Time: one step lasts `step_hours`, by default the type's step (`engine.synthetic.scales`:
  chosen from its P-F intervals, e.g. 12 h or 1 day; one cycle for a type with `hours_per_cycle`,
  whose times are then counted in cycles). Timestamps, `time_to_failure_h` and the P-F intervals
  are all in those real hours (cycles).
- `failure_modes[].mean_time_to_failure_hours`: a failing run picks its mode with weight 1/MTTF.
  A run does not last the MTTF: it is the end of a machine's life, observed from a random age
  (a healthy stretch of `healthy_steps` steps) up to the failure, so it holds
  healthy + P-F steps, clipped to [`min_run_steps`, `max_run_steps`] (a P-F interval longer than
  the run is cut at the start: the machine is already wearing when the record begins).
- `failure_modes[].pf_interval_hours`: degradation starts the P-F interval before the failure,
  in real time (a 2,000 h bearing P-F is 83 steps of a day). A mode whose interval is shorter
  than a step (a sudden failure at this step) shows only in its last step. Without one, the
  interval is `default_pf_fraction` of the run.
- `failure_modes[].affected_signals`: from onset to failure a signal moves by
  `direction * magnitude * |healthy| * shape(t)`, t going 0 -> 1 over the P-F interval, with
  shape by `progression`: linear t; exponential (e^{4t}-1)/(e^4-1); step, a jump at a random
  t in [0.2, 0.8]; oscillating, a sine between 0.5 and 1 of a linearly growing envelope;
  thermal_runaway, 0.1 t + 0.9 (e^{6t^2}-1)/(e^6-1). A derived signal is driven through one
  sensor it reads (the one needing the smallest change relative to its scale, preferring sensors
  the mode does not drive directly), solved by a few vectorised Newton steps so the formula hits
  the target.
- `derived_signals[].formula`: evaluated with the project's formula evaluator on the final
  (noisy, clipped, float32) sensor values, so a derived column always equals its formula.
- Sensor faults: Gaussian noise (`noise_fraction` of the scale), dropouts (NaN, `dropout_rate`
  per value) and stuck stretches (the value freezes for `stuck_steps` steps; `stuck_rate` is the
  chance per value that one starts).

Labels: `failure_mode` is the mode the run ends in ("" for censored runs), `failed` is true on the
last row of a failing run only, `time_to_failure_h` counts down to 0 on failing runs and is NaN on
censored ones. Same seed, same table; the simulator uses numpy and pyarrow only (no Django).

Whether a failure shows in the zones follows from the document alone: a mode's signals end at
`healthy * (1 +- magnitude)`, so the library sizes each magnitude against its ranges (see
`docs/synthetic.md`). `zones_at_failure` measures it on a simulated table.

Longer than 400 lines because the plan, one machine's run and the output table share the
private `_Plan` and `_Run` types; split apart, each part would have to export them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pyarrow as pa

from engine.formulas import Formula
from engine.metadata import FailureMode, MachineTypeLike, machine_type_schema, range_zone
from engine.synthetic.scales import TimeScale, scale_metadata, type_time_scale

Array = np.ndarray


@dataclass(frozen=True)
class SimulationOptions:
    """Knobs of the simulator; the defaults give 100-600-step runs with realistic sensor faults."""

    min_run_steps: int = 100
    max_run_steps: int = 600
    healthy_steps: tuple[int, int] = (60, 300)  # the healthy stretch before the P-F interval, drawn uniformly
    default_pf_fraction: float = 0.3  # P-F interval as a share of the run, when the mode has none
    noise_fraction: float = 0.02
    load_fraction: float = 0.05
    load_correlation: float = 0.95
    machine_offset_fraction: float = 0.02
    regime_offset_fraction: float = 0.05
    # How long a machine stays in one regime, in clock hours (a shift, a day's duty): at daily
    # steps a regime rarely lasts a whole step, so every step draws one by share.
    regime_mean_dwell_hours: float = 24.0
    dropout_rate: float = 0.005
    stuck_rate: float = 0.0005
    stuck_steps: tuple[int, int] = (10, 40)
    clip_margin: float = 0.05
    epoch: datetime = field(default_factory=lambda: datetime(2024, 1, 1, tzinfo=UTC))


@dataclass(frozen=True)
class _Drift:
    column: int  # index into the numeric sensors
    sign: float
    magnitude: float
    progression: str
    derived: str | None = None  # set when the drift targets a derived signal through this sensor


@dataclass(frozen=True)
class _Mode:
    name: str
    weight: float
    pf_steps: float | None  # the P-F interval in steps; None: a share of the run
    drifts: tuple[_Drift, ...]


@dataclass(frozen=True)
class _Plan:
    """Everything the per-machine loop needs, computed once from the document."""

    names: list[str]
    levels: Array  # (regimes, sensors) healthy levels
    scale: Array  # (sensors,) noise scale
    load_weight: Array  # (sensors,)
    clip_low: Array
    clip_high: Array
    regime_names: list[str]
    shares: Array
    modes: list[_Mode]
    categorical: dict[str, list[str]]
    formulas: list[tuple[str, Formula]]
    clock_step_hours: float = 1.0  # real hours a step lasts (a cycle type's cycle in hours)


def simulate_fleet(
    document: MachineTypeLike, *, machines: int = 20, seed: int = 0, step_hours: float | None = None,
    healthy_fraction: float = 0.2, options: SimulationOptions | None = None,
) -> pa.Table:
    """Run-to-failure trajectories of `machines` simulated machines of this type, one row per step.
    `step_hours`: the type's own step when None (`simulation_scale`); tests may pass another.
    The table's schema metadata carries the step and the time scale the models should keep."""
    options = options or SimulationOptions()
    scale = simulation_scale(document, step_hours)
    _check_arguments(machines, scale.step_hours, healthy_fraction, options)
    plan = _plan(document, options, scale)
    healthy = round(machines * healthy_fraction)
    streams = np.random.SeedSequence(seed).spawn(machines)
    runs = [
        _simulate_machine(plan, options, np.random.default_rng(stream), failing=index >= healthy)
        for index, stream in enumerate(streams)
    ]
    return _table(plan, runs, scale, options)


def simulation_scale(document: MachineTypeLike, step_hours: float | None = None) -> TimeScale:
    """The type's time scale (`engine.synthetic.scales`), with `step_hours` in place of its
    step when given."""
    scale = type_time_scale(document)
    return scale if step_hours is None else dataclasses.replace(scale, step_hours=float(step_hours))


def _check_arguments(machines: int, step_hours: float, healthy_fraction: float, options: SimulationOptions) -> None:
    if machines < 0:
        raise ValueError(f"machines must be >= 0, got {machines}")
    if not step_hours > 0:
        raise ValueError(f"step_hours must be > 0, got {step_hours}")
    if not 0 <= healthy_fraction <= 1:
        raise ValueError(f"healthy_fraction must be within [0, 1], got {healthy_fraction}")
    if not 2 <= options.min_run_steps <= options.max_run_steps:
        raise ValueError("expected 2 <= min_run_steps <= max_run_steps")
    if not 0 <= options.healthy_steps[0] <= options.healthy_steps[1]:
        raise ValueError("expected 0 <= healthy_steps[0] <= healthy_steps[1]")


# --- the plan: levels, scales and modes from the document ---------------------------------------


def _plan(document: MachineTypeLike, options: SimulationOptions, time: TimeScale | None = None) -> _Plan:
    # `time` only sets the modes' P-F steps; levels and scales (what engine.baselines reads
    # through this plan) are the same at every step, so it defaults to the type's own.
    schema = machine_type_schema(document)
    time = time or type_time_scale(schema)
    sensors = schema.numeric_sensors
    names = [sensor.name for sensor in sensors]
    regimes = schema.document["operating_regimes"]
    normal = np.array([schema.ranges[name]["normal"] for name in names], dtype=np.float64).reshape(-1, 2)
    critical = np.array([schema.ranges[name]["critical"] for name in names], dtype=np.float64).reshape(-1, 2)
    levels, scale = _levels(names, regimes, normal, options)
    regime_set = {name for regime in regimes for name in regime["signal_levels"]}
    margin = options.clip_margin * (critical[:, 1] - critical[:, 0])
    clip_low = np.where(critical[:, 0] >= 0, np.maximum(critical[:, 0] - margin, 0.0), critical[:, 0] - margin)
    partial = _Plan(
        names=names, levels=levels, scale=scale,
        load_weight=np.array([1.0 if name in regime_set else 0.5 for name in names]),
        clip_low=clip_low, clip_high=critical[:, 1] + margin,
        regime_names=[regime["name"] for regime in regimes],
        shares=_normalised([regime["share"] for regime in regimes]),
        modes=[], formulas=list(schema.formulas), clock_step_hours=time.step_hours * time.hours_per_unit,
        categorical={sensor.name: list(sensor.categories) for sensor in schema.categorical_sensors},
    )
    modes = [_mode(mode, partial, time) for mode in schema.failure_modes]
    return _Plan(**{**partial.__dict__, "modes": modes})


def _normalised(values: Sequence[float]) -> Array:
    array = np.asarray(values, dtype=np.float64)
    return array / array.sum()


def _levels(
    names: list[str], regimes: Sequence[Mapping[str, Any]], normal: Array, options: SimulationOptions,
) -> tuple[Array, Array]:
    middle, span = normal.mean(axis=1), normal[:, 1] - normal[:, 0]
    given = np.array([[regime["signal_levels"].get(name, np.nan) for name in names] for regime in regimes])
    given = given.reshape(len(regimes), len(names))
    base = np.where(np.isnan(given), middle, given)
    headroom = np.minimum(base - normal[:, 0], normal[:, 1] - base).min(axis=0)
    scale = np.clip(4 * headroom, 1e-3 * span, span)
    # How loaded each regime is against the others, from the sensors it sets (0 with one regime).
    standardised = np.nanmean(np.where(np.isnan(given), np.nan, (given - middle) / span), axis=1) if names else []
    load = np.nan_to_num(np.asarray(standardised, dtype=np.float64))
    load = (load - load.mean()) / (np.abs(load - load.mean()).max() or 1.0)
    offsets = options.regime_offset_fraction * load[:, None] * scale[None, :]
    return np.where(np.isnan(given), middle + offsets, given), scale


def _mode(mode: FailureMode, plan: _Plan, scale: TimeScale) -> _Mode:
    interval = mode.pf_interval_hours
    direct = {a.signal for a in mode.affected if a.signal in plan.names}
    drifts = []
    for affected in mode.affected:
        sign = 1.0 if affected.direction == "increase" else -1.0
        signal, magnitude, progression = affected.signal, affected.magnitude, affected.progression
        if signal in plan.names:
            drifts.append(_Drift(plan.names.index(signal), sign, magnitude, progression))
            continue
        driver = _driver(plan, signal, sign * magnitude, direct)
        if driver is not None:
            drifts.append(_Drift(driver, sign, magnitude, progression, derived=signal))
    return _Mode(
        name=mode.name, weight=1 / float(mode.mean_time_to_failure_hours or math.inf),
        pf_steps=None if interval is None else interval / scale.hours_per_unit / scale.step_hours, drifts=tuple(drifts),
    )


def _driver(plan: _Plan, signal: str, change: float, avoid: set[str]) -> int | None:
    """The sensor through which a derived signal is moved: the one needing the smallest relative change."""
    healthy = plan.shares @ plan.levels
    base = _derived_value(plan, signal, healthy[:, None])
    if not np.isfinite(base[0]):
        return None
    target = base[0] + change * abs(base[0])
    steps = 1e-4 * plan.scale
    probes = healthy[:, None] + np.diag(steps)  # column j perturbs sensor j
    slopes = (_derived_value(plan, signal, probes) - base[0]) / steps
    with np.errstate(divide="ignore", invalid="ignore"):
        cost = np.abs((target - base[0]) / slopes) / plan.scale
    cost[~np.isfinite(cost) | (np.abs(slopes) < 1e-12)] = np.inf
    preferred = np.where([name in avoid for name in plan.names], np.inf, cost)
    best = preferred if np.isfinite(preferred).any() else cost
    return int(np.argmin(best)) if np.isfinite(best).any() else None


def _derived_value(plan: _Plan, signal: str, columns: Array) -> Array:
    """One derived signal from sensor values shaped (sensors, samples)."""
    values: dict[str, Array | float] = dict(zip(plan.names, columns, strict=True))
    for name, formula in plan.formulas:
        values[name] = formula.evaluate(values)
        if name == signal:
            return np.broadcast_to(np.asarray(values[name], dtype=np.float64), columns.shape[1:])
    raise KeyError(signal)


# --- one machine ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    values: Array  # (steps, sensors) float64
    regimes: Array  # (steps,) regime index
    categories: dict[str, str]
    mode: str  # "" when censored


def _simulate_machine(plan: _Plan, options: SimulationOptions, rng: np.random.Generator, *, failing: bool) -> _Run:
    mode = plan.modes[rng.choice(len(plan.modes), p=_normalised([m.weight for m in plan.modes]))]
    steps, pf_steps = _run_length(mode, options, rng)
    regimes = _regime_path(plan, options, rng, steps)
    healthy = plan.levels[regimes] + rng.normal(0, options.machine_offset_fraction, len(plan.names)) * plan.scale
    load = _ar1(rng, steps, options.load_correlation)[:, None] * options.load_fraction
    values = healthy + load * plan.load_weight * plan.scale
    if failing:
        values = _degrade(plan, mode, pf_steps, rng, values, healthy)
    values = values + rng.normal(0, options.noise_fraction, values.shape) * plan.scale
    values = np.clip(values, plan.clip_low, plan.clip_high)
    values = _stuck(values, options, rng)
    values[rng.random(values.shape) < options.dropout_rate] = np.nan
    categories = {name: str(rng.choice(choices)) for name, choices in plan.categorical.items()}
    return _Run(values, regimes, categories, mode.name if failing else "")


def _run_length(mode: _Mode, options: SimulationOptions, rng: np.random.Generator) -> tuple[int, float]:
    """(steps, P-F interval in steps): a healthy stretch, then the P-F interval, within the bounds."""
    healthy = int(rng.integers(options.healthy_steps[0], options.healthy_steps[1] + 1))
    if mode.pf_steps is None:
        steps = int(np.clip(round(healthy / (1 - options.default_pf_fraction)), options.min_run_steps,
                            options.max_run_steps))
        return steps, options.default_pf_fraction * steps
    steps = int(np.clip(healthy + math.ceil(mode.pf_steps), options.min_run_steps, options.max_run_steps))
    return steps, mode.pf_steps


def _regime_path(plan: _Plan, options: SimulationOptions, rng: np.random.Generator, steps: int) -> Array:
    # Sticky runs: geometric dwell times, each run's regime drawn by share.
    mean_dwell = max(options.regime_mean_dwell_hours / plan.clock_step_hours, 1.0)
    p = 1 / mean_dwell
    dwell = rng.geometric(p, size=steps // max(1, int(mean_dwell // 4)) + 2)
    while dwell.sum() < steps:  # practically never: a long run of very short dwells
        dwell = np.concatenate([dwell, rng.geometric(p, size=steps)])
    chosen = rng.choice(len(plan.shares), size=len(dwell), p=plan.shares)
    return np.repeat(chosen, dwell)[:steps]


def _ar1(rng: np.random.Generator, steps: int, rho: float) -> Array:
    """A stationary AR(1) series with unit variance: x[k] = rho x[k-1] + e[k], filtered in blocks by
    cumulative sums (a Python loop over blocks only; blocks are short enough that rho^-k stays finite)."""
    shocks = rng.normal(0, math.sqrt(max(1 - rho**2, 0.0)), steps)
    if steps:
        shocks[0] = rng.normal()
    if rho <= 1e-6:
        return shocks
    size = int(np.clip(25 / -math.log(min(rho, 1 - 1e-9)), 1, 256))
    series, carry = np.empty_like(shocks), 0.0
    for start in range(0, steps, size):
        block = shocks[start:start + size]
        powers = rho ** np.arange(len(block))
        part = (np.cumsum(block / powers) + carry * rho) * powers
        series[start:start + size] = part
        carry = float(part[-1])
    return series


def _degrade(
    plan: _Plan, mode: _Mode, pf_steps: float, rng: np.random.Generator, values: Array, healthy: Array,
) -> Array:
    # t goes 0 -> 1 over the P-F interval, reaching 1 at the failure (the last step). An interval
    # shorter than a step shows in the last step only; one longer than the run starts part-way.
    steps = len(values)
    remaining = steps - 1 - np.arange(steps)
    t = np.clip(1.0 - remaining / max(pf_steps, 1.0), 0.0, 1.0)
    values = values.copy()
    for drift in mode.drifts:
        shape = _shape(drift.progression, t, rng)
        if drift.derived is None:
            values[:, drift.column] += drift.sign * drift.magnitude * np.abs(healthy[:, drift.column]) * shape
        else:
            values[:, drift.column] = _solve_driver(plan, drift, values, shape)
    return values


def _shape(progression: str, t: Array, rng: np.random.Generator) -> Array:
    if progression == "exponential":
        return np.asarray(np.expm1(4 * t) / math.expm1(4))
    if progression == "step":
        return (t >= rng.uniform(0.2, 0.8)).astype(np.float64)
    if progression == "oscillating":
        period = rng.uniform(6, 16)
        return np.asarray(t * (0.75 + 0.25 * np.sin(2 * np.pi * np.arange(len(t)) / period)))
    if progression == "thermal_runaway":
        return np.asarray(0.1 * t + 0.9 * np.expm1(6 * t**2) / math.expm1(6))
    return t  # linear


def _solve_driver(plan: _Plan, drift: _Drift, values: Array, shape: Array) -> Array:
    """Driver sensor values that move the derived signal by its drift, by vectorised Newton steps."""
    assert drift.derived is not None
    columns = values.T.copy()
    base = _derived_value(plan, drift.derived, columns)
    target = base + drift.sign * drift.magnitude * np.abs(base) * shape
    active = (shape > 0) & np.isfinite(base)
    x = columns[drift.column].copy()
    low, high, h = plan.clip_low[drift.column], plan.clip_high[drift.column], 1e-4 * plan.scale[drift.column]
    for _ in range(8):
        columns[drift.column] = x
        now = _derived_value(plan, drift.derived, columns)
        columns[drift.column] = x + h
        slope = (_derived_value(plan, drift.derived, columns) - now) / h
        with np.errstate(divide="ignore", invalid="ignore"):
            step = (now - target) / slope
        ok = active & np.isfinite(step)
        x = np.where(ok, np.clip(x - np.where(ok, step, 0.0), low, high), x)
    return x


def _stuck(values: Array, options: SimulationOptions, rng: np.random.Generator) -> Array:
    steps, sensors = values.shape
    shortest, longest = options.stuck_steps
    counts = rng.poisson(options.stuck_rate * steps, size=sensors)
    for column in np.flatnonzero(counts):  # rare: a handful of stretches per fleet
        for start in rng.integers(0, steps, size=counts[column]):
            length = int(rng.integers(shortest, longest + 1))
            values[start:start + length, column] = values[start, column]
    return values


# --- the output table -----------------------------------------------------------------------------


def _table(plan: _Plan, runs: list[_Run], scale: TimeScale, options: SimulationOptions) -> pa.Table:
    step_hours = scale.step_hours
    lengths = np.array([len(run.regimes) for run in runs], dtype=np.int64)
    cycle = np.concatenate([np.arange(n) for n in lengths]) if runs else np.zeros(0, np.int64)
    values = np.concatenate([run.values for run in runs]) if runs else np.zeros((0, len(plan.names)))
    sensors = values.astype(np.float32)
    epoch_us = int(options.epoch.timestamp() * 1_000_000)
    columns: dict[str, pa.Array] = {
        "machine": pa.array(np.repeat([f"sim-{i:04d}" for i in range(len(runs))], lengths).astype(str)),
        "cycle": pa.array(cycle, pa.int64()),
        "ts": pa.array(epoch_us + np.round(cycle * step_hours * 3.6e9).astype(np.int64), pa.timestamp("us", "UTC")),
    }
    for name in plan.categorical:
        columns[name] = pa.array(np.repeat([run.categories[name] for run in runs], lengths).astype(str))
    for index, name in enumerate(plan.names):
        columns[name] = pa.array(sensors[:, index], pa.float32())
    for name, value in _derived_columns(plan, sensors).items():
        columns[name] = pa.array(value.astype(np.float32), pa.float32())
    regime_names = np.array(plan.regime_names)
    columns["regime"] = pa.array(regime_names[np.concatenate([r.regimes for r in runs])] if runs else [], pa.string())
    columns.update(_labels(runs, lengths, cycle, step_hours))
    return pa.table(columns).replace_schema_metadata(scale_metadata(scale))


def _derived_columns(plan: _Plan, sensors: Array) -> dict[str, Array]:
    values: dict[str, Array | float] = {name: sensors[:, i].astype(np.float64) for i, name in enumerate(plan.names)}
    derived: dict[str, Array] = {}
    for name, formula in plan.formulas:
        values[name] = formula.evaluate(values)
        derived[name] = np.broadcast_to(np.asarray(values[name], dtype=np.float64), (len(sensors),))
    return derived


def _labels(runs: list[_Run], lengths: Array, cycle: Array, step_hours: float) -> dict[str, pa.Array]:
    modes = np.repeat(np.array([run.mode for run in runs], dtype=object), lengths).astype(str)
    failing = modes != ""
    last = cycle == np.repeat(lengths - 1, lengths)
    remaining = (np.repeat(lengths - 1, lengths) - cycle) * step_hours
    return {
        "failure_mode": pa.array(modes, pa.string()),
        "failed": pa.array(failing & last, pa.bool_()),
        "time_to_failure_h": pa.array(np.where(failing, remaining, np.nan), pa.float64()),
    }


# --- what a threshold view sees at failure --------------------------------------------------------

_ZONE_RANK = {"normal": 0, "warning": 1, "critical": 2, "implausible": 2}  # clipped just past critical


def zones_at_failure(document: MachineTypeLike, table: pa.Table, *, last_steps: int = 3) -> list[tuple[str, str]]:
    """(mode, zone) per failing run: the worst zone any of the mode's affected signals with ranges
    reads in the run's last `last_steps` rows; "normal" when none leaves its normal range. A value
    clipped past the critical range counts as critical."""
    schema = machine_type_schema(document)
    ranges = schema.ranges
    affected = {mode.name: [a.signal for a in mode.affected if a.signal in ranges] for mode in schema.failure_modes}
    machines = np.asarray(table.column("machine").to_numpy(zero_copy_only=False))
    modes = np.asarray(table.column("failure_mode").to_numpy(zero_copy_only=False))
    needed = {name for names in affected.values() for name in names}
    values = {name: np.asarray(table.column(name).to_numpy(zero_copy_only=False)) for name in needed}
    ends = np.flatnonzero(np.r_[machines[1:] != machines[:-1], True]) if table.num_rows else np.zeros(0, np.int64)
    out: list[tuple[str, str]] = []
    for end in ends:
        if not modes[end]:
            continue
        tail = slice(max(end + 1 - last_steps, 0), end + 1)
        readings = [(name, float(x)) for name in affected[modes[end]] for x in values[name][tail] if np.isfinite(x)]
        worst = max((_ZONE_RANK[range_zone(ranges[name], x)] for name, x in readings), default=0)
        out.append((str(modes[end]), ("normal", "warning", "critical")[worst]))
    return out
