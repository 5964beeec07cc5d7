"""False alarms and missed failures of cold-start models (issue 15), beside today's rule.

    .venv/bin/python benchmarks/false_alarms.py [--quick] [--types k1,k2] [--seed 0]
                                                [--skip sim-healthy sim-failing cmapss genesis]

Cold-start models only: for each machine type, the models onboarding trains from the type's
metadata alone (`simulate_fleet` at the onboarding size, then `train_suite`; the sensor forecaster
is left out, it does not take part in a verdict). No labels, no real training, nothing fitted to
the data measured: the benchmark measures, it does not tune. Every window is scored through the
product's scoring core (`engine.scoring.score_columns`, `rows="all"`), then judged two ways,
side by side:

- **today's rule**: a window is flagged when the failure probability reaches the classifier's
  threshold, every window on its own; a flagged window after a quiet one opens an alert;
- **issue 15's path**, once its parts are on main: each machine's readings taken relative to its
  own baseline (`engine.baselines`) for the cold-start models, the verdict of
  `engine.decision.decide`, and alerts opened and closed by `alarm_states` (k of the last n
  windows, hysteresis). Until then its column reads "not on main".

Measurements (targets from issue 15):

1. simulated healthy fleets: `--types` (several built-in types), every machine at its own
   operating point inside the normal ranges with calibration offsets up to 2% of the normal span
   (`engine.synthetic.operating_points.healthy_fleet`): alerts opened per 100 machine-days
   after each machine's baseline (target <= 1);
2. real healthy data, share of windows flagged (target <= 5%):
   - C-MAPSS FD002-FD004 training units (../shared/data/cmapss), scored by the built-in
     `turbofan-engine-cmapss` type's cold-start models one cycle a step (the columns mapped by
     the type's aliases, as an upload maps them): the windows after the unit's baseline and more
     than 150 cycles before its failure;
   - the Genesis pick-and-place machine's normal recordings (../shared/data/genesis), given a
     type as `real_genesis.py` gives it one (the labelled file's signals, normal ranges from
     `Genesis_normal`), one reading a step: all of `Genesis_normal`, and the labelled recording
     before its first anomaly;
3. real failing data: the last 20 cycles of the same C-MAPSS units: share of units with an alert
   open there (target >= 60%) and the lead time, cycles from the opening of that alert to failure;
4. simulated failing runs (the onboarding simulator, every run failing): share of runs with an
   alert open inside the failure mode's P-F interval (from the metadata, at most the run), and the
   median lead time, hours and as a share of the P-F interval, overall and per mode. Runs that
   fail before their baseline is complete are left out (the table gives how many are judged).

A machine's baseline is its first windows, as long as the product makes it (`machines.baselines.
baseline_length`: 7 days, or 10% of the type's typical life for cycle data); those windows are not
judged by either rule.
The script checks the work was done (every window scored, every unit and run present, windows
left to judge) before it prints a figure. PDM_SHARED_DATA points at the data elsewhere. No
database, no Redis.
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.bundles import ANOMALY, FAILURE, RUL  # noqa: E402
from engine.features import document_signals  # noqa: E402
from engine.frames import frame_from_columns  # noqa: E402
from engine.metadata import numeric_sensors  # noqa: E402
from engine.scoring import ModelSet, Scores, score_columns  # noqa: E402
from engine.synthetic.operating_points import healthy_fleet  # noqa: E402
from engine.synthetic.simulator import simulate_fleet  # noqa: E402
from engine.training.classifier import default_horizon_h  # noqa: E402
from engine.training.suite import train_suite  # noqa: E402
from machines.library import library_get  # noqa: E402

SHARED = Path(os.environ.get("PDM_SHARED_DATA", str(REPO.parent / "shared" / "data")))
PREFIX = "false_alarms:"
TURBOFAN = "turbofan-engine-cmapss"
TYPES = ("centrifugal-pump", "induction-motor-siemens-1la7", "screw-compressor-oil-injected", "wind-turbine-gearbox",
         TURBOFAN)
QUICK_TYPES = ("centrifugal-pump", TURBOFAN)
SUBSETS = ("FD002", "FD003", "FD004")
CMAPSS_COLUMNS = ["unit", "cycle", "setting_1", "setting_2", "setting_3", *(f"s_{i}" for i in range(1, 22))]
ONBOARDING_MACHINES = 100  # predictions.services.training.DEFAULT_MACHINES (which imports Django)
HEALTHY_BEFORE_FAILURE = 150  # cycles: C-MAPSS windows further from failure count as healthy
NEAR_FAILURE = 20  # cycles: the last ones of a C-MAPSS unit
BASELINE_DAYS = 7.0
BASELINE_CYCLES = 20  # 10% of a typical life of ~200 cycles
TARGETS = {"sim_alerts": ("<=", 1.0), "cmapss_healthy": ("<=", 0.05), "genesis_healthy": ("<=", 0.05),
           "cmapss_failing": (">=", 0.60)}
TODAY, NEW = "today's rule", "issue 15 path"


def say(message: str = "") -> None:
    print(f"{PREFIX} {message}" if message else "", flush=True)


# --- cold-start models ------------------------------------------------------------------------


def _optional(module: str) -> Any | None:
    """A module of issue 15's parts, None while it is not on main."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError:
        return None


def cold_start(document: Mapping[str, Any], *, seed: int) -> ModelSet:
    """The models onboarding trains from the metadata alone (`onboard_machine_type` in
    predictions.services.training, which imports Django): at the type's own time scale once
    issue 15's part A is there, else at the simulator's hourly steps."""
    scales = _optional("engine.synthetic.scales")
    simulation_scale = getattr(_optional("engine.synthetic.simulator"), "simulation_scale", None)
    if scales is None or simulation_scale is None:  # before part A: the simulator's hourly steps
        table = simulate_fleet(document, machines=ONBOARDING_MACHINES, seed=seed)
        suite = train_suite(table, document, horizon_h=default_horizon_h(table), seed=seed,
                            kinds=(FAILURE, RUL, ANOMALY))
        return ModelSet(document=document, bundles=suite.bundles)
    scale = simulation_scale(document)
    table = simulate_fleet(document, machines=ONBOARDING_MACHINES, seed=seed, step_hours=scale.step_hours)
    at_scale: dict[str, Any] = {"step_hours": scale.step_hours, "time_scale": scale.time_scale,
                                "rul_cap_h": scales.typical_pf_interval(document, scale)}
    if BASELINES is not None:  # the noise a baseline scales to, as onboarding keeps it
        at_scale["baseline_steps"] = _product_baseline_steps(document, scale)
    suite = train_suite(table, document, horizon_h=scales.default_horizon(document, scale), seed=seed,
                        kinds=(FAILURE, RUL, ANOMALY), **at_scale)
    return ModelSet(document=document, bundles=suite.bundles)


# --- the two ways of judging windows ----------------------------------------------------------


DECISION = _optional("engine.decision")
BASELINES = _optional("engine.baselines")


@dataclass
class Judged:
    """One rule's alarms over the windows of a frame (frame order: machine, then time)."""

    machine: np.ndarray  # str per window
    step: np.ndarray  # the window's index in its machine's run
    alarm: np.ndarray  # bool: an alert is open at this window (never during the baseline)
    judged: np.ndarray  # bool: after the machine's baseline

    def opened(self) -> np.ndarray:
        """Windows where an alert opens (on now, off before or the first judged window)."""
        first = np.r_[True, (self.machine[1:] != self.machine[:-1]) | ~self.judged[:-1]]
        before = np.r_[False, self.alarm[:-1]]
        return self.alarm & self.judged & (first | ~before)


def run_steps(frame: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    machine = np.asarray(frame.column("machine").to_numpy(zero_copy_only=False)).astype(str)
    starts = np.r_[True, machine[1:] != machine[:-1]] if len(machine) else np.zeros(0, bool)
    first = np.maximum.accumulate(np.where(starts, np.arange(len(machine)), 0))
    return machine, np.arange(len(machine)) - first


def _checked_scores(models: ModelSet, frame: pa.Table) -> Scores:
    scores = score_columns(models, frame, rows="all")
    if len(scores) != frame.num_rows or not np.isfinite(scores.probability).all():
        raise SystemExit(f"{PREFIX} {len(scores)} of {frame.num_rows} windows scored")
    return scores


def judge_today(models: ModelSet, frame: pa.Table, baseline_steps: int) -> Judged:
    machine, step = run_steps(frame)
    scores = _checked_scores(models, frame)
    judged = step >= baseline_steps
    return Judged(machine, step, (scores.probability >= scores.threshold) & judged, judged)


def judge_new(models: ModelSet, frame: pa.Table, baseline_steps: int) -> Judged | None:
    """Issue 15's path, None while part B (decision rules) is not on main. Part C's baselines are
    used when they are there too (else the readings are scored as they are)."""
    if DECISION is None:
        return None
    machine, step = run_steps(frame)
    scored = frame
    if BASELINES is not None:
        signals = document_signals(models.document)
        baselines = BASELINES.baseline_from_frame(frame, signals=signals, steps=baseline_steps)
        # As cold-start scoring does (predictions/services/machine_normal.py): onto the nearest
        # reference, a noisier signal scaled down to the simulated machines' baseline noise.
        scored = BASELINES.relative_frame(frame, baselines, BASELINES.references(models.document),
                                          reference_spread=models.baseline_spreads)
    scores = _checked_scores(models, scored)  # the verdicts of `decide`, as scoring stores them
    at_risk = np.asarray(scores.verdicts.state) == DECISION.AT_RISK
    k, n, clear = persistence()
    alarm = np.zeros(len(at_risk), bool)
    for name in np.unique(machine):
        rows = np.flatnonzero((machine == name) & (step >= baseline_steps))
        alarm[rows] = DECISION.alarm_states(at_risk[rows].tolist(), k=k, n=n, clear=clear)
    return Judged(machine, step, alarm, step >= baseline_steps)


def persistence() -> tuple[int, int, int]:
    """(k, n, clear) of the default alert rule (maintenance.models.AlertRule: 4 of the last 6
    windows open an alert, 6 quiet windows in a row close it)."""
    return 4, 6, 6


Judge = Callable[[ModelSet, pa.Table, int], Judged | None]
RULES: dict[str, Judge] = {TODAY: judge_today, NEW: judge_new}


def judged_all(models: ModelSet, frame: pa.Table, baseline_steps: int) -> dict[str, Judged | None]:
    return {name: judge(models, frame, baseline_steps) for name, judge in RULES.items()}


def baseline_steps_for(models: ModelSet, *, cycles: bool) -> int:
    """Windows of a machine's baseline, as the product sets them (`machines.baselines.
    baseline_length`: 7 days, or for cycle data 10% of the type's typical life); before part C,
    20 cycles for cycle data (or a cycle model), else 7 days."""
    cycles = cycles or models.time_unit == "cycles"
    length = _product_baseline_length(models.document, cycles)
    if length is None:
        return BASELINE_CYCLES if cycles else max(1, round(BASELINE_DAYS * 24 / models.step_hours))
    steps, stored_seconds = length
    return steps if cycles else max(1, round(steps * stored_seconds / 3600 / models.step_hours))


def _product_baselines() -> Any:
    """`machines.baselines`, where the product's baseline rules live beside the baseline model
    (it needs Django loaded, not a database)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdm_saas.settings")
    django.setup()
    return importlib.import_module("machines.baselines")


def _product_baseline_length(document: Mapping[str, Any], cycles: bool) -> tuple[int, float] | None:
    """The product's own rule (`baseline_length`)."""
    if BASELINES is None:
        return None
    steps, seconds = _product_baselines().baseline_length(document, cycle_indexed=cycles)
    return int(steps), float(seconds)


def _product_baseline_steps(document: Mapping[str, Any], scale: Any) -> int:
    return int(_product_baselines().baseline_model_steps(document, scale))


def hours_per_step(models: ModelSet) -> float:
    """Clock hours of one model step: a cycle model's step is one cycle of `hours_per_cycle`."""
    if models.time_unit == "cycles":
        return models.step_hours * float(models.document.get("hours_per_cycle") or 1.0)
    return models.step_hours


# --- 1. simulated healthy fleets ----------------------------------------------------------------


def simulated_healthy(key: str, models: ModelSet, *, machines: int, days: float, seed: int) -> dict[str, Any]:
    baseline = baseline_steps_for(models, cycles=False)
    steps = baseline + max(2, round(days * 24 / hours_per_step(models)))
    fleet = healthy_fleet(models.document, machines=machines, steps=steps, seed=seed + 1, step_hours=models.step_hours)
    if fleet.num_rows != machines * steps:
        raise SystemExit(f"{PREFIX} {key}: {fleet.num_rows} simulated rows, expected {machines * steps}")
    out: dict[str, Any] = {"type": key, "machines": machines}
    for rule, judged in judged_all(models, fleet, baseline).items():
        if judged is None:
            continue
        machine_days = float(judged.judged.sum()) * hours_per_step(models) / 24
        if machine_days <= 0:
            raise SystemExit(f"{PREFIX} {key}: no window after the baselines")
        out[rule] = {"alerts": int(judged.opened().sum()), "machine_days": machine_days,
                     "per_100": 100 * judged.opened().sum() / machine_days,
                     "flagged": float(judged.alarm[judged.judged].mean())}
    return out


# --- 4. simulated failing runs ------------------------------------------------------------------


def simulated_failing(key: str, models: ModelSet, *, machines: int, seed: int) -> dict[str, Any]:
    """Detection inside each run's P-F interval and the lead time, overall and per failure mode.
    Times in the table are model hours (cycles for a cycle model); figures are in clock hours."""
    document = models.document
    table = simulate_fleet(document, machines=machines, seed=seed + 2, healthy_fraction=0.0,
                           step_hours=models.step_hours)
    per_unit = hours_per_step(models) / models.step_hours  # clock hours in one model hour
    ttf = np.asarray(table.column("time_to_failure_h").to_numpy(zero_copy_only=False), np.float64) * per_unit
    modes = np.asarray(table.column("failure_mode").to_numpy(zero_copy_only=False)).astype(str)
    intervals = {m["name"]: m.get("pf_interval_hours") for m in document["failure_modes"]}
    baseline = baseline_steps_for(models, cycles=False)
    out: dict[str, Any] = {"type": key, "runs": machines}
    for rule, judged in judged_all(models, table, baseline).items():
        if judged is None:
            continue
        names = np.unique(judged.machine)
        if len(names) != machines:
            raise SystemExit(f"{PREFIX} {key}: {len(names)} of {machines} failing runs scored")
        by_mode: dict[str, list[float | None]] = {}
        shares = []
        # A run that fails while its machine is still learning its normal has no verdict to judge.
        judged_runs = [name for name in names if judged.judged[judged.machine == name].any()]
        out["runs"] = len(judged_runs)
        for name in judged_runs:
            rows = np.flatnonzero(judged.machine == name)
            life, mode = ttf[rows[0]], str(modes[rows[0]])
            pf = float(intervals.get(mode) or 0.3 * life)  # the simulator's default P-F share
            inside = rows[(ttf[rows] <= min(pf, life)) & judged.alarm[rows]]
            lead = float(ttf[inside].max()) if len(inside) else None
            by_mode.setdefault(mode, []).append(lead)
            if lead is not None:
                shares.append(lead / pf if pf > 0 else 1.0)
        leads = [lead for found in by_mode.values() for lead in found if lead is not None]
        out[rule] = {"detected": len(leads) / max(len(judged_runs), 1),
                     "lead_h": float(np.median(leads)) if leads else None,
                     "lead_share": float(np.median(shares)) if shares else None,
                     "modes": {mode: (sum(v is not None for v in found), len(found),
                                      float(np.median([v for v in found if v is not None]))
                                      if any(v is not None for v in found) else None, intervals.get(mode))
                               for mode, found in sorted(by_mode.items())}}
    return out


def modes_text(result: Mapping[str, Any], rule: str) -> str:
    """Per failure mode: runs detected, median lead and the mode's P-F interval (hours)."""
    return "; ".join(f"{mode} {hit}/{runs}, lead {_num(lead, 0)} h of P-F {_num(pf, 0)} h"
                     for mode, (hit, runs, lead, pf) in result[rule]["modes"].items())


# --- 2 and 3. C-MAPSS ---------------------------------------------------------------------------


def alias_map(document: Mapping[str, Any]) -> dict[str, str]:
    """Column name (lower case) -> signal, as an upload's mapping guesses it from aliases."""
    names: dict[str, str] = {}
    for sensor in numeric_sensors(document):
        for alias in (sensor["name"], *sensor.get("aliases", [])):
            names.setdefault(alias.lower(), sensor["name"])
    return names


def cycle_frame(machines: np.ndarray, cycles: np.ndarray, columns: Mapping[str, np.ndarray],
                models: ModelSet) -> pa.Table:
    """Cycle-indexed readings one cycle a model step: cycle c at c steps after the epoch."""
    seconds = np.asarray(cycles, np.float64) * models.step_hours * 3600
    return frame_from_columns(np.asarray(machines), seconds, columns, {}, models.document,
                              step_hours=models.step_hours)


def cmapss(models: ModelSet, subsets: Sequence[str]) -> dict[str, Any]:
    names = alias_map(models.document)
    parts = []
    for subset in subsets:
        with gzip.open(SHARED / "cmapss" / f"train_{subset}.txt.gz", "rt") as handle:
            rows = np.loadtxt(handle, ndmin=2)
        parts.append((subset, rows))
    machines = np.concatenate([[f"{s}-{int(u):03d}" for u in r[:, 0]] for s, r in parts])
    rows = np.concatenate([r for _, r in parts])
    columns = {names[c]: rows[:, i] for i, c in enumerate(CMAPSS_COLUMNS) if c in names}
    if len(columns) != 24:
        raise SystemExit(f"{PREFIX} {len(columns)} of 24 C-MAPSS columns mapped to the turbofan type")
    frame = cycle_frame(machines, rows[:, 1], columns, models)
    units = len(np.unique(machines))
    if frame.num_rows != len(rows):
        raise SystemExit(f"{PREFIX} C-MAPSS: {frame.num_rows} windows for {len(rows)} cycles")
    baseline = baseline_steps_for(models, cycles=True)
    out: dict[str, Any] = {"units": units, "cycles": len(rows)}
    for rule, judged in judged_all(models, frame, baseline).items():
        if judged is None:
            continue
        last = np.zeros(len(judged.machine), np.int64)
        for name in np.unique(judged.machine):
            rows_of = judged.machine == name
            last[rows_of] = judged.step[rows_of].max()
        to_failure = last - judged.step
        healthy = judged.judged & (to_failure > HEALTHY_BEFORE_FAILURE)
        flagged_units, leads = 0, []
        for name in np.unique(judged.machine):
            rows_of = np.flatnonzero(judged.machine == name)
            near = rows_of[to_failure[rows_of] < NEAR_FAILURE]
            if judged.alarm[near].any():
                flagged_units += 1
                leads.append(_episode_lead(judged.alarm[rows_of], to_failure[rows_of], near - rows_of[0]))
        if not healthy.any():
            raise SystemExit(f"{PREFIX} C-MAPSS: no healthy window to judge")
        out[rule] = {"healthy_windows": int(healthy.sum()), "healthy_flagged": float(judged.alarm[healthy].mean()),
                     "units_flagged": flagged_units / units, "lead": float(np.median(leads)) if leads else None}
    return out


def _episode_lead(alarm: np.ndarray, to_failure: np.ndarray, near: np.ndarray) -> float:
    """Cycles to failure at the opening of the first alert open in the near-failure stretch."""
    first_on = int(near[alarm[near]][0])
    start = first_on
    while start > 0 and alarm[start - 1]:
        start -= 1
    return float(to_failure[start])


# --- 2. Genesis ---------------------------------------------------------------------------------


def genesis(*, seed: int) -> dict[str, Any]:
    import pandas as pd

    from benchmarks.real_genesis import type_document

    folder = SHARED / "genesis"
    labelled = pd.read_csv(folder / "Genesis_AnomalyLabels.csv.gz")
    normal = pd.read_csv(folder / "Genesis_normal.csv.gz")
    headers = [c for c in labelled.columns if c not in ("Timestamp", "Label")]
    document = type_document("genesis-cold-start", headers, normal, 0.05)
    with warnings.catch_warnings():  # the simulator's regime offsets of a type with no regime levels
        warnings.simplefilter("ignore", RuntimeWarning)
        models = cold_start(document, seed=seed)
    by_header = {s["label"]: s["name"] for s in document["sensors"]}
    first_anomaly = int(np.flatnonzero(labelled["Label"].to_numpy() > 0)[0])
    recordings = {"Genesis_normal": normal, "AnomalyLabels before its first anomaly": labelled.iloc[:first_anomaly]}
    machines: list[np.ndarray] = []
    cycles: list[np.ndarray] = []
    columns: dict[str, list[np.ndarray]] = {name: [] for name in by_header.values()}
    for name, rows in recordings.items():
        machines.append(np.full(len(rows), name, dtype=object))
        cycles.append(np.arange(len(rows)))
        for header, signal in by_header.items():
            columns[signal].append(rows[header].to_numpy(np.float64) if header in rows else np.full(len(rows), np.nan))
    frame = cycle_frame(np.concatenate(machines), np.concatenate(cycles),
                        {k: np.concatenate(v) for k, v in columns.items()}, models)
    expected = sum(len(r) for r in recordings.values())
    if frame.num_rows != expected:
        raise SystemExit(f"{PREFIX} Genesis: {frame.num_rows} windows for {expected} readings")
    baseline = baseline_steps_for(models, cycles=True)
    out: dict[str, Any] = {"windows": expected}
    for rule, judged in judged_all(models, frame, baseline).items():
        if judged is not None:
            out[rule] = {"flagged": float(judged.alarm[judged.judged].mean()), "judged": int(judged.judged.sum())}
    return out


# --- the table --------------------------------------------------------------------------------


def _met(key: str, value: float | None) -> str:
    if value is None:
        return "—"
    sign, target = TARGETS[key]
    return "met" if (value <= target if sign == "<=" else value >= target) else "NOT met"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def table(results: Mapping[str, Any]) -> str:
    lines = [f"| measurement | target | {TODAY} | {NEW} | met ({NEW}, else today) |", "|---|---|---|---|---|"]

    def row(label: str, target: str, key: str | None, values: Mapping[str, float | None],
            show: Callable[[float | None], str]) -> None:
        now, new = values.get(TODAY), values.get(NEW)
        shown_new = show(new) if DECISION is not None else "not on main"
        lines.append(f"| {label} | {target} | {show(now)} | {shown_new} | "
                     f"{_met(key, new if DECISION is not None else now) if key else '—'} |")

    healthy = results.get("sim_healthy") or []
    if healthy:
        totals = {}
        for rule in (TODAY, NEW):
            parts = [r[rule] for r in healthy if rule in r]
            if parts:
                totals[rule] = 100 * sum(p["alerts"] for p in parts) / sum(p["machine_days"] for p in parts)
        days = sum(r[TODAY]["machine_days"] for r in healthy)
        row(f"simulated healthy fleets ({len(healthy)} types, {days:,.0f} machine-days): alerts / 100 machine-days",
            "<= 1", "sim_alerts", totals, _num)
        for r in healthy:
            row(f"&nbsp;&nbsp;{r['type']} ({r['machines']} machines)", "", None,
                {rule: r[rule]["per_100"] for rule in (TODAY, NEW) if rule in r}, _num)
    if "cmapss" in results:
        c = results["cmapss"]
        row(f"C-MAPSS healthy windows ({c[TODAY]['healthy_windows']:,} of {c['units']} units): share flagged",
            "<= 5%", "cmapss_healthy", {k: c[k]["healthy_flagged"] for k in (TODAY, NEW) if k in c}, _pct)
        row(f"C-MAPSS last {NEAR_FAILURE} cycles: share of units flagged", ">= 60%", "cmapss_failing",
            {k: c[k]["units_flagged"] for k in (TODAY, NEW) if k in c}, _pct)
        row("C-MAPSS lead time, median cycles (flagged units)", "", None,
            {k: c[k]["lead"] for k in (TODAY, NEW) if k in c}, lambda v: _num(v, 0))
    if "genesis" in results:
        g = results["genesis"]
        row(f"Genesis normal recordings ({g[TODAY]['judged']:,} windows): share flagged", "<= 5%",
            "genesis_healthy", {k: g[k]["flagged"] for k in (TODAY, NEW) if k in g}, _pct)
    for r in results.get("sim_failing") or []:
        row(f"simulated failing runs, {r['type']} ({r['runs']} runs judged): detected in P-F", "", None,
            {k: r[k]["detected"] for k in (TODAY, NEW) if k in r}, _pct)
        row("&nbsp;&nbsp;median lead, h", "", None,
            {k: r[k]["lead_h"] for k in (TODAY, NEW) if k in r}, lambda v: _num(v, 0))
        row("&nbsp;&nbsp;median lead / P-F interval", "", None,
            {k: r[k]["lead_share"] for k in (TODAY, NEW) if k in r}, lambda v: _num(v, 3))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two types, smaller fleets, FD003 only")
    parser.add_argument("--types", help="comma-separated library keys for the simulated fleets")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip", nargs="*", default=[], choices=["sim-healthy", "sim-failing", "cmapss", "genesis"])
    args = parser.parse_args(argv)
    started = time.perf_counter()
    keys = args.types.split(",") if args.types else list(QUICK_TYPES if args.quick else TYPES)
    machines, days, failing = (10, 14.0, 20) if args.quick else (30, 30.0, 50)
    say(f"issue 15 path: decision rules {'on main' if DECISION else 'NOT on main'}, "
        f"baselines {'on main' if BASELINES else 'NOT on main'}; seed {args.seed}")
    results: dict[str, Any] = {"sim_healthy": [], "sim_failing": []}
    turbofan: ModelSet | None = None
    for key in keys:
        clock = time.perf_counter()
        models = cold_start(library_get(key), seed=args.seed)
        turbofan = models if key == TURBOFAN else turbofan
        say(f"{key}: cold-start models in {time.perf_counter() - clock:.0f} s (step {models.step_hours:g} h)")
        if "sim-healthy" not in args.skip:
            results["sim_healthy"].append(simulated_healthy(key, models, machines=machines, days=days, seed=args.seed))
            say(f"{key}: healthy fleet {_brief(results['sim_healthy'][-1], 'per_100')} alerts / 100 machine-days")
        if "sim-failing" not in args.skip:
            results["sim_failing"].append(simulated_failing(key, models, machines=failing, seed=args.seed))
            say(f"{key}: failing runs detected {_brief(results['sim_failing'][-1], 'detected')}")
            for rule in (TODAY, NEW):
                if rule in results["sim_failing"][-1]:
                    say(f"{key}: {rule}: {modes_text(results['sim_failing'][-1], rule)}")
    if "cmapss" not in args.skip:
        if turbofan is None:
            turbofan = cold_start(library_get(TURBOFAN), seed=args.seed)
        subsets = ("FD003",) if args.quick else SUBSETS
        results["cmapss"] = cmapss(turbofan, subsets)
        say(f"C-MAPSS {', '.join(subsets)}: {results['cmapss']['units']} units, "
            f"{results['cmapss']['cycles']:,} cycles scored")
    if "genesis" not in args.skip:
        results["genesis"] = genesis(seed=args.seed)
        say(f"Genesis: {results['genesis']['windows']:,} normal readings scored")
    say(f"wall time {time.perf_counter() - started:.0f} s")
    print(table(results), flush=True)


def _brief(result: Mapping[str, Any], field: str) -> str:
    return ", ".join(f"{rule} {_num(result[rule][field], 3)}" for rule in (TODAY, NEW) if rule in result)


if __name__ == "__main__":
    main()
