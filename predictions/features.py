"""Causal window features per machine: rolling statistics of each signal, one-hot categorical
attributes and hours since the last maintenance.

A row's features come only from its own machine's rows at or before it, so a model trained on them
never sees the future. Windows count rows (steps), not hours; a window at the start of a run holds
whatever history exists. Dropouts are NaN and are skipped; a window with no valid value gives NaN.
Slopes are least-squares fits against time in hours, so irregular sampling is handled.

No Django imports here: training workers, scoring and plain tests all use this module.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from machines.metadata import signal_names

STATISTICS = ("mean", "std", "min", "max", "last", "slope", "delta")
MAINTENANCE_FEATURE = "time_since_maintenance_h"
# Rows scored at once: bounds the (rows, window) scratch arrays to a few tens of megabytes.
CHUNK_ROWS = 65_536
_HOUR = {"s": 3600.0, "ms": 3.6e6, "us": 3.6e9, "ns": 3.6e12}

Array = np.ndarray


@dataclass(frozen=True)
class FeatureSpec:
    """What to compute. `categorical` maps a column to its categories in metadata order, so training
    and serving one-hot encode identically; `maintenance_times` maps a machine to its sorted
    maintenance times (datetimes, or hours when the time column is numeric)."""

    windows: tuple[int, ...] = (6, 24)
    statistics: tuple[str, ...] = STATISTICS
    categorical: Mapping[str, Sequence[str]] = field(default_factory=dict)
    maintenance_times: Mapping[str, Sequence[Any]] | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.statistics) - set(STATISTICS))
        if unknown:
            raise ValueError(f"unknown statistics {unknown}; known: {', '.join(STATISTICS)}")
        if not self.windows or min(self.windows) < 1:
            raise ValueError("windows must be positive row counts")

    @classmethod
    def for_document(cls, document: Mapping[str, Any], **overrides: Any) -> FeatureSpec:
        """A spec whose categorical columns and category order come from the machine type."""
        categorical = {
            sensor["name"]: tuple(sensor["categories"])
            for sensor in document.get("sensors", [])
            if sensor["kind"] == "categorical"
        }
        return cls(**{"categorical": categorical, **overrides})


def document_signals(document: Mapping[str, Any]) -> list[str]:
    """The numeric sensors and derived signals of a machine type: the columns to window."""
    categorical = {s["name"] for s in document.get("sensors", []) if s["kind"] == "categorical"}
    return [name for name in signal_names(document) if name not in categorical]


def feature_names(signals: Sequence[str], spec: FeatureSpec) -> list[str]:
    names = [f"{signal}__{stat}_{window}" for signal in signals for window in spec.windows for stat in spec.statistics]
    names += [f"{column}__{category}" for column, categories in spec.categorical.items() for category in categories]
    if spec.maintenance_times is not None:
        names.append(MAINTENANCE_FEATURE)
    return names


def window_features(
    table: pa.Table, *, signals: list[str], spec: FeatureSpec, machine_column: str = "machine", time_column: str = "ts",
) -> tuple[Array, list[str]]:
    """Features for every row, returned in the table's own row order."""
    history = _History.of(table, machine_column, time_column)
    sorted_rows = history.features(np.arange(table.num_rows), table, signals, spec)
    out = np.empty_like(sorted_rows)
    out[history.order] = sorted_rows
    return out, feature_names(signals, spec)


def serving_features(
    table: pa.Table, *, signals: list[str], spec: FeatureSpec, machine_column: str = "machine", time_column: str = "ts",
) -> tuple[list[str], Array, list[str]]:
    """Features of each machine's latest row, given its recent history (at least max(windows) rows
    for the windows to be full). Returns machine ids (sorted), the matrix and the feature names."""
    history = _History.of(table, machine_column, time_column)
    last = np.flatnonzero(np.r_[history.codes[1:] != history.codes[:-1], True]) if table.num_rows else np.array([], int)
    matrix = history.features(last, table, signals, spec)
    return [str(history.labels[code]) for code in history.codes[last]], matrix, feature_names(signals, spec)


@dataclass
class _History:
    """The table's rows sorted by (machine, time), with each row's machine code and run start."""

    order: Array  # sorted position -> original row
    codes: Array  # machine code per sorted row
    labels: Array  # machine id per code
    start: Array  # sorted index of the first row of the row's machine
    hours: Array  # time per sorted row, in hours

    @classmethod
    def of(cls, table: pa.Table, machine_column: str, time_column: str) -> _History:
        machines = _numpy(table.column(machine_column)).astype(str)
        labels, codes = np.unique(machines, return_inverse=True)
        hours = _hours(table.column(time_column))
        order = np.lexsort((hours, codes))
        codes = codes[order]
        index = np.arange(len(codes))
        first = np.r_[True, codes[1:] != codes[:-1]] if len(codes) else np.zeros(0, bool)
        start = np.maximum.accumulate(np.where(first, index, 0)) if len(codes) else index
        return cls(order, codes, labels, start, hours[order])

    def features(self, targets: Array, table: pa.Table, signals: Sequence[str], spec: FeatureSpec) -> Array:
        """Features at the given sorted positions."""
        blocks = [self._signal_block(targets, _numpy(table.column(s)).astype(np.float64), spec) for s in signals]
        blocks.append(self._categorical_block(targets, table, spec))
        if spec.maintenance_times is not None:
            blocks.append(self._maintenance_block(targets, spec.maintenance_times)[:, None])
        return np.hstack(blocks).astype(np.float32) if blocks else np.zeros((len(targets), 0), np.float32)

    def _signal_block(self, targets: Array, values: Array, spec: FeatureSpec) -> Array:
        values = values[self.order]
        columns = []
        for window in spec.windows:
            parts = [
                _window_statistics(values, self.hours, self.start, targets[i : i + CHUNK_ROWS], window, spec.statistics)
                for i in range(0, len(targets), CHUNK_ROWS)
            ]
            columns.append(np.vstack(parts) if parts else np.zeros((0, len(spec.statistics))))
        return np.hstack(columns)

    def _categorical_block(self, targets: Array, table: pa.Table, spec: FeatureSpec) -> Array:
        # Unknown or missing categories encode as all zeros rather than failing the scoring run.
        blocks = [np.zeros((len(targets), 0))]
        for column, categories in spec.categorical.items():
            values = _numpy(table.column(column)).astype(object)[self.order[targets]]
            blocks.append(np.stack([values == category for category in categories], axis=1).astype(np.float64))
        return np.hstack(blocks)

    def _maintenance_block(self, targets: Array, maintenance: Mapping[str, Sequence[Any]]) -> Array:
        out = np.full(len(targets), np.nan)
        target_codes = self.codes[targets]
        for code, label in enumerate(self.labels):
            events = maintenance.get(str(label))
            rows = np.flatnonzero(target_codes == code)
            if not events or not len(rows):
                continue
            times = _hours(pa.array(list(events)))
            now = self.hours[targets[rows]]
            latest = np.searchsorted(times, now, side="right") - 1
            out[rows] = np.where(latest >= 0, now - times[np.maximum(latest, 0)], np.nan)
        return out


def _window_statistics(
    values: Array, hours: Array, start: Array, targets: Array, window: int, statistics: Sequence[str],
) -> Array:
    """Statistics of each target's trailing window; lag 0 is the target row itself."""
    lagged = targets[:, None] - np.arange(window)[None, :]
    inside = lagged >= start[targets][:, None]
    safe = np.where(inside, lagged, targets[:, None])
    y = np.where(inside, values[safe], np.nan)
    valid = ~np.isnan(y)
    count = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(valid, y, 0.0).sum(axis=1) / count
        centred = np.where(valid, y - mean[:, None], 0.0)
        found = count > 0
        stats = {
            "mean": mean,
            "std": np.sqrt((centred**2).sum(axis=1) / count),
            "min": np.where(found, np.where(valid, y, np.inf).min(axis=1), np.nan),
            "max": np.where(found, np.where(valid, y, -np.inf).max(axis=1), np.nan),
            "last": np.where(found, y[np.arange(len(targets)), valid.argmax(axis=1)], np.nan),
            "slope": _slope(hours[safe] - hours[targets][:, None], centred, valid, count),
        }
    stats["delta"] = stats["last"] - mean
    return np.stack([stats[name] for name in statistics], axis=1)


def _slope(x: Array, centred_y: Array, valid: Array, count: Array) -> Array:
    """Least-squares slope per hour over the valid points; NaN with fewer than two distinct times."""
    x_mean = np.where(valid, x, 0.0).sum(axis=1) / count
    centred_x = np.where(valid, x - x_mean[:, None], 0.0)
    spread = (centred_x**2).sum(axis=1)
    return np.where(spread > 0, (centred_x * centred_y).sum(axis=1) / np.where(spread > 0, spread, 1.0), np.nan)


def _numpy(column: pa.ChunkedArray | pa.Array) -> Array:
    return np.asarray(column.to_numpy(zero_copy_only=False))


def _hours(column: pa.ChunkedArray | pa.Array) -> Array:
    """Times as float hours: timestamps from the epoch, numbers taken as hours already."""
    if pa.types.is_timestamp(column.type):
        unit = column.type.unit
        return _numpy(column.cast(pa.timestamp(unit)).cast(pa.int64())).astype(np.float64) / _HOUR[unit]
    return _numpy(column).astype(np.float64)
