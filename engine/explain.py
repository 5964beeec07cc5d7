"""Pieces of an explanation fitted at training and applied per row: the feature words, similar past
cases, the confidence and the global importance by gain (for models without a SHAP global view).
No Django imports. The explanation itself (SHAP factors, the local rule, the time heatmap) is
built in `engine.explanation`.

- **Similar past cases**: up to `MAX_CASES` training rows that were within the horizon of a
  failure, standardised by the training rows' median and IQR over the most important features,
  joined by the tenant's own real failures (`CaseBase.from_real`, standardised alike); the nearest
  by RMS standardised distance are the failures this machine looks most like, a real one within
  the similarity radius first (`CaseBase.nearest`).
- **Confidence** is how far the probability sits from the decision threshold, on each side's own
  scale: 0 at the threshold, 1 at probability 0 or 1.

The health score and the verdict it belongs to are made in `engine.decision`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xgboost as xgb
from threadpoolctl import ThreadpoolController

from engine.features import MAINTENANCE_FEATURE

Array = np.ndarray
MAX_CASES = 400
CASE_FEATURES = 24  # the most important features the case distance uses
SIMULATED, REAL = "simulated", "real"  # where a past case comes from
SIMILAR_RADIUS = 1.0  # RMS standardised distance of a similar case (similarity >= 0.5; CaseBase)
SCAN_K = 8  # up to this many nearest cases, found by repeated argmin rather than a partial sort
DISTANCE_CELLS = 250_000  # (rows x cases) distances at once: 2 MB of float64 stay in the CPU cache
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
class CaseBase:
    """Past failure windows to compare a row against (see the module docstring).

    Each case is a row of window features within the horizon of a failure, standardised by the
    training rows' median and IQR over `columns`. A case is `source` "simulated" (a training row
    of the simulated fleet; `failed_at` None) or "real" (the tenant's own failure event, at some
    step before it; `failed_at` the failure's ISO 8601 time): see `from_real` and `combined`.

    Distance is the RMS of the standardised differences (so it does not grow with the number of
    columns), similarity 1 / (1 + distance). A case is *similar* when its similarity is at least
    0.5, i.e. the row sits within one IQR of it per feature on average (`SIMILAR_RADIUS`): one IQR
    is the spread of the middle half of all training rows, so a case closer than that is nearer
    than a typical row is to the median, while most pairs of unrelated rows are further apart.
    """

    columns: list[int]  # feature indexes used for the distance
    centre: Array
    scale: Array
    vectors: Array  # (cases, len(columns)), standardised, NaN as 0
    machine: list[str]
    failure_mode: list[str]
    hours_before: list[float]
    extra: dict[str, Any] = field(default_factory=dict)
    source: list[str] = field(default_factory=list)  # per case: "simulated" or "real"
    failed_at: list[str | None] = field(default_factory=list)  # per case: ISO 8601, None when simulated

    def __post_init__(self) -> None:
        cases = len(self.vectors)
        # Arrays stored before cases knew their source are the simulated training rows.
        self.source = list(self.source) or [SIMULATED] * cases
        self.failed_at = list(self.failed_at) or [None] * cases
        lengths = {len(self.machine), len(self.failure_mode), len(self.hours_before), len(self.source),
                   len(self.failed_at)}
        if lengths != {cases}:
            raise ValueError(f"every case needs each of its fields; got {sorted(lengths)} for {cases} cases")

    def __len__(self) -> int:
        return len(self.vectors)

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

    @classmethod
    def from_real(cls, features: Array, *, like: CaseBase, machines: Sequence[str], modes: Sequence[str],
                  hours_before: Sequence[float], failed_at: Sequence[str]) -> CaseBase:
        """The tenant's own failures as cases: `features` (cases, all the classifier's features),
        one row per case, standardised with `like`'s columns, centre and scale, so that their
        distances compare with `like`'s cases."""
        rows = np.asarray(features, np.float64)
        vectors = np.nan_to_num(like.standardise(rows)).astype(np.float32).reshape(len(rows), len(like.columns))
        return cls(list(like.columns), like.centre, like.scale, vectors,
                   [str(m) for m in machines], [str(m) for m in modes], [float(h) for h in hours_before],
                   source=[REAL] * len(vectors), failed_at=[str(t) for t in failed_at])

    def standardise(self, rows: Array) -> Array:
        """Rows of all the classifier's features -> the standardised distance columns (NaN kept)."""
        return (rows[:, self.columns] - self.centre) / self.scale

    def combined(self, other: CaseBase | None) -> CaseBase:
        """These cases and `other`'s, in one base (`other` standardised alike: `from_real`)."""
        if other is None or not len(other):
            return self
        if list(other.columns) != list(self.columns) or not (
                np.array_equal(other.centre, self.centre) and np.array_equal(other.scale, self.scale)):
            raise ValueError("cases standardised differently cannot be compared; build them with from_real(like=...)")
        return CaseBase(list(self.columns), self.centre, self.scale,
                        np.concatenate([self.vectors, other.vectors]).astype(np.float32),
                        [*self.machine, *other.machine], [*self.failure_mode, *other.failure_mode],
                        [*self.hours_before, *other.hours_before], dict(self.extra),
                        [*self.source, *other.source], [*self.failed_at, *other.failed_at])

    def distances(self, rows: Array) -> Iterator[tuple[slice, Array]]:
        """(rows slice, RMS standardised distance (chunk rows, cases)) in chunks of rows, so that
        memory stays bounded by `DISTANCE_CELLS` whatever the batch."""
        vectors = self.vectors.astype(np.float64)
        squared = (vectors ** 2).sum(axis=1)
        width = max(len(self.columns), 1)
        step = max(1, DISTANCE_CELLS // max(len(vectors), 1))
        for start in range(0, len(rows), step):
            chunk = slice(start, start + step)
            query = np.nan_to_num(self.standardise(np.asarray(rows[chunk], np.float64)))
            # |q - v|^2 = |q|^2 + |v|^2 - 2 q.v: one matrix product, no (rows, cases, columns) cube.
            # On one BLAS thread: a product this small costs less than waking the others (a third
            # of the time on two busy cores).
            with _blas().limit(limits=1, user_api="blas"):
                product = query @ vectors.T
            total = (query ** 2).sum(axis=1)[:, None] + squared[None, :] - 2.0 * product
            yield chunk, np.sqrt(np.maximum(total, 0.0) / width)

    def nearest(self, rows: Array, *, k: int = 3) -> list[list[dict[str, Any]]]:
        """Per row, up to `k` cases, most similar first, except that **real cases come first**: a
        real case within the similarity radius (`SIMILAR_RADIUS`) ranks before every simulated
        case, however close; among themselves, and outside the radius, cases rank by distance. A
        team trusts its own machine's failure over a simulated one when both look alike, but a real
        case that does not look alike is not promoted over a simulated one that does."""
        return self.similar(rows, k=k)[0]

    def similar(self, rows: Array, *, k: int = 3) -> tuple[list[list[dict[str, Any]]], Array]:
        """`nearest(rows, k=k)` and `count_similar(rows)` from one pass over the distances (an
        explanation wants both; the pass is most of their cost)."""
        counts = np.zeros(len(rows), dtype=np.int64)
        if not len(self.vectors) or k < 1:
            return [[] for _ in range(len(rows))], counts
        real = np.flatnonzero(np.array([s == REAL for s in self.source]))
        take = min(k, len(self.vectors))
        fields = list(zip(self.machine, self.failure_mode, [round(h, 1) for h in self.hours_before], self.source,
                          self.failed_at, strict=True))
        out: list[list[dict[str, Any]]] = []
        for chunk, distance in self.distances(rows):
            counts[chunk] = (distance <= SIMILAR_RADIUS).sum(axis=1)
            # A preferred case ranks at its distance (<= the radius), every other one past the radius.
            rank = distance + (SIMILAR_RADIUS + 1.0)
            if len(real):
                own = distance[:, real]
                rank[:, real] = np.where(own <= SIMILAR_RADIUS, own, own + (SIMILAR_RADIUS + 1.0))
            best = _smallest(rank, take)
            similarity = np.round(1.0 / (1.0 + np.take_along_axis(distance, best, axis=1)), 3).tolist()
            for indexes, scores in zip(best.tolist(), similarity, strict=True):
                out.append([_case(fields[i], s) for i, s in zip(indexes, scores, strict=True)])
        return out, counts

    def count_similar(self, rows: Array, *, source: str | None = None) -> Array:
        """Per row, how many cases (of `source` only, when given) lie within the similarity
        radius: similarity >= 0.5, RMS standardised distance <= `SIMILAR_RADIUS` (class docstring)."""
        counts = np.zeros(len(rows), dtype=np.int64)
        if not len(self.vectors):
            return counts
        keep = np.array([source is None or s == source for s in self.source])
        for chunk, distance in self.distances(rows):
            counts[chunk] = ((distance <= SIMILAR_RADIUS) & keep).sum(axis=1)
        return counts

    def to_arrays(self) -> dict[str, Any]:
        return {
            "columns": self.columns, "centre": self.centre.tolist(), "scale": self.scale.tolist(),
            "vectors": self.vectors.tolist(), "machine": self.machine, "failure_mode": self.failure_mode,
            "hours_before": self.hours_before, "source": self.source, "failed_at": self.failed_at,
        }

    @classmethod
    def from_arrays(cls, data: Mapping[str, Any]) -> CaseBase:
        width = len(data["columns"])
        return cls(list(data["columns"]), np.asarray(data["centre"], np.float64), np.asarray(data["scale"], np.float64),
                   np.asarray(data["vectors"], np.float32).reshape(-1, width), list(data["machine"]),
                   list(data["failure_mode"]), list(data["hours_before"]),
                   source=list(data.get("source", [])), failed_at=list(data.get("failed_at", [])))


@functools.cache
def _blas() -> ThreadpoolController:
    """The process's thread pools, inspected once (0.3 ms) rather than at every product."""
    return ThreadpoolController()


def _smallest(values: Array, k: int) -> Array:
    """Per row, the column indexes of the `k` smallest values, smallest first (ties: the first
    column). Overwrites `values` (the caller's scratch ranks): for the few cases an explanation
    lists, k passes of argmin cost a third of a partial sort."""
    if k > SCAN_K:
        candidates = np.argpartition(values, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(values, candidates, axis=1), axis=1, kind="stable")
        return np.take_along_axis(candidates, order, axis=1)
    best = np.empty((len(values), k), dtype=np.int64)
    rows = np.arange(len(values))
    for place in range(k):
        best[:, place] = values.argmin(axis=1)
        values[rows, best[:, place]] = np.inf
    return best


def _case(fields: tuple[str, str, float, str, str | None], similarity: float) -> dict[str, Any]:
    machine, mode, hours, source, failed_at = fields
    return {"machine": machine, "failure_mode": mode, "hours_before_failure": hours, "similarity": similarity,
            "source": source, "failed_at": failed_at}


def confidence(probability: Array, threshold: float) -> Array:
    """0 at the threshold, 1 at certainty, on each side's own scale."""
    p = np.asarray(probability, np.float64)
    above = (p - threshold) / max(1.0 - threshold, 1e-9)
    below = (threshold - p) / max(threshold, 1e-9)
    return np.clip(np.where(p >= threshold, above, below), 0.0, 1.0)


def confidence_level(value: float) -> str:
    return "high" if value >= 0.6 else "medium" if value >= 0.25 else "low"
