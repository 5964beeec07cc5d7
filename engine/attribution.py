"""One explanation API whatever the model: `attribute(model, features)` returns SHAP values per
feature that add up, with the base value, to the model's own output (local accuracy). No Django.

- **Tree models** (an XGBoost or LightGBM booster of `engine.training.learners`, a blend of them,
  the failure-mode booster, the forecaster's booster): shap's `TreeExplainer`. By default
  path-dependent TreeSHAP, exact for the trees and computed by each library's native code (as fast
  as XGBoost's own `pred_contribs`, which it equals: docs/STACK.md). With `background`, the
  interventional variant against that sample of training rows: it answers "what if this feature
  took a typical value" rather than following the trees' cover, the more faithful choice for the
  global views, and costs time per background row, so it runs at training, not per prediction.
  A classifier is explained in log-odds, a regressor in its own units (hours of remaining life).
  A blend's values are the mean of its members' (SHAP values add), explaining the mean of the
  members' raw outputs (`engine.training.search.Blend`).
- **The anomaly detector** scores the squared Mahalanobis distance of the robust z-scores,
  `z' M z` with `M = W W'`. With the training median (z = 0) as the reference, its Shapley values
  are exact in closed form: `phi_i = z_i (M z)_i` (each cross term `2 M_ij z_i z_j` is shared evenly
  by i and j). shap's Exact explainer gives the same values (tests/engine/test_attribution.py).

Explainers are built once per model object and kept while the model lives.
"""

from __future__ import annotations

import warnings
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import xgboost as xgb

from engine.training.anomaly import AnomalyResult
from engine.training.learners import THREADS, TreeModel
from engine.training.search import Blend

Array = np.ndarray
LOG_ODDS = "log-odds of failure within the horizon"

_EXPLAINERS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Attribution:
    """SHAP values of many rows: `base + values.sum(axis=1)` is the explained output per row."""

    values: Array  # (rows, features)
    base: Array  # (rows,)
    names: list[str]
    output: str  # what the values add up to, in words

    @property
    def total(self) -> Array:
        return self.base + self.values.sum(axis=1)

    def __len__(self) -> int:
        return len(self.values)


def attribute(model: Any, features: Array, *, names: Sequence[str] | None = None, output: str = "",
              background: Array | None = None, classes: Array | None = None, threads: int = 1) -> Attribution:
    """SHAP values of `model` on the (rows, features) matrix. `model`: a `TreeModel`, a `Blend`, a raw
    `xgb.Booster` (multi-class: give `classes`, each row's class to explain) or an `AnomalyResult`.
    `output` names what the values add up to (the caller knows: log-odds, hours, ...). `threads`:
    cores for an XGBoost booster's TreeSHAP (a big batch is worth both; one row is not)."""
    matrix = np.asarray(features, dtype=np.float32)
    if isinstance(model, AnomalyResult):
        return _anomaly(model, matrix)
    if isinstance(model, Blend):
        parts = [attribute(member, matrix, names=names, output=output, background=background, threads=threads)
                 for member in model.members]
        return Attribution(np.mean([p.values for p in parts], axis=0), np.mean([p.base for p in parts], axis=0),
                           parts[0].names, parts[0].output)
    raw = model.raw if isinstance(model, TreeModel) else model
    feature_list = list(names) if names is not None else list(model.names if isinstance(model, TreeModel)
                                                              else raw.feature_names or [])
    values, base = _tree_values(raw, matrix, background, classes, threads)
    return Attribution(values, base, feature_list, output or LOG_ODDS)


def _tree_values(raw: Any, matrix: Array, background: Array | None, classes: Array | None,
                 threads: int) -> tuple[Array, Array]:
    explainer = _tree_explainer(raw, background, threads)
    data: Any = matrix
    if isinstance(raw, xgb.Booster) and background is None:
        # shap would build this matrix with every core; as many as asked (learners.THREADS by
        # default): on a busy 2-core machine a second thread cost 10 ms on a one-row call.
        data = xgb.DMatrix(matrix, nthread=threads)
    with warnings.catch_warnings():  # shap notes a change of LightGBM's output shape that does not apply here
        warnings.filterwarnings("ignore", message="LightGBM binary classifier")
        values = np.asarray(explainer.shap_values(data, check_additivity=False), dtype=np.float64)
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    if values.ndim == 3:  # (rows, features, classes): each row's own class
        if classes is None:
            raise ValueError("a multi-class model explains one class per row: pass `classes`")
        pick = np.asarray(classes, dtype=np.int64)
        rows = np.arange(len(matrix))
        return values[rows, :, pick], expected[pick]
    return values, np.full(len(matrix), expected[0])


def _tree_explainer(raw: Any, background: Array | None, threads: int) -> Any:
    import shap  # ~2 s to import: only where explanations are asked for (docs/STACK.md)

    if background is not None:  # interventional: one per call, the background is the caller's
        return shap.TreeExplainer(raw, data=np.asarray(background, dtype=np.float64),
                                  feature_perturbation="interventional", model_output="raw")
    by_threads = _EXPLAINERS.setdefault(raw, {})
    explainer = by_threads.get(threads)
    if explainer is None:
        model = raw
        if threads != THREADS and isinstance(raw, xgb.Booster):
            # A copy with its own thread count: the shared booster keeps serving single rows on one.
            model = raw.copy()
            model.set_param({"nthread": threads})
        explainer = shap.TreeExplainer(model, feature_perturbation="tree_path_dependent")
        by_threads[threads] = explainer
    return explainer


def _anomaly(detector: AnomalyResult, matrix: Array) -> Attribution:
    z = detector.robust_z(matrix).astype(np.float64)
    whitening = detector.whitening.astype(np.float64)
    pushed = (z @ whitening) @ whitening.T  # M z with M = W W'
    values = np.zeros((len(matrix), len(detector.feature_names)))
    values[:, detector.columns] = z * pushed
    return Attribution(values, np.zeros(len(matrix)), list(detector.feature_names),
                       "anomaly score (squared distance from normal)")

