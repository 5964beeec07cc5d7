"""A model's SHAP values per signal, as the factor lists an explanation shows: each signal's share
of the total |attribution| (the shares of all signals sum to 1), its raw value, its reading, unit
and zone, and the window feature that weighs most. No Django imports.

The lists are gathered as plain Python values first (readings and zones once per signal, shares by
array operations), so a batch explains thousands of rows a second; `factor_cells` words them for a
file's cell.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from engine.attribution import Attribution, attribute
from engine.explain import factor_of, feature_label
from engine.features import MAINTENANCE_FEATURE, RUN_AGE_FEATURE
from engine.metadata import ZONES, MachineTypeSchema
from engine.training.classifier import column_numpy

Array = np.ndarray
TOP_FACTORS = 5
_OTHER_LABELS = {MAINTENANCE_FEATURE: ("time since maintenance", "h"),
                 RUN_AGE_FEATURE: ("time since the run started", "h")}


@dataclass(frozen=True)
class SignalAttribution:
    """An attribution summed per signal: (rows, groups) raw values and |value| shares."""

    groups: list[str]
    summed: Array
    shares: Array
    strongest: Array  # (rows, groups): the feature of each group with the largest |value|
    attribution: Attribution

    @classmethod
    def of(cls, attribution: Attribution) -> SignalAttribution:
        groups, member, columns = _grouping(tuple(attribution.names))
        summed = attribution.values @ member
        magnitude = np.abs(summed)
        total = magnitude.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(total > 0, magnitude / total, 0.0)
        strongest = np.zeros(summed.shape, np.int64)
        values = np.abs(attribution.values)
        for g, members in enumerate(columns):
            strongest[:, g] = members[values[:, members].argmax(axis=1)]
        return cls(groups, summed, shares, strongest, attribution)

    def ranked(self, limit: int) -> Array:
        """(rows, limit) group indexes, largest share first."""
        return np.argsort(-self.shares, axis=1, kind="stable")[:, :limit]


@dataclass(frozen=True)
class Readings:
    """What a factor shows beside its share: each signal's reading at the scored steps (rounded,
    None where missing) and the zone of its range, as plain lists, with its label and unit."""

    schema: MachineTypeSchema
    values: dict[str, Array]

    @classmethod
    def at(cls, schema: MachineTypeSchema, frame: pa.Table, positions: Array) -> Readings:
        values = {s: column_numpy(frame, s)[positions] for s in schema.signal_names if s in frame.column_names}
        return cls(schema, values)

    def subset(self, rows: Sequence[int]) -> Readings:
        return Readings(self.schema, {name: values[list(rows)] for name, values in self.values.items()})

    def words(self, group: str) -> tuple[str, str]:
        """(label, unit) of a signal, or of a non-signal factor (time since maintenance, ...)."""
        signal = self.schema.by_name.get(group)
        if signal is not None:
            return signal.label, signal.unit
        return _OTHER_LABELS.get(group, (group.replace("_", " "), ""))

    @functools.cached_property
    def shown(self) -> dict[str, tuple[list[Any], list[str | None]]]:
        """Per signal: its readings as JSON values and their zones, computed once for every row."""
        out: dict[str, tuple[list[Any], list[str | None]]] = {}
        for name, column in self.values.items():
            signal = self.schema.by_name[name]
            if column.dtype.kind not in "fiu":
                out[name] = ([None if v is None else str(v) for v in column.tolist()], [None] * len(column))
                continue
            numbers = column.astype(np.float64)
            finite = np.isfinite(numbers)
            zones = np.full(len(numbers), None, dtype=object)
            if signal.ranges is not None:
                zones[finite] = "implausible"
                for zone in reversed(ZONES):  # the first range that holds the reading names its zone
                    low, high = signal.ranges[zone]
                    zones[finite & (numbers >= low) & (numbers <= high)] = zone
            rounded = np.round(numbers, 4).tolist()
            out[name] = ([v if ok else None for v, ok in zip(rounded, finite.tolist(), strict=True)], zones.tolist())
        return out


def factor_lists(signals: SignalAttribution, readings: Readings, features: Array, *,
                 directions: tuple[str, str], limit: int = TOP_FACTORS) -> list[list[dict[str, Any]]]:
    """Per row of `signals`, its `limit` largest-share factors; `readings` and `features` hold the
    same rows; `directions`: the words for a positive and a negative raw value ("raises risk",
    "lowers risk"). Everything is gathered as plain lists first: thousands of rows a second."""
    order = signals.ranked(limit)
    shares = np.round(np.take_along_axis(signals.shares, order, axis=1), 4).tolist()
    raw = np.round(np.take_along_axis(signals.summed, order, axis=1), 4).tolist()
    strongest = np.take_along_axis(signals.strongest, order, axis=1)
    values = np.take_along_axis(np.asarray(features, np.float64), strongest, axis=1)
    values = np.where(np.isfinite(values), values, np.nan).tolist()
    names = signals.attribution.names
    labels = _feature_labels(tuple(names))
    groups = [(g, *readings.words(g), readings.shown.get(g)) for g in signals.groups]
    out = []
    for row, (picked, share, shap, columns, value) in enumerate(zip(order.tolist(), shares, raw, strongest.tolist(),
                                                                     values, strict=True)):
        factors = []
        for g, part, push, column, feature_value in zip(picked, share, shap, columns, value, strict=True):
            if part <= 0:
                break
            group, label, unit, shown = groups[g]
            reading, zone = ((shown[0][row], shown[1][row]) if shown is not None
                             else (None if feature_value != feature_value else round(feature_value, 4), None))
            factors.append({
                "feature": group, "signal": group, "label": label, "value": reading, "unit": unit, "zone": zone,
                "contribution": part, "shap": push, "direction": directions[0] if push > 0 else directions[1],
                "window_feature": names[column], "feature_label": labels[column],
                "feature_value": None if feature_value != feature_value else feature_value,
            })
        out.append(factors)
    return out


@functools.lru_cache(maxsize=64)
def _grouping(names: tuple[str, ...]) -> tuple[list[str], Array, list[Array]]:
    """Features to signals, once per feature list: the groups, a (features, groups) 0/1 matrix and
    each group's feature columns."""
    factors = [factor_of(name) for name in names]
    groups = sorted(set(factors))
    position = {group: g for g, group in enumerate(groups)}
    index = np.array([position[f] for f in factors], np.int64)
    member = np.zeros((len(factors), len(groups)))
    member[np.arange(len(factors)), index] = 1.0
    return groups, member, [np.flatnonzero(index == g) for g in range(len(groups))]


@functools.lru_cache(maxsize=64)
def _feature_labels(names: tuple[str, ...]) -> list[str]:
    return [feature_label(name) for name in names]


def factor_cells(classifier: Any, matrix: Array, *, limit: int = TOP_FACTORS) -> list[str]:
    """Per row, its top factors as one text cell, for files: "winding_temp_c 45% raises risk (+0.830); ..."."""
    signals = SignalAttribution.of(attribute(classifier.booster, matrix, names=classifier.feature_names))
    order = signals.ranked(limit)
    cells = []
    for row in range(len(matrix)):
        parts = [f"{signals.groups[g]} {signals.shares[row, g]:.0%} "
                 f"{'raises' if signals.summed[row, g] > 0 else 'lowers'} risk ({signals.summed[row, g]:+.3f})"
                 for g in order[row] if signals.shares[row, g] > 0]
        cells.append("; ".join(parts))
    return cells
