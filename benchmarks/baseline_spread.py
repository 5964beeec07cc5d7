"""How much each unit's own baseline narrows the spread of healthy readings across units (C-MAPSS).

    .venv/bin/python benchmarks/baseline_spread.py [--steps 20] [--subsets FD002 FD003 FD004]

For every training unit of each subset: its baseline is its first `--steps` cycles
(`engine.baselines.baseline_from_frame`, regimes found on all units' baseline windows);
its healthy windows are the cycles after the baseline and more than 150 cycles before its failure.
Printed per subset, over the sensors that move (spread above zero):

- between units: the spread across units of each unit's mean healthy level (per regime), before
  (raw, less the fleet's regime mean) and after `relative_frame` (reference 0, no scaling);
- all rows: the spread of every healthy row around the fleet's level, before and after.

The ratio after / before is the share of the spread that is left; the median over sensors is shown
beside the raw figure measured in the same run. No constant here is tuned to C-MAPSS.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from engine.baselines import baseline_from_frame, relative_frame  # noqa: E402

DATA = Path(os.environ.get("PDM_SHARED_DATA", str(REPO.parent.parent / "shared" / "data"))) / "cmapss"
SETTINGS = ["setting_1", "setting_2", "setting_3"]
SENSORS = [f"s_{i}" for i in range(1, 22)]
HEALTHY_BEFORE_FAILURE = 150


def frame_of(subset: str) -> tuple[pa.Table, np.ndarray]:
    path = DATA / f"train_{subset}.txt.gz"
    if not path.exists():
        path = REPO.parent / "shared" / "data" / "cmapss" / f"train_{subset}.txt.gz"
    with gzip.open(path, "rt") as handle:
        rows = np.loadtxt(handle, ndmin=2)
    unit, cycle = rows[:, 0].astype(int), rows[:, 1]
    life = {u: cycle[unit == u].max() for u in np.unique(unit)}
    remaining = np.array([life[u] for u in unit]) - cycle
    columns = {"machine": pa.array([f"u{u:03d}" for u in unit]),
               "ts": pa.array((cycle * 3.6e9).astype(np.int64), pa.timestamp("us", "UTC"))}
    for index, name in enumerate(SETTINGS + SENSORS):
        columns[name] = pa.array(rows[:, 2 + index], pa.float64())
    return pa.table(columns), np.c_[cycle, remaining]


def measure(subset: str, steps: int) -> tuple[float, float, float, float, int]:
    frame, clock = frame_of(subset)
    signals = SETTINGS + SENSORS
    baselines = baseline_from_frame(frame, signals=signals, steps=steps)
    healthy = (clock[:, 0] > steps) & (clock[:, 1] > HEALTHY_BEFORE_FAILURE)
    if not healthy.any():
        raise SystemExit(f"{subset}: no healthy windows; the measurement would be empty")
    any_baseline = next(iter(baselines.values()))
    regimes = any_baseline.regimes
    columns = {s: frame.column(s).to_numpy() for s in signals}
    regime = regimes.assign(columns) if regimes is not None else np.zeros(frame.num_rows, np.int64)
    fleet = {s: np.asarray(regimes.means)[regime, regimes.signals.index(s)] if regimes is not None
             else np.full(frame.num_rows, np.nanmean(columns[s])) for s in signals}
    after_frame = relative_frame(frame, baselines, {s: 0.0 for s in signals})
    machines = frame.column("machine").to_numpy(zero_copy_only=False).astype(str)
    between, rows_ratio, between_raw, rows_raw = [], [], [], []
    for s in SENSORS:
        before = columns[s] - fleet[s]
        after = after_frame.column(s).to_numpy()
        if np.nanstd(before[healthy]) <= 1e-9 * max(1.0, np.nanmean(np.abs(columns[s]))):
            continue  # a constant sensor
        b_between, a_between = _between(before, machines, regime, healthy), _between(after, machines, regime, healthy)
        between_raw.append(b_between)
        between.append(a_between / b_between)
        rows_raw.append(np.nanstd(before[healthy]))
        rows_ratio.append(np.nanstd(after[healthy]) / np.nanstd(before[healthy]))
    count = regimes.count if regimes is not None else 1
    return float(np.median(between)), float(np.median(rows_ratio)), float(np.median(between_raw)), \
        float(np.median(rows_raw)), count


def _between(values: np.ndarray, machines: np.ndarray, regime: np.ndarray, healthy: np.ndarray) -> float:
    """The spread across units of their mean healthy level, averaged over regimes."""
    spreads = []
    for r in np.unique(regime[healthy]):
        keep = healthy & (regime == r)
        means = [np.nanmean(values[keep & (machines == m)]) for m in np.unique(machines[keep])]
        spreads.append(np.nanstd(means))
    return float(np.mean(spreads))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--subsets", nargs="*", default=["FD002", "FD003", "FD004"])
    args = parser.parse_args()
    for subset in args.subsets:
        between, rows, between_raw, rows_raw, regimes = measure(subset, args.steps)
        print(f"baseline_spread: {subset} baseline {args.steps} cycles, {regimes} regime(s) found; "
              f"spread left after the shift (median over moving sensors): between units {between:.2f} "
              f"of the raw figure, all healthy rows {rows:.2f} of the raw figure")


if __name__ == "__main__":
    main()
