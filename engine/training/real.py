"""Real data: labels from failure events, and held-out evaluation of any trained model on it.

Labelling
---------
A machine's frame (one row per step, `engine.frames`) is cut into **runs** at its failure
events: a run ends at the step holding a failure and the next run starts after it, as a repaired
machine starts a new life. Each run becomes its own unit (`machine` = `<name>#<k>`), so window
features never reach across a repair and the splits keep a run's rows together. Rows of a run
that ends in a failure get `time_to_failure_h` (hours to that event) and its `failure_mode`; the
last run of each machine, with no failure observed yet, is censored (NaN), as the simulator's
healthy machines are. The step holding the event gets `failed = true`. The physical machine's
name stays in `asset`, and splits are drawn by run: two runs of one machine may land on both
sides, which shares the machine's own offsets between train and test. With a fleet of a few
machines that fail many times (the common real case) splitting by machine would leave nothing
to test on.

Evaluation
----------
`evaluate_bundle` measures a trained classifier or RUL regressor on the test runs of a labelled
table, with the same split and labels its own training would use, so a synthetic champion, a
real-only model and a fine-tuned one are compared on exactly the same rows. RUL models cap their
target at different values (each at its own training data's 20th percentile), so they are all
measured against one cap, the real-data model's: "remaining life, up to what this fleet's data
can tell".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from engine.bundles import FAILURE, OBSERVATION, RUL, Bundle
from engine.features import window_features
from engine.splits import split_train_validation_test
from engine.training.classifier import binary_metrics, column_numpy, failure_labels, row_hours
from engine.training.rul import regression_metrics

Array = np.ndarray
Event = tuple[datetime, str]  # (occurred_at, failure_mode)


def label_runs(frame: pa.Table, events: Mapping[str, Sequence[Event]]) -> pa.Table:
    """The frame cut into runs at failure events, with the simulator's label columns."""
    machines = column_numpy(frame, "machine").astype(str)
    hours = row_hours(frame)
    order = np.lexsort((hours, machines))
    frame, machines, hours = frame.take(pa.array(order)), machines[order], hours[order]
    run = np.zeros(len(machines), np.int64)
    ttf = np.full(len(machines), np.nan)
    mode = np.full(len(machines), "", dtype=object)
    failed = np.zeros(len(machines), bool)
    for name in np.unique(machines):
        rows = np.flatnonzero(machines == name)
        _label_machine(rows, hours, sorted(events.get(name, [])), run, ttf, mode, failed)
    units = np.array([f"{m}#{r}" for m, r in zip(machines, run, strict=True)], dtype=object)
    columns = {name: frame.column(name) for name in frame.column_names if name != "machine"}
    return pa.table({"machine": pa.array(units, pa.string()), "asset": pa.array(machines, pa.string()), **columns,
                     "failure_mode": pa.array(mode, pa.string()), "failed": pa.array(failed),
                     "time_to_failure_h": pa.array(ttf, pa.float64())})


def _label_machine(rows: Array, hours: Array, events: Sequence[Event], run: Array, ttf: Array, mode: Array,
                   failed: Array) -> None:
    start = 0
    for index, (occurred_at, failure_mode) in enumerate(events):
        at = occurred_at.timestamp() / 3600.0
        inside = rows[start:][hours[rows[start:]] <= at]
        if not len(inside):
            continue  # an event before any reading of this run (or twice in one step)
        run[inside] = index
        ttf[inside] = at - hours[inside]
        mode[inside] = failure_mode
        failed[inside[-1]] = True
        start += len(inside)
    run[rows[start:]] = len(events)


def evaluate_bundle(bundle: Bundle, table: pa.Table, *, seed: int = 0, horizon_h: float | None = None,
                    cap_h: float | None = None) -> dict[str, float]:
    """Held-out metrics of a classifier or RUL bundle on `table`'s test runs."""
    model = bundle.model
    _, _, test = split_train_validation_test(column_numpy(table, "machine").astype(str), seed=seed)
    features, _ = window_features(table, signals=model.signals, spec=model.spec)
    if bundle.kind == FAILURE:
        label, keep = failure_labels(table, model.horizon_h if horizon_h is None else horizon_h)
        rows = test & keep
        scores = model.predict_proba(features[rows])
        return binary_metrics(label[rows], scores, scores >= model.threshold)
    if bundle.kind == RUL:
        target = column_numpy(table, "time_to_failure_h").astype(np.float64)
        rows = test & ~np.isnan(target)
        cap = model.cap_h if cap_h is None else cap_h
        return regression_metrics(np.minimum(target[rows], cap), np.minimum(model.predict(features[rows]), cap))
    raise ValueError(f"no held-out evaluation for {bundle.kind}")


DEFAULT_MARGIN = 0.10  # a new model replaces a champion when better by this much (better_by)
# metric, higher is better; an observation label by its out-of-fold macro-F1
PRIMARY = {FAILURE: ("f1", True), RUL: ("rmse", False), OBSERVATION: ("macro_f1", True)}


def better_by(candidate: Mapping[str, Any], champion: Mapping[str, Any], *, kind: str, margin: float) -> bool:
    """Is the candidate better than the champion by at least `margin` (0.1 = 10%) on the kind's
    primary metric? F1 must reach champion x (1 + margin); RMSE must fall to champion x (1 - margin).
    A champion that cannot be measured (NaN) is beaten by any measurable candidate."""
    metric, higher = PRIMARY[kind]
    new, old = float(candidate.get(metric, np.nan)), float(champion.get(metric, np.nan))
    if np.isnan(new):
        return False
    if np.isnan(old):
        return True
    return new > old and new >= old * (1 + margin) if higher else new <= old * (1 - margin)


def summary_row(name: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("f1", "precision", "recall", "fpr", "roc_auc", "pr_auc", "rmse", "mae", "r2", "rows")
    return {"model": name, **{k: _json_float(metrics[k]) for k in keep if k in metrics}}


def _json_float(value: Any) -> float | None:
    value = float(value)
    return None if np.isnan(value) else round(value, 5)
