"""Model quality and time per built-in machine type, at the onboarding sizes.

    .venv/bin/python benchmarks/model_quality.py [--types k1,k2] [--machines 100] [--horizon H]

For every library type (or `--types`) it simulates the default onboarding fleet
(`engine.synthetic.simulator.simulate_fleet`, `--machines`, 20 % censored), trains the failure
classifier and the RUL regressor with their default parameters, and prints one line per type:

- `sim s` / `train s`: wall seconds, with CPU seconds in brackets (CPU time counts both XGBoost
  threads; with other jobs on the machine wall time is the noisier figure);
- classifier on the test machines: F1, false-positive rate and ROC-AUC; the majority baseline's F1
  (always 0: it predicts "no failure") and ROC-AUC (0.5) are printed beside them;
- RUL on the test machines: R² and MAE (hours) beside predicting the training mean, and the
  coverage of the 90 % conformal interval;
- `zones`: failure modes whose affected signals leave the normal range by failure time on at least
  two thirds of the fleet's runs of that mode (`zones_at_failure`, last 3 readings), out of the
  modes the fleet failed by; `crit` counts those that reach critical.

The horizon defaults to the onboarding's (`engine.synthetic.scales.default_horizon`): half the
type's typical P-F interval; the RUL cap to the typical P-F interval, as onboarding sets it. The
fleet is simulated at the type's own step (12 h, 1 day ...), so hours are real hours.
Nothing is written anywhere; no database is needed.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.synthetic.scales import default_horizon, typical_pf_interval  # noqa: E402
from engine.synthetic.simulator import simulate_fleet, zones_at_failure  # noqa: E402
from engine.training.classifier import train_failure_classifier  # noqa: E402
from engine.training.rul import train_rul_regressor  # noqa: E402
from machines.library import library_get, library_list  # noqa: E402

DEFAULT_MACHINES = 100
VISIBLE_SHARE = 2 / 3
T = TypeVar("T")



def visible_modes(document: Mapping[str, Any], table: pa.Table) -> tuple[int, int, int]:
    """(modes whose signals leave normal, of those reaching critical, modes the fleet failed by)."""
    by_mode: dict[str, list[str]] = {}
    for mode, zone in zones_at_failure(document, table):
        by_mode.setdefault(mode, []).append(zone)
    with_signals = {mode["name"] for mode in document["failure_modes"] if mode["affected_signals"]}
    shares = [
        (float(np.mean([z != "normal" for z in zones])), float(np.mean([z == "critical" for z in zones])))
        for mode, zones in by_mode.items() if mode in with_signals
    ]
    return (
        sum(warn >= VISIBLE_SHARE for warn, _ in shares), sum(crit >= VISIBLE_SHARE for _, crit in shares), len(shares),
    )


def timed(work: Callable[[], T]) -> tuple[T, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = work()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def measure(key: str, *, machines: int, horizon_h: float | None, seed: int) -> dict[str, Any]:
    document = library_get(key)
    table, sim_wall, sim_cpu = timed(lambda: simulate_fleet(document, machines=machines, seed=seed))
    horizon = horizon_h if horizon_h is not None else default_horizon(document)

    def train() -> tuple[Any, Any]:
        classifier = train_failure_classifier(table, document, horizon_h=horizon, seed=seed)
        return classifier, train_rul_regressor(table, document, seed=seed, cap_h=typical_pf_interval(document))

    (classifier, rul), train_wall, train_cpu = timed(train)
    visible, critical, seen = visible_modes(document, table)
    return {
        "key": key, "rows": table.num_rows, "horizon": horizon,
        "sim": (sim_wall, sim_cpu), "train": (train_wall, train_cpu),
        "clf": classifier.metrics, "clf_base": classifier.baseline, "note": classifier.threshold_note,
        "rul": rul.metrics, "rul_base": rul.baseline, "zones": (visible, critical, seen),
        "modes": len(document["failure_modes"]),
    }


HEADER = (
    f"{'type':30} {'rows':>6} {'H h':>4} {'sim s':>10} {'train s':>12} {'F1':>5} {'FPR':>5} {'AUC':>5} {'(base)':>9}"
    f" {'R2':>5} {'MAE h':>6} {'(base)':>12} {'cover':>5} {'zones':>7} {'crit':>4}"
)


def line(r: Mapping[str, Any]) -> str:
    clf, base, rul, rul_base = r["clf"], r["clf_base"], r["rul"], r["rul_base"]
    visible, critical, seen = r["zones"]
    return (
        f"{r['key']:30} {r['rows']:>6} {r['horizon']:>4.0f} {r['sim'][0]:>4.1f} ({r['sim'][1]:>3.1f})"
        f" {r['train'][0]:>5.1f} ({r['train'][1]:>4.1f}) {clf['f1']:>5.2f} {clf['fpr']:>5.3f} {clf['roc_auc']:>5.3f}"
        f" {base['f1']:>4.2f}/0.5 {rul['r2']:>5.2f} {rul['mae']:>6.1f} {rul_base['r2']:>5.2f}/{rul_base['mae']:>5.1f}"
        f" {rul['coverage']:>5.2f} {visible:>3}/{seen:<3} {critical:>4}" + (f"  [{r['note']}]" if r["note"] else "")
    )


def summary(results: Sequence[Mapping[str, Any]]) -> str:
    f1, r2 = [r["clf"]["f1"] for r in results], [r["rul"]["r2"] for r in results]
    total = [r["sim"][0] + r["train"][0] for r in results]
    cpu = [r["sim"][1] + r["train"][1] for r in results]
    visible = sum(r["zones"][0] for r in results)
    seen = sum(r["zones"][2] for r in results)
    return (
        f"{len(results)} types: simulate+train wall median {np.median(total):.1f} s, max {max(total):.1f} s"
        f" (cpu median {np.median(cpu):.1f} s, max {max(cpu):.1f} s);"
        f" classifier F1 median {np.median(f1):.2f}, min {min(f1):.2f};"
        f" RUL R2 median {np.median(r2):.2f}, min {min(r2):.2f};"
        f" modes leaving normal at failure {visible}/{seen}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--types", help="comma-separated library keys (default: every type)")
    parser.add_argument("--machines", type=int, default=DEFAULT_MACHINES)
    parser.add_argument("--horizon", type=float, help="classifier horizon in hours (default: per type)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    keys = args.types.split(",") if args.types else [summary["key"] for summary in library_list()]
    print(f"machines={args.machines} seed={args.seed}", flush=True)
    print(HEADER, flush=True)
    results = []
    for key in keys:
        results.append(measure(key, machines=args.machines, horizon_h=args.horizon, seed=args.seed))
        print(line(results[-1]), flush=True)
    print(summary(results))


if __name__ == "__main__":
    main()
