"""Drift check time for a fleet, PSI and KS on samples beside full-data KS (the baseline).

Synthetic, no database: a reference of `--reference-rows` training rows and a recent window of
`--machines` machines x `--steps` hourly steps, `--features` features each (a third of them
shifted). Our path: sketch the reference once (what a DriftReference stores), sample the recent
window to 5,000 rows, PSI and KS per feature against the sketch (`engine.drift`). Baseline,
same run and data: scipy's `ks_2samp` per feature on every reference and recent row.

    .venv/bin/python benchmarks/drift.py --machines 1000 --features 30
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdm_saas.settings")

from engine import drift  # noqa: E402

RECENT_ROWS = 5_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machines", type=int, default=1_000)
    parser.add_argument("--steps", type=int, default=168, help="recent steps per machine (a week of hours)")
    parser.add_argument("--features", type=int, default=30)
    parser.add_argument("--reference-rows", type=int, default=30_000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    reference = rng.gamma(2.0, 1.0, (args.reference_rows, args.features))
    recent = rng.gamma(2.0, 1.0, (args.machines * args.steps, args.features))
    recent[:, : args.features // 3] *= 1.3  # a third of the features drift
    print(f"{args.machines} machines x {args.steps} steps = {len(recent):,} recent rows, {args.features} features, "
          f"{args.reference_rows:,} reference rows")

    started = time.perf_counter()
    sketches = [drift.sketch(reference[:, j], dependence=24) for j in range(args.features)]
    sketch_s = time.perf_counter() - started

    started = time.perf_counter()
    sample = recent[np.sort(rng.permutation(len(recent))[:RECENT_ROWS])]
    ours = [drift.feature_drift(str(j), sketches[j], sample[:, j], dependence=24) for j in range(args.features)]
    ours_s = time.perf_counter() - started

    from scipy.stats import ks_2samp

    started = time.perf_counter()
    full = [ks_2samp(reference[:, j], recent[:, j]) for j in range(args.features)]
    full_s = time.perf_counter() - started

    ks_gap = max(abs((o.ks or 0) - f.statistic) for o, f in zip(ours, full, strict=True))
    flagged_ours = sum(o.drifted for o in ours)
    flagged_full = sum(f.pvalue < drift.KS_P_DRIFT for f in full)
    print(f"{'path':<58} {'seconds':>8}")
    print(f"{'reference sketches (once per model version)':<58} {sketch_s:>8.3f}")
    print(f"{'ours: sample 5,000 rows, PSI + KS against the sketches':<58} {ours_s:>8.3f}")
    print(f"{'baseline: scipy ks_2samp on every row':<58} {full_s:>8.3f}")
    print(f"speed-up {full_s / ours_s:.0f}x; largest KS statistic difference {ks_gap:.4f}; "
          f"drifted features flagged: ours {flagged_ours}, baseline {flagged_full} of {args.features} "
          f"({args.features // 3} shifted)")


if __name__ == "__main__":
    main()
