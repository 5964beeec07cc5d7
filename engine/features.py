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

from engine.metadata import MachineTypeLike, machine_type_schema
from engine.regimes import Regimes, fit_regimes

STATISTICS = ("mean", "std", "min", "max", "last", "slope", "delta")
MAINTENANCE_FEATURE = "time_since_maintenance_h"
RUN_AGE_FEATURE = "run_age_h"
# Rows per chunk of the window loops: a chunk's (rows, signals) scratch arrays stay in the CPU cache.
CHUNK_ROWS = 4_096
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
    # Signals scaled within their operating regime before any window (engine.regimes).
    regimes: Regimes | None = None
    # > 0: each row also gets its run's age (hours since the machine's first row in the table: a
    # run starts after a repair) and, per signal, the change of its longest-window mean from the
    # run's own baseline, the mean of its first `baseline_steps` rows (fewer while the run is young).
    baseline_steps: int = 0

    def __post_init__(self) -> None:
        unknown = sorted(set(self.statistics) - set(STATISTICS))
        if unknown:
            raise ValueError(f"unknown statistics {unknown}; known: {', '.join(STATISTICS)}")
        if not self.windows or min(self.windows) < 1:
            raise ValueError("windows must be positive row counts")

    @classmethod
    def for_document(cls, document: MachineTypeLike, **overrides: Any) -> FeatureSpec:
        """A spec whose categorical columns and category order come from the machine type."""
        categorical = {sensor.name: sensor.categories for sensor in machine_type_schema(document).categorical_sensors}
        return cls(**{"categorical": categorical, **overrides})


def document_signals(document: MachineTypeLike) -> list[str]:
    """The numeric sensors and derived signals of a machine type: the columns to window."""
    return [signal.name for signal in machine_type_schema(document).signals if signal.kind == "numeric"]


def feature_names(signals: Sequence[str], spec: FeatureSpec) -> list[str]:
    names = [f"{signal}__{stat}_{window}" for signal in signals for window in spec.windows for stat in spec.statistics]
    names += [f"{column}__{category}" for column, categories in spec.categorical.items() for category in categories]
    if spec.maintenance_times is not None:
        names.append(MAINTENANCE_FEATURE)
    if spec.baseline_steps:
        names += [RUN_AGE_FEATURE, *(f"{signal}__change" for signal in signals)]
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



def window_steps(
    table: pa.Table, *, signals: list[str], spec: FeatureSpec, rows: Array, steps: int,
    machine_column: str = "machine", time_column: str = "ts",
) -> tuple[Array, Array]:
    """The values the windows of the table's `rows` read, as the statistics see them (scaled within
    the regime where the spec says so): (rows, signals, steps) oldest first, NaN before the run's
    first row, and each step's hours (rows, steps). For explanations over time (engine.temporal)."""
    history = _History.of(table, machine_column, time_column)
    position = np.empty_like(history.order)
    position[history.order] = np.arange(len(history.order))
    targets = position[np.asarray(rows, np.int64)]
    index = targets[:, None] + np.arange(-(steps - 1), 1)[None, :]
    inside = index >= history.start[targets][:, None]
    take = np.where(inside, index, 0)
    values = _signal_values(table, signals, spec.regimes)[history.order]
    read = np.where(inside[:, :, None], values[take], np.nan)
    return read.transpose(0, 2, 1), np.where(inside, history.hours[take], np.nan)


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
        names = feature_names(signals, spec)
        out = np.empty((len(targets), len(names)), np.float32)
        width = len(signals) * len(spec.windows) * len(spec.statistics)
        values = _signal_values(table, signals, spec.regimes)[self.order] if signals else np.zeros((len(self.order), 0))
        if len(targets) and signals:
            layout = _Layout.of(self, targets, max(spec.windows))
            padded = _Padded.of(layout.spread(values, np.nan), layout.spread(self.hours, 0.0))
            statistics = np.empty((len(targets), len(signals), len(spec.windows), len(spec.statistics)), np.float32)
            for index, window in enumerate(spec.windows):
                _window_statistics(padded, window, spec.statistics, layout.slots[layout.targets],
                                   statistics[:, :, index])
            out[:, :width] = statistics.reshape(len(targets), width)
        categorical = self._categorical_block(targets, table, spec)
        out[:, width : width + categorical.shape[1]] = categorical
        if spec.maintenance_times is not None:
            column = width + categorical.shape[1]
            out[:, column] = self._maintenance_block(targets, spec.maintenance_times)
        if spec.baseline_steps:
            out[:, -(len(signals) + 1):] = self._run_block(targets, values, spec.baseline_steps,
                                                           out[:, : width].reshape(len(targets), len(signals),
                                                                                   len(spec.windows), -1),
                                                           spec)
        # Huge but finite inputs (inline readings take any double) can give statistics beyond
        # float32 or a double: missing, which every model handles, rather than inf, which XGBoost refuses.
        out[~np.isfinite(out)] = np.nan
        return out

    def _categorical_block(self, targets: Array, table: pa.Table, spec: FeatureSpec) -> Array:
        # Unknown or missing categories encode as all zeros rather than failing the scoring run.
        blocks = [np.zeros((len(targets), 0))]
        for column, categories in spec.categorical.items():
            values = _numpy(table.column(column)).astype(object)[self.order[targets]]
            blocks.append(np.stack([values == category for category in categories], axis=1).astype(np.float64))
        return np.hstack(blocks)

    def _run_block(self, targets: Array, values: Array, baseline_steps: int, statistics: Array,
                   spec: FeatureSpec) -> Array:
        """Run age and each signal's change from the run's baseline, at the targets. The baseline
        is causal: a row in the run's first `baseline_steps` rows averages the rows up to itself."""
        start = self.start[targets]
        age = self.hours[targets] - self.hours[start]
        valid = ~np.isnan(values)
        total = np.cumsum(np.where(valid, values, 0.0), axis=0)
        count = np.cumsum(valid, axis=0)
        end = np.minimum(targets, start + baseline_steps - 1)
        before = start - 1
        base_total = total[end] - np.where(before[:, None] >= 0, total[np.maximum(before, 0)], 0.0)
        base_count = count[end] - np.where(before[:, None] >= 0, count[np.maximum(before, 0)], 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            baseline = base_total / base_count
        longest = int(np.argmax(spec.windows))
        if "mean" in spec.statistics and len(targets):
            recent = statistics[:, :, longest, spec.statistics.index("mean")]
        else:
            recent = values[targets]
        return np.column_stack([age, recent - baseline])

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


@dataclass
class _Layout:
    """The sorted rows the targets' windows read, each run of consecutive rows of one machine
    preceded by `pad` empty (NaN) rows. A trailing window of at most `pad` rows over this array
    then never reaches another machine's rows, so every window is a plain slice: no per-row
    bounds, and all machines and signals are computed at once."""

    rows: Array  # sorted positions laid out, in order
    slots: Array  # index in the padded array of each laid-out row
    targets: Array  # index into `rows` of each target
    length: int  # rows of the padded array

    @classmethod
    def of(cls, history: _History, targets: Array, pad: int) -> _Layout:
        rows = _rows_read(history.start, targets, pad)
        # A new run starts at a machine's first row or after rows no window reads (serving).
        run_start = np.r_[True, (np.diff(rows) != 1) | (history.start[rows[1:]] != history.start[rows[:-1]])]
        slots = np.arange(len(rows)) + pad * np.cumsum(run_start)
        return cls(rows, slots, np.searchsorted(rows, targets), int(slots[-1]) + 1)

    def spread(self, values: Array, gap: float) -> Array:
        """`values` per sorted row -> the padded array, `gap` in the empty rows."""
        out = np.full((self.length, *values.shape[1:]), gap)
        out[self.slots] = values[self.rows]
        return out


def _rows_read(start: Array, targets: Array, pad: int) -> Array:
    """The sorted rows inside some target's window: its machine's rows up to `pad` - 1 steps back."""
    if len(targets) == len(start):
        return np.arange(len(start))  # every row is a target (training, batch scoring)
    first = np.maximum(start[targets], targets - (pad - 1))
    marks = np.zeros(len(start) + 1, np.int64)
    np.add.at(marks, first, 1)
    np.add.at(marks, targets + 1, -1)
    return np.flatnonzero(np.cumsum(marks[:-1]) > 0)


@dataclass
class _Padded:
    """The padded (rows, signals) values and what every window's statistics start from."""

    values: Array  # NaN = missing
    weights: Array  # 1.0 where valid, else 0.0
    zeroed: Array  # values with missing as 0.0
    hours: Array  # (rows,), 0 in the empty rows
    latest: Array  # index of the latest valid row at or before each row, very negative if none

    @classmethod
    def of(cls, values: Array, hours: Array) -> _Padded:
        valid = ~np.isnan(values)
        index = np.arange(len(values))[:, None]
        latest = np.maximum.accumulate(np.where(valid, index, -len(values) - 1), axis=0)
        return cls(values, valid.astype(np.float64), np.where(valid, values, 0.0), hours, latest)

    def last(self, lo: int, hi: int, window: int) -> Array:
        """The latest valid value within each window ending at lo..hi-1, NaN when there is none."""
        latest = self.latest[lo:hi]
        found = np.arange(lo, hi)[:, None] - latest < window
        picked = np.take_along_axis(self.values, np.maximum(latest, 0), axis=0)
        return np.where(found, picked, np.nan)


def _window_statistics(padded: _Padded, window: int, statistics: Sequence[str], slots: Array, out: Array) -> None:
    """Fill `out` (targets, signals, statistics) with one window's statistics at the targets'
    padded `slots` (increasing). Lag 0 is the row itself. Chunks of rows keep the scratch arrays
    in the CPU cache."""
    for lo in range(window - 1, len(padded.values), CHUNK_ROWS):
        hi = min(lo + CHUNK_ROWS, len(padded.values))
        first, stop = np.searchsorted(slots, [lo, hi])
        if first == stop:
            continue
        stats = _Chunk(padded, lo, hi).statistics(window)
        stats["last"] = padded.last(lo, hi, window)
        stats["delta"] = stats["last"] - stats["mean"]
        out[first:stop] = np.stack([stats[name] for name in statistics], axis=2)[slots[first:stop] - lo]


@dataclass
class _Chunk:
    """Windows ending at padded rows lo..hi-1. Each lag is a slice of the padded arrays, and the
    sums run over the lags of each window alone, in the same order wherever the window sits, so
    a row's features do not depend on how much history precedes it (serving equals training)."""

    padded: _Padded
    lo: int
    hi: int

    def lag(self, array: Array, k: int) -> Array:
        return array[self.lo - k : self.hi - k]

    def offsets(self, k: int) -> Array:
        """Hours from each window's own row back to lag k: small numbers, whatever the epoch."""
        return (self.lag(self.padded.hours, k) - self.lag(self.padded.hours, 0))[:, None]

    def statistics(self, window: int) -> dict[str, Array]:
        values, weights, zeroed = self.padded.values, self.padded.weights, self.padded.zeroed
        count, total = self.lag(weights, 0).copy(), self.lag(zeroed, 0).copy()
        low, high = self.lag(values, 0).copy(), self.lag(values, 0).copy()
        x_total = np.zeros_like(total)  # lag 0 is at offset 0
        for k in range(1, window):
            count += self.lag(weights, k)
            total += self.lag(zeroed, k)
            x_total += self.lag(weights, k) * self.offsets(k)
            np.fmin(low, self.lag(values, k), out=low)
            np.fmax(high, self.lag(values, k), out=high)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = total / count
            spread_y, slope = self._centred(window, mean, x_total / count)
            return {"mean": mean, "std": np.sqrt(spread_y / count), "min": low, "max": high, "slope": slope}

    def _centred(self, window: int, mean: Array, x_mean: Array) -> tuple[Array, Array]:
        """The second pass, on deviations from the window's means as the textbook two-pass formula
        has it (no cancellation): the sum of squared deviations of y and the least-squares slope
        of y on time (NaN with fewer than two distinct times)."""
        syy, sxy, sxx = np.zeros_like(mean), np.zeros_like(mean), np.zeros_like(mean)
        y, x = np.empty_like(mean), np.empty_like(mean)
        for k in range(window):
            weights = self.lag(self.padded.weights, k)
            np.subtract(self.lag(self.padded.zeroed, k), mean, out=y)
            y *= weights
            np.subtract(self.offsets(k), x_mean, out=x)
            x *= weights
            syy += y * y
            sxy += x * y
            sxx += x * x
        slope = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), np.nan)
        return syy, slope


def _signal_values(table: pa.Table, signals: Sequence[str], regimes: Regimes | None) -> Array:
    """(rows, signals) in table order, scaled within each row's operating regime when given."""
    columns = {s: _numpy(table.column(s)).astype(np.float64) for s in signals}
    if regimes is not None:
        columns = regimes.normalise({**columns, **{s: _numpy(table.column(s)).astype(np.float64)
                                                   for s in regimes.settings if s not in columns}})
    return np.column_stack([columns[s] for s in signals])


def _numpy(column: pa.ChunkedArray | pa.Array) -> Array:
    return np.asarray(column.to_numpy(zero_copy_only=False))


def _hours(column: pa.ChunkedArray | pa.Array) -> Array:
    """Times as float hours: timestamps from the epoch, numbers taken as hours already."""
    if pa.types.is_timestamp(column.type):
        unit = column.type.unit
        return _numpy(column.cast(pa.timestamp(unit)).cast(pa.int64())).astype(np.float64) / _HOUR[unit]
    return _numpy(column).astype(np.float64)


def data_spec(table: pa.Table, document: MachineTypeLike, *, rows: Array | None = None,
              seed: int = 0) -> FeatureSpec:
    """A spec fitted to a labelled table of runs (real data) rather than fixed: window lengths
    from the runs' own lengths, operating regimes detected in the signals (engine.regimes),
    and run age and change-from-baseline features. `rows`: the rows to fit on (the training
    runs), so nothing about held-out runs shapes the features."""
    signals = document_signals(document)
    rows = np.ones(table.num_rows, bool) if rows is None else rows
    machines = _numpy(table.column("machine")).astype(str)[rows]
    _, counts = np.unique(machines, return_counts=True)
    windows = run_windows(float(np.median(counts)) if len(counts) else 0.0)
    columns = {s: _numpy(table.column(s)).astype(np.float64)[rows] for s in signals}
    regimes = fit_regimes(columns, signals, seed=seed) if signals and rows.any() else None
    return FeatureSpec.for_document(document, windows=windows, statistics=DATA_STATISTICS,
                                    regimes=regimes if regimes is not None and regimes.settings else None,
                                    baseline_steps=windows[1])


DATA_STATISTICS = ("mean", "std", "slope")


def run_windows(median_steps: float) -> tuple[int, int, int]:
    """Short, middle and long windows, at 1/40, 1/10 and 1/4 of a typical run (in steps): the
    latest level, the recent trend, and the slow drift of wear. Never below 2, 3 and 4 steps."""
    short = max(2, round(median_steps / 40))
    middle = max(short + 1, round(median_steps / 10))
    return short, middle, max(middle + 1, round(median_steps / 4))
