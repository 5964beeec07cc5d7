"""Pieces of an explanation fitted at training and applied per row: the feature words, similar past
cases, the confidence and the global importance by gain. No Django imports. The explanation itself
(SHAP factors, the local rule, the time heatmap) is built in `engine.explanation`.

- **Similar past cases**: up to `MAX_CASES` training rows that were within the horizon of a
  failure, standardised by the training rows' median and IQR over the most important features;
  the nearest by Euclidean distance are the failures this machine looks most like.
- **Surrogate**: a depth-3 decision tree fitted to the classifier's decisions on the training
  rows, stored with its fidelity (kept for the bundles that carry one; predictions now get a local
  rule per prediction, `engine.local_rule`).
- **Confidence** is how far the probability sits from the decision threshold, on each side's own
  scale: 0 at the threshold, 1 at probability 0 or 1.

The health score and the verdict it belongs to are made in `engine.decision`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.tree import DecisionTreeClassifier

from engine.features import MAINTENANCE_FEATURE

Array = np.ndarray
MAX_CASES = 400
CASE_FEATURES = 24  # the most important features the case distance uses
SURROGATE_DEPTH = 3
SIMILAR_RADIUS = 1.0  # RMS distance in IQRs: similarity 0.5 and above
_STAT_WORDS = {
    "mean": "mean", "std": "spread", "min": "minimum", "max": "maximum", "last": "latest", "slope": "trend",
    "delta": "change from mean",
}


def factor_of(feature: str) -> str:
    """The signal (or categorical column) a feature belongs to: `vib__mean_24` -> `vib`."""
    return feature if feature == MAINTENANCE_FEATURE else feature.split("__", 1)[0]


def feature_label(feature: str) -> str:
    """`vib__slope_24` -> `vib trend over 24 steps`; categorical `grade__H` -> `grade = H`."""
    if "__" not in feature:
        return feature.replace("_", " ")
    signal, rest = feature.split("__", 1)
    stat, _, window = rest.rpartition("_")
    if stat in _STAT_WORDS and window.isdigit():
        return f"{signal} {_STAT_WORDS[stat]} over {window} steps"
    return f"{signal} = {rest}"


def global_importance(booster: Any, names: Sequence[str], *, limit: int = 30) -> list[dict[str, Any]]:
    """Total gain per feature, as shares summing to 1 over all features. `booster`: an XGBoost
    booster, or a model of engine.training.learners / search (which know their gains)."""
    if isinstance(booster, xgb.Booster):
        gains = {name: float(value) for name, value in  # one number per feature for tree boosters
                 booster.get_score(importance_type="total_gain").items() if isinstance(value, int | float)}
    else:
        gains = booster.gains()
    total = sum(gains.values()) or 1.0
    ranked = sorted(((gains.get(n, 0.0) / total, n) for n in names), reverse=True)[:limit]
    return [{"feature": n, "label": feature_label(n), "signal": factor_of(n), "importance": round(s, 5)}
            for s, n in ranked if s > 0]


@dataclass
class Surrogate:
    """A shallow tree mimicking the classifier, stored as arrays (see the module docstring)."""

    left: list[int]
    right: list[int]
    feature: list[int]
    threshold: list[float]
    missing_left: list[bool]
    positive_share: list[float]  # of the classifier's positives among training rows at each node
    fidelity: float
    horizon_h: float

    @classmethod
    def fit(cls, features: Array, decisions: Array, *, test_features: Array, test_decisions: Array,
            horizon_h: float, seed: int = 0) -> Surrogate:
        tree = DecisionTreeClassifier(max_depth=SURROGATE_DEPTH, min_samples_leaf=20, random_state=seed,
                                      class_weight="balanced")
        tree.fit(features, decisions.astype(int))
        t = tree.tree_
        agree = tree.predict(test_features) == test_decisions
        fidelity = float(np.mean(agree)) if len(test_decisions) else float("nan")
        positive_column = list(tree.classes_).index(1) if 1 in tree.classes_ else None
        counts = t.value[:, 0, :] * t.weighted_n_node_samples[:, None] if t.value.ndim == 3 else t.value
        shares = (counts[:, positive_column] / counts.sum(axis=1) if positive_column is not None
                  else np.zeros(t.node_count))
        return cls(
            left=t.children_left.tolist(), right=t.children_right.tolist(), feature=t.feature.tolist(),
            threshold=t.threshold.tolist(), missing_left=[bool(v) for v in t.missing_go_to_left],
            positive_share=[float(v) for v in shares], fidelity=fidelity, horizon_h=horizon_h,
        )

    def rule(self, row: Array, names: Sequence[str], *, unit: str = "h") -> dict[str, Any]:
        """The path `row` takes, with bounds merged per feature, as text and as parts; the horizon
        in the data's `unit` ("h", or "cycles" for a cycle-indexed model)."""
        node, bounds = 0, dict[int, tuple[float, float]]()
        while self.left[node] != -1:
            f, cut, value = self.feature[node], self.threshold[node], row[self.feature[node]]
            goes_left = self.missing_left[node] if np.isnan(value) else value <= cut
            low, high = bounds.get(f, (-np.inf, np.inf))
            bounds[f] = (low, min(high, cut)) if goes_left else (max(low, cut), high)
            node = self.left[node] if goes_left else self.right[node]
        conditions = [_condition(feature_label(names[f]), low, high) for f, (low, high) in bounds.items()]
        share = self.positive_share[node]
        outcome = (f"failure within {self.horizon_h:g} {unit} likely" if share >= 0.5
                   else f"no failure within {self.horizon_h:g} {unit}")
        text = f"IF {' AND '.join(conditions)} THEN {outcome}" if conditions else f"ALWAYS {outcome}"
        return {"text": text, "conditions": conditions, "leaf_failure_share": round(share, 3),
                "fidelity": round(self.fidelity, 3)}

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Surrogate:
        return cls(**data)


def _condition(label: str, low: float, high: float) -> str:
    if np.isfinite(low) and np.isfinite(high):
        return f"{_number(low)} < {label} <= {_number(high)}"
    return f"{label} > {_number(low)}" if np.isfinite(low) else f"{label} <= {_number(high)}"


def _number(value: float) -> str:
    return f"{value:.4g}"


@dataclass
class CaseBase:
    """Past failure windows to compare a row against (see the module docstring)."""

    columns: list[int]  # feature indexes used for the distance
    centre: Array
    scale: Array
    vectors: Array  # (cases, len(columns)), standardised, NaN as 0
    machine: list[str]
    failure_mode: list[str]
    hours_before: list[float]
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, features: Array, positive: Array, *, machines: Array, modes: Array, time_to_failure: Array,
              importance_order: Sequence[int], seed: int = 0) -> CaseBase:
        columns = list(importance_order[:CASE_FEATURES]) or list(range(min(CASE_FEATURES, features.shape[1])))
        chosen = np.flatnonzero(positive)
        if len(chosen) > MAX_CASES:
            chosen = np.sort(np.random.default_rng(seed).choice(chosen, MAX_CASES, replace=False))
        sample = features[:, columns]
        with np.errstate(all="ignore"):
            centre = np.nan_to_num(np.nanmedian(sample, axis=0))
            spread = np.nanpercentile(sample, 75, axis=0) - np.nanpercentile(sample, 25, axis=0)
        scale = np.where(np.isfinite(spread) & (spread > 0), spread, 1.0)
        vectors = np.nan_to_num((sample[chosen] - centre) / scale)
        return cls(columns, centre, scale, vectors.astype(np.float32), [str(m) for m in machines[chosen]],
                   [str(m) for m in modes[chosen]], [float(h) for h in time_to_failure[chosen]])

    def combined(self, other: CaseBase | None) -> CaseBase:
        """These cases and `other`'s (standardised alike)."""
        if other is None or not len(other.vectors):
            return self
        return CaseBase(self.columns, self.centre, self.scale, np.vstack([self.vectors, other.vectors]),
                        self.machine + other.machine, self.failure_mode + other.failure_mode,
                        self.hours_before + other.hours_before)

    def count_similar(self, rows: Array) -> Array:
        """Per row, how many cases lie within SIMILAR_RADIUS (RMS standardised distance)."""
        if not len(self.vectors):
            return np.zeros(len(rows), np.int64)
        return (self._distances(rows) <= SIMILAR_RADIUS).sum(axis=1)

    def _distances(self, rows: Array) -> Array:
        query = np.nan_to_num((rows[:, self.columns] - self.centre) / self.scale)
        return np.sqrt(((query[:, None, :] - self.vectors[None, :, :]) ** 2).mean(axis=2))

    def nearest(self, rows: Array, *, k: int = 3) -> list[list[dict[str, Any]]]:
        if not len(self.vectors):
            return [[] for _ in range(len(rows))]
        distance = self._distances(rows)
        out = []
        for row in distance:
            best = np.argsort(row)[:k]
            out.append([{
                "machine": self.machine[i], "failure_mode": self.failure_mode[i],
                "hours_before_failure": round(self.hours_before[i], 1),
                "similarity": round(float(1.0 / (1.0 + row[i])), 3),
            } for i in best])
        return out

    def to_arrays(self) -> dict[str, Any]:
        return {
            "columns": self.columns, "centre": self.centre.tolist(), "scale": self.scale.tolist(),
            "vectors": self.vectors.tolist(), "machine": self.machine, "failure_mode": self.failure_mode,
            "hours_before": self.hours_before,
        }

    @classmethod
    def from_arrays(cls, data: Mapping[str, Any]) -> CaseBase:
        width = len(data["columns"])
        return cls(list(data["columns"]), np.asarray(data["centre"], np.float64), np.asarray(data["scale"], np.float64),
                   np.asarray(data["vectors"], np.float32).reshape(-1, width), list(data["machine"]),
                   list(data["failure_mode"]), list(data["hours_before"]))


def confidence(probability: Array, threshold: float) -> Array:
    """0 at the threshold, 1 at certainty, on each side's own scale."""
    p = np.asarray(probability, np.float64)
    above = (p - threshold) / max(1.0 - threshold, 1e-9)
    below = (threshold - p) / max(threshold, 1e-9)
    return np.clip(np.where(p >= threshold, above, below), 0.0, 1.0)


def confidence_level(value: float) -> str:
    return "high" if value >= 0.6 else "medium" if value >= 0.25 else "low"
