"""Each machine's own normal: its baseline, and its readings made relative to it. No Django imports.

Cold-start models learn "normal" from simulated machines whose healthy levels come from the
type's metadata (`reference_levels`). A real machine runs at its own operating point: a pump at
1,450 rpm of a 1,000-1,500 rpm normal band is healthy, yet sits far from the simulated middle in
the simulated fleet's noise units. So a machine's first stretch of readings (its baseline) gives
each signal's level and spread, and `relative_frame` moves the machine's readings so that its
baseline level sits on the reference level: a healthy machine then reads as the models' healthy
machine, and wear still shows as a change from the machine's own level.

Spread. A real sensor may be noisier than the simulated one (a worn encoder, a turbine's
combustion noise): moved by its level alone, its healthy noise would reach where the models
learned wear. So besides the shift, each signal's deviation from the baseline level is scaled
down to the models' noise when the machine's own spread is wider: gain = reference spread / own
spread, never above 1. The reference spread is what the models learned under, measured the same
way (`typical_spreads`: the median baseline spread of the simulated machines they were trained
on). A quieter machine is never amplified: a quantised sensor, or a machine idling through its
first days, would otherwise turn its noise into alarms (measured: amplifying quiet machines up to
2x doubled false alarms on simulated healthy fleets).

Operating regimes. A machine that switches between set points (metadata `operating_regimes`, or
data such as an engine's altitude and throttle settings) has one level per regime. A short
baseline holds few rows per regime, so regimes are found with `engine.regimes` on all the
machines' baseline windows together and give fleet-level regime means; each machine then adds one
offset per signal (the mean of its rows minus their regimes' fleet means), learned from all of its
baseline rows at once. A machine's level in regime r is fleet mean[r] + its offset. Too few rows
for detection (fewer than `engine.regimes` needs) means one regime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa

from engine.metadata import MachineTypeLike, machine_type_schema
from engine.regimes import Regimes, fit_regimes

Array = np.ndarray

# A baseline whose set point swings by more than this share of the distance between the regimes'
# levels alternates between regimes (one regime's noise is a few percent of that distance).
ALTERNATING = 0.25


@dataclass(frozen=True)
class Baseline:
    """One machine's normal: per signal its level (offset over the fleet regime means when there
    are regimes) and its spread around it, from `steps` model steps."""

    steps: int
    levels: Mapping[str, float]  # with regimes: the machine's offset over the regime's fleet mean
    spreads: Mapping[str, float]
    regimes: Regimes | None = None  # fleet-level regimes and their means; None: one regime

    def level_at(self, signal: str, regime: Array) -> Array:
        """The machine's level of `signal` on rows in the given regimes."""
        level = self.levels.get(signal, np.nan)
        if self.regimes is None or signal not in self.regimes.signals:
            return np.full(len(regime), level)
        means = np.asarray(self.regimes.means)[:, self.regimes.signals.index(signal)]
        return np.asarray(means[regime] + level)

    def regime_levels(self) -> dict[str, list[float]]:
        """Per signal, its level in each regime (for display and the stored stats)."""
        count = self.regimes.count if self.regimes is not None else 1
        return {s: [float(v) for v in self.level_at(s, np.arange(count))] for s in self.levels}

    def to_json(self) -> dict[str, Any]:
        return {"steps": self.steps, "levels": _finite(self.levels), "spreads": _finite(self.spreads),
                "regimes": self.regimes.to_json() if self.regimes is not None else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Baseline:
        return cls(steps=int(data["steps"]), levels=_floats(data["levels"]), spreads=_floats(data["spreads"]),
                   regimes=Regimes.from_json(data["regimes"]) if data.get("regimes") else None)


def baseline_from_frame(frame: pa.Table, *, signals: list[str], steps: int) -> dict[str, Baseline]:
    """Per machine name, its baseline from its first `steps` rows (model steps) in the frame.
    Machines with fewer rows get a baseline from what they have (its `steps` says how many)."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    signals = [s for s in signals if s in frame.column_names]
    machines, first = _first_rows(frame, steps)
    everything = {s: _column(frame, s) for s in signals}
    columns = {s: values[first] for s, values in everything.items()}
    owners = machines[first]
    regimes = _baseline_regimes(everything, columns, signals)
    regime = regimes.assign(columns) if regimes is not None else np.zeros(len(owners), np.int64)
    residual = {s: columns[s] - _fleet_means(regimes, s, regime) for s in signals}
    out: dict[str, Baseline] = {}
    for name, rows in _rows_by_machine(owners):
        out[name] = Baseline(
            steps=len(rows), regimes=regimes,
            levels={s: _mean(residual[s][rows]) for s in signals},
            spreads={s: _spread(residual[s][rows]) for s in signals},
        )
    return out


def _baseline_regimes(everything: Mapping[str, Array], baseline: Mapping[str, Array],
                     signals: Sequence[str]) -> Regimes | None:
    """Regimes detected on every row given (set points are not wear: a degrading signal never
    qualifies as a setting, and more rows make the detection surer), their fleet means and
    spreads taken from the baseline rows only."""
    if not signals or not len(next(iter(baseline.values()))):
        return None
    detected = fit_regimes(everything, signals)
    if not detected.settings:
        return None
    return fit_regimes_on(detected, baseline)


def fit_regimes_on(regimes: Regimes, columns: Mapping[str, Array]) -> Regimes:
    """The same regimes with their per-regime means and spreads taken from `columns`; a regime
    with no rows there keeps the detection's figures."""
    regime = regimes.assign(columns)
    means, spreads = np.array(regimes.means), np.array(regimes.spreads)
    for index, name in enumerate(regimes.signals):
        values = np.asarray(columns[name], np.float64)
        for r in range(regimes.count):
            inside = values[(regime == r) & np.isfinite(values)]
            if len(inside):
                means[r, index] = inside.mean()
            if len(inside) >= 2 and inside.std() > 0:
                spreads[r, index] = inside.std()
    return replace(regimes, means=tuple(map(tuple, means.tolist())), spreads=tuple(map(tuple, spreads.tolist())))


def relative_frame(frame: pa.Table, baselines: Mapping[str, Baseline], reference: Mapping[str, float] | References,
                   *, reference_spread: Mapping[str, float] | None = None) -> pa.Table:
    """The frame with each machine's numeric signals moved so that its baseline level sits on the
    reference level: ref + (x - level) * gain, gain = min(1, reference spread / own spread) when
    `reference_spread` is given (see the module's "Spread"), else 1. With `References`,
    each of the machine's regimes is moved onto the nearest reference (`References.nearest`).
    Machines without a baseline, and signals without a reference or a baseline level, are left as
    they are."""
    if not frame.num_rows or not baselines:
        return frame
    chooser = reference if isinstance(reference, References) else References(mixed=dict(reference))
    signals = [s for s in chooser.mixed if s in frame.column_names and np.isfinite(chooser.mixed[s])]
    values = {s: _column(frame, s) for s in signals}
    moved = {s: v.copy() for s, v in values.items()}
    for name, rows in _rows_by_machine(_column_str(frame, "machine")):
        baseline = baselines.get(name)
        if baseline is None:
            continue
        regime = _regime_of(frame, rows, baseline)
        for r in np.unique(regime):
            at = rows[regime == r]
            level = {s: float(baseline.level_at(s, np.array([r]))[0]) for s in signals}
            # Regimes of its own: each is one operating point. Else its spreads say whether it alternates.
            target = chooser.nearest(level, None if baseline.regimes is not None else baseline.spreads)
            for signal in signals:
                if np.isfinite(level[signal]) and np.isfinite(target.get(signal, np.nan)):
                    gain = _gain(baseline.spreads.get(signal, np.nan), (reference_spread or {}).get(signal))
                    moved[signal][at] = target[signal] + (values[signal][at] - level[signal]) * gain
    out = frame
    for signal, column in moved.items():
        out = out.set_column(out.column_names.index(signal), signal, pa.array(column, pa.float64()))
    return out


def _rows_by_machine(machines: Array) -> list[tuple[str, Array]]:
    """(machine, its row indexes) once per machine: one pass over the rows, not one per machine."""
    order = np.argsort(machines, kind="stable")
    names, starts = np.unique(machines[order], return_index=True)
    return [(str(name), rows) for name, rows in zip(names, np.split(order, starts[1:]), strict=True)]


def _gain(own: float, reference: float | None) -> float:
    if reference is None or not np.isfinite(reference) or reference <= 0 or not np.isfinite(own) or own <= reference:
        return 1.0
    return float(reference / own)


def _regime_of(frame: pa.Table, rows: Array, baseline: Baseline) -> Array:
    if baseline.regimes is None or not set(baseline.regimes.settings) <= set(frame.column_names):
        # One regime, or its settings not in the frame: the first regime's level (a frame of
        # sensors without the settings cannot say which set point it ran at).
        return np.zeros(len(rows), np.int64)
    return baseline.regimes.assign({s: _column(frame, s)[rows] for s in baseline.regimes.settings})


def reference_levels(document: MachineTypeLike) -> dict[str, float]:
    """The healthy level the cold-start models learned, per numeric sensor and derived signal: the
    simulator's healthy level (the regime's level where a regime sets the sensor, else the middle
    of its normal range with a small regime offset) averaged over the regimes by their shares;
    derived signals as their formula over each regime's levels, averaged the same way."""
    return references(document).mixed


@dataclass(frozen=True)
class References:
    """The healthy levels the cold-start models learned: the regimes' share-weighted mix, and each
    simulated regime's own levels.

    Which one a machine is moved onto depends on where its baseline sits. A machine that alternates
    between regimes its baseline did not tell apart (a motor between full and part load) has a
    baseline level near the mix, and moving it onto the mix keeps each regime's rows where the
    models learned them. A machine that runs in one regime (an engine at sea level) has a baseline
    near that regime: moving it onto the mix would put it at an operating point no simulated
    machine ran at (throttle settings between the regimes), and every window would look unusual.
    So each baseline (each of its regimes) takes the nearest of the mix and the regimes, measured
    over the signals every regime sets, in units of their normal span."""

    mixed: dict[str, float]
    regimes: list[dict[str, float]] = field(default_factory=list)
    set_points: list[str] = field(default_factory=list)  # signals every regime sets
    spans: dict[str, float] = field(default_factory=dict)  # their normal span: the distance's unit

    def nearest(self, levels: Mapping[str, float], spreads: Mapping[str, float] | None = None) -> dict[str, float]:
        """The mix or the regime whose set points lie nearest the given baseline levels. With
        `spreads` (a baseline that found no regimes of its own): the mix whenever a set point
        swings by more than ALTERNATING of the distance between the regimes' levels, since such
        a machine alternates between regimes its baseline did not tell apart."""
        known = [s for s in self.set_points if np.isfinite(levels.get(s, np.nan)) and self.spans.get(s, 0) > 0]
        if not self.regimes or not known:
            return self.mixed
        if spreads is not None and any(_alternates(spreads.get(s, np.nan), [r[s] for r in self.regimes])
                                       for s in known):
            return self.mixed
        own = np.array([levels[s] for s in known])
        spans = np.array([self.spans[s] for s in known])
        candidates = [self.mixed, *self.regimes]
        distances = [float(np.sum(((own - np.array([c[s] for s in known])) / spans) ** 2)) for c in candidates]
        return candidates[int(np.argmin(distances))]


def _alternates(spread: float, regime_levels: Sequence[float]) -> bool:
    between = max(regime_levels) - min(regime_levels)
    return bool(np.isfinite(spread) and between > 0 and spread > ALTERNATING * between)


def references(document: MachineTypeLike) -> References:
    """The type's References (see the class): from the simulator's own plan."""
    plan = _simulator_plan(document)
    per_regime = {name: plan.levels[:, i] for i, name in enumerate(plan.names)}
    schema = machine_type_schema(document)
    for name, value in schema.derived_evaluate(per_regime).items():
        derived = np.broadcast_to(np.asarray(value, np.float64), (len(plan.shares),))
        if np.isfinite(derived).all():
            per_regime[name] = derived
    mixed = {name: float(plan.shares @ values) for name, values in per_regime.items()}
    regimes = [{name: float(values[r]) for name, values in per_regime.items()} for r in range(len(plan.shares))]
    declared = [set(r.get("signal_levels", {})) for r in schema.document.get("operating_regimes", [])]
    set_points = sorted(set.intersection(*declared)) if len(declared) > 1 else []
    ranges = schema.ranges
    spans = {s: float(ranges[s]["normal"][1] - ranges[s]["normal"][0]) for s in set_points
             if s in ranges and ranges[s].get("normal")}
    return References(mixed=mixed, regimes=regimes if len(regimes) > 1 else [], set_points=set_points, spans=spans)


def typical_spreads(table: pa.Table, *, signals: list[str], steps: int) -> dict[str, float]:
    """The spread a healthy machine of `table` (the simulated fleet cold-start models learn from)
    shows in its baseline: per signal, the median over its machines of their baseline spreads,
    from `baseline_from_frame` as a real machine's is (same length, same regime handling), so the
    two compare like for like. Signals no machine gives a spread for are left out."""
    baselines = baseline_from_frame(table, signals=signals, steps=steps)
    out: dict[str, float] = {}
    for signal in signals:
        spreads = np.array([b.spreads.get(signal, np.nan) for b in baselines.values()], np.float64)
        finite = spreads[np.isfinite(spreads)]
        if len(finite):
            out[signal] = float(np.median(finite))
    return out


def _simulator_plan(document: MachineTypeLike) -> Any:
    # The simulator's own plan, so the reference is what the models were trained on, not a copy
    # of its rules that could drift from them.
    from engine.synthetic.simulator import SimulationOptions, _plan

    return _plan(document, SimulationOptions())


def _first_rows(frame: pa.Table, steps: int) -> tuple[Array, Array]:
    """Machine per row, and the frame rows that are among their machine's first `steps` in time."""
    machines = _column_str(frame, "machine")
    times = frame.column("ts").cast(pa.int64()).to_numpy() if "ts" in frame.column_names else np.arange(len(machines))
    order = np.lexsort((times, machines))
    ranked = np.empty(len(order), np.int64)
    sorted_machines = machines[order]
    start = np.r_[True, sorted_machines[1:] != sorted_machines[:-1]] if len(order) else np.zeros(0, bool)
    index = np.arange(len(order))
    ranked[order] = index - np.maximum.accumulate(np.where(start, index, 0))
    return machines, np.flatnonzero(ranked < steps)


def _fleet_means(regimes: Regimes | None, signal: str, regime: Array) -> Array:
    if regimes is None or signal not in regimes.signals:
        return np.zeros(len(regime))
    return np.asarray(np.asarray(regimes.means)[regime, regimes.signals.index(signal)])


def _mean(values: Array) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if len(finite) else float("nan")


def _spread(values: Array) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.std()) if len(finite) >= 2 else float("nan")


def _column(frame: pa.Table, name: str) -> Array:
    return np.asarray(frame.column(name).to_numpy(zero_copy_only=False), np.float64)


def _column_str(frame: pa.Table, name: str) -> Array:
    return np.asarray(frame.column(name).to_numpy(zero_copy_only=False)).astype(str)


def _finite(values: Mapping[str, float]) -> dict[str, float | None]:
    return {k: (float(v) if np.isfinite(v) else None) for k, v in values.items()}


def _floats(values: Mapping[str, float | None]) -> dict[str, float]:
    return {k: (float("nan") if v is None else float(v)) for k, v in values.items()}


__all__: Sequence[str] = ("Baseline", "References", "baseline_from_frame", "reference_levels", "references",
                          "relative_frame", "typical_spreads")
