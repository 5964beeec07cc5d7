"""SDV synthesizers on simulated fleets: fit time, SDMetrics quality and usefulness, row level against
window level, TVAE / CTGAN / GaussianCopula / hybrid, beside SDV's default TVAE.

    .venv/bin/python benchmarks/synthesis.py [--types a,b] [--machines 50] [--kinds tvae,hybrid]
                                            [--levels row,window] [--epochs N] [--baseline-epochs 5]

No database. For each machine type it simulates `--machines` machines (seed 0), splits them by
machine into train / validation / test (60 / 20 / 20), fits every synthesizer on the train
machines only and prints, per level and kind:

- `fit s` (wall) and `cpu s` (process CPU time: the machine is shared, wall time is indicative);
- SDMetrics quality of as many synthetic rows as the train machines' frame has, against that
  frame: overall, Column Shapes, Column Pair Trends. Row and window level score different columns
  (readings against window features), so compare kinds within a level;
- usefulness, train-synthetic-test-real (TSTR): an XGBoost classifier of "fails within the horizon"
  (10 % of the median failing run, as in the training tests) trained on the synthetic rows and
  tested on the test machines' real rows in the same representation (raw readings at row level,
  window features at window level), threshold chosen on the validation machines (best F1 with
  FPR <= 0.05, `choose_threshold`). `real` rows train the same classifier on the train machines'
  real rows (TRTR): the ceiling for that representation. F1 and PR-AUC on the test machines.

Baseline in the same run: row-level TVAE as SDV ships it (300 epochs, every row). Fitting it takes
far too long here, so it is fitted for `--baseline-epochs` epochs and its time to 300 is
extrapolated from the measured per-epoch time (labelled "extrapolated").
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402
import xgboost as xgb  # noqa: E402

from engine.splits import split_train_validation_test  # noqa: E402
from engine.synthetic import synthesizers  # noqa: E402
from engine.synthetic.simulator import simulate_fleet  # noqa: E402
from engine.training.classifier import binary_metrics, choose_threshold  # noqa: E402
from machines.library import library_get  # noqa: E402

TYPES = ["induction-motor-siemens-1la7", "centrifugal-pump", "ai4i-milling-machine"]
KINDS = ["gaussian_copula", "tvae", "ctgan", "hybrid"]
PARAMS = {"tree_method": "hist", "max_depth": 4, "learning_rate": 0.1, "subsample": 0.9, "nthread": 2}
ROUNDS = 100
SDV_DEFAULT_EPOCHS = 300


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--types", default=",".join(TYPES))
    parser.add_argument("--machines", type=int, default=50)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--levels", default="row,window")
    parser.add_argument("--epochs", type=int, default=None, help="override the module's default epochs")
    parser.add_argument("--baseline-epochs", type=int, default=5, help="0 skips the SDV-default baseline")
    args = parser.parse_args()
    header()
    for key in args.types.split(","):
        run_type(key, args)


def run_type(key: str, args: argparse.Namespace) -> None:
    document = library_get(key)
    table = simulate_fleet(document, machines=args.machines, seed=0)
    machines = np.asarray(table.column("machine").to_numpy(zero_copy_only=False)).astype(str)
    train, validation, test = split_train_validation_test(machines, seed=0)
    parts = {"train": table.filter(pa.array(train)), "validation": table.filter(pa.array(validation)),
             "test": table.filter(pa.array(test))}
    horizon = horizon_for(table)
    print(f"\n{key}: {table.num_rows} rows, {args.machines} machines "
          f"({parts['train'].num_rows} train rows), horizon {horizon:g} h", flush=True)
    if args.baseline_epochs and "row" in args.levels.split(","):
        baseline(key, document, parts, args.baseline_epochs)
    for level in args.levels.split(","):
        frames = {name: synthesizers.training_frame(part, document, level=level) for name, part in parts.items()}
        real = usefulness(frames["train"], frames, document, horizon)
        row(key, level, "real (TRTR)", None, None, None, None, real)
        for kind in args.kinds.split(","):
            started = time.process_time()
            fitted = synthesizers.fit_synthesizer(parts["train"], document, kind=kind, level=level, epochs=args.epochs)
            cpu = time.process_time() - started
            synthetic = fitted.sample(len(frames["train"]), seed=1)
            quality = synthesizers.quality_report(parts["train"], synthetic, document)
            frame = synthetic.select([c for c in frames["train"].columns if c in synthetic.column_names]).to_pandas()
            row(key, level, kind, fitted.epochs, fitted.fit_seconds, cpu, quality,
                usefulness(frame, frames, document, horizon))


def baseline(key: str, document: Mapping[str, Any], parts: Mapping[str, pa.Table], epochs: int) -> None:
    """Row-level TVAE with SDV's defaults on every train row, timed per epoch from the progress hook."""
    marks: list[float] = []
    started, cpu = time.perf_counter(), time.process_time()

    def progress(percent: int, message: str) -> None:
        if "epoch" in message:
            marks.append(time.perf_counter())

    fitted = synthesizers.fit_synthesizer(
        parts["train"], document, kind="tvae", level="row", epochs=epochs, max_rows=10**9, progress=progress,
    )
    total, cpu = time.perf_counter() - started, time.process_time() - cpu
    per_epoch = (total - (marks[0] - started)) / epochs
    fixed = marks[0] - started
    print(f"{key:30} row    SDV default TVAE ({fitted.rows_fitted} rows): {epochs} epochs fitted in {total:.1f} s "
          f"(cpu {cpu:.1f} s; {fixed:.1f} s before the first epoch, {per_epoch:.2f} s/epoch); "
          f"extrapolated to {SDV_DEFAULT_EPOCHS} epochs: {fixed + SDV_DEFAULT_EPOCHS * per_epoch:.0f} s", flush=True)


# --- usefulness: train on one frame, test on the real test machines -----------------------------------


def usefulness(train: Any, frames: Mapping[str, Any], document: Mapping[str, Any], horizon: float) -> dict[str, float]:
    columns = feature_columns(frames["train"], document)
    x, y = design(train, columns, document, horizon)
    if not y.any() or y.all():
        return {"f1": float("nan"), "pr_auc": float("nan")}
    params = {**PARAMS, "objective": "binary:logistic", "seed": 0, "scale_pos_weight": float((~y).sum() / y.sum())}
    booster = xgb.train(params, xgb.DMatrix(x, y), ROUNDS)
    x_validation, y_validation = design(frames["validation"], columns, document, horizon)
    threshold, _ = choose_threshold(y_validation, booster.inplace_predict(x_validation))
    x_test, y_test = design(frames["test"], columns, document, horizon)
    scores = np.asarray(booster.inplace_predict(x_test), dtype=np.float64)
    metrics = binary_metrics(y_test, scores, scores >= threshold)
    return {"f1": metrics["f1"], "pr_auc": metrics["pr_auc"]}


def feature_columns(frame: Any, document: Mapping[str, Any]) -> list[str]:
    """Every modelled column but the labels and the simulator's regime (real readings lack it)."""
    return [c for c in frame.columns if c not in (*synthesizers.LABELS, "regime")]


def design(
    frame: Any, columns: list[str], document: Mapping[str, Any], horizon: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(features, labels) of the rows whose label is known: the classifier's labelling rule."""
    categorical = {s["name"]: s["categories"] for s in document["sensors"] if s["kind"] == "categorical"}
    blocks = []
    for column in columns:
        if column in categorical:
            values = frame[column].astype(str).to_numpy()
            blocks += [(values == category).astype(np.float32) for category in categorical[column]]
        else:
            blocks.append(frame[column].to_numpy(np.float32))
    x = np.stack(blocks, axis=1)
    failing = frame["failure_mode"].astype(str).to_numpy() != ""
    remaining = frame[synthesizers.REMAINING].to_numpy(np.float64)
    label = failing & (remaining <= horizon)
    keep = failing | (remaining > horizon)
    return x[keep], label[keep]


def horizon_for(table: pa.Table) -> float:
    """10 % of the median failing run's length in hours (as tests/engine/test_training.py)."""
    ttf = np.asarray(table.column("time_to_failure_h").to_numpy(), dtype=np.float64)
    machines = np.asarray(table.column("machine").to_numpy(zero_copy_only=False)).astype(str)
    lengths = [np.nanmax(ttf[machines == m]) + 1 for m in np.unique(machines[~np.isnan(ttf)])]
    return round(0.1 * float(np.median(lengths)))


# --- output -------------------------------------------------------------------------------------------


def header() -> None:
    print(f"{'type':30} {'level':6} {'kind':16} {'epochs':>6} {'fit s':>6} {'cpu s':>6} "
          f"{'overall':>7} {'shapes':>6} {'pairs':>6} {'F1':>5} {'PR-AUC':>6}")


def row(key: str, level: str, kind: str, epochs: int | None, seconds: float | None, cpu: float | None,
        quality: Mapping[str, Any] | None, use: Mapping[str, float]) -> None:
    def number(value: float | None, width: int, digits: int) -> str:
        return f"{'-':>{width}}" if value is None else f"{value:>{width}.{digits}f}"

    q = quality or {}
    print(f"{key:30} {level:6} {kind:16} {'-' if epochs is None else epochs:>6} {number(seconds, 6, 1)} "
          f"{number(cpu, 6, 1)} {number(q.get('overall'), 7, 3)} {number(q.get('column_shapes'), 6, 3)} "
          f"{number(q.get('column_pair_trends'), 6, 3)} {number(use['f1'], 5, 2)} {number(use['pr_auc'], 6, 2)}",
          flush=True)


if __name__ == "__main__":
    main()
