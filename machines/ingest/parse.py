"""Vectorised conversion of one record batch: times, numbers, and which rows to reject.

No per-row Python: every check is an Arrow compute kernel over the whole batch, giving a
boolean mask per problem. Only the (bounded) rejected-row details touch single values.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from machines.ingest.mapping import ColumnMapping, TimeFormat
from machines.observations import array_column, summary_slots

NUMBER_RE = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$|^\s*[-+]?(inf|infinity|nan)\s*$"
ISO_RE = (r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
          r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,9})?)?)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?$")
OFFSET_RE = r"(Z|[+-]\d\d:?\d\d)$"
THOUSANDS_RE = r"^\s*[-+]?\d{1,3}(\.\d{3})+(,\d*)?\s*$"  # 1.234 or 1.234.567,5 with a decimal comma
US_PER_S = 1_000_000
# Times outside these years are refused: usually epoch milliseconds read as seconds, or a
# cycle file mapped as epoch. (Cycles land in 1970.)
TS_MIN_US = -2_208_988_800 * US_PER_S  # 1900-01-01
TS_MAX_US = 7_258_118_400 * US_PER_S  # 2200-01-01


@dataclass
class Rejection:
    """Rows refused for one reason: `mask` over the batch, and how to describe one of them."""

    code: str
    mask: np.ndarray
    describe: Callable[[int], str]


@dataclass
class ParsedBatch:
    """One batch, converted. `ok` selects the rows to store; rejected rows have reasons."""

    start: int  # index of the batch's first row in the file
    ts_us: pa.Array  # int64 microseconds since 1970-01-01 UTC, null where unparseable
    values: dict[str, pa.Array]  # sensor name -> float32
    rejections: list[Rejection] = field(default_factory=list)
    machine_ids: pa.Array | None = None  # int64, filled by the machine resolver
    # Filled by the reader (TableSource.lines_attach): the file line of the first data row, the
    # lines of rows it dropped so far (each minus the number dropped before it), and the rows it
    # dropped while reading this batch, as (line, reason).
    first_line: int = 0
    skipped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    dropped: list[tuple[int, str]] = field(default_factory=list)

    def line(self, index: int) -> int:
        """The file line of the batch's row `index`: its place plus the dropped rows before it."""
        place = self.first_line + self.start + index
        return place + int(np.searchsorted(self.skipped, place, side="right"))

    def rejections_exclusive(self) -> Iterator[tuple[Rejection, np.ndarray]]:
        """Each rejection with the rows it alone accounts for: a row counts once, under its
        first reason (the counts, the details and the rejected-rows file all agree on this)."""
        taken = np.zeros(len(self.ts_us), dtype=bool)
        for rejection in self.rejections:
            rows = rejection.mask & ~taken
            if rows.any():
                taken |= rows
                yield rejection, rows

    def ok(self) -> np.ndarray:
        keep = np.ones(len(self.ts_us), dtype=bool)
        for rejection in self.rejections:
            keep &= ~rejection.mask
        return keep


def _mask(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _text(array: pa.Array) -> pa.Array:
    return array if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) else pc.cast(array,
                                                                                                       pa.string())


def numbers(array: pa.Array, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """`array` as numbers of type `target` and the mask of present-but-unparseable cells
    (missing cells stay null and are not bad)."""
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return pc.cast(array, target), np.zeros(len(array), dtype=bool)
    try:
        return pc.cast(array, target), np.zeros(len(array), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass  # some cell is not a number: find which, vectorised
    good = pc.match_substring_regex(array, NUMBER_RE, ignore_case=True)
    bad = _mask(pc.and_(pc.is_valid(array), pc.invert(good)))
    cleaned = pc.utf8_trim_whitespace(pc.if_else(good, array, pa.scalar(None, pa.string())))
    try:
        return pc.cast(cleaned, target), bad
    except pa.ArrowInvalid:  # a number too large for the type: refuse the batch's present cells
        return pa.nulls(len(array), target), _mask(pc.is_valid(array))


def times_us(array: pa.Array, time_format: TimeFormat, *, time_zone: str | None = None) -> pa.Array:
    """Microseconds since 1970-01-01 UTC (int64), null where missing, unparseable or outside
    1900-2200. ISO times without an offset are local times of `time_zone` (None: UTC)."""
    if time_format == "iso":
        result = _iso_us(array, time_zone)
    else:
        seconds, _ = numbers(array, pa.float64())
        scale = 1000 if time_format == "epoch_ms" else US_PER_S
        usable = pc.less(pc.abs(seconds), 1e15 if scale == 1000 else 1e12)  # int64 microseconds cannot overflow
        if time_format == "cycle":  # "12" and "12.0" are cycle 12; "12.5" is not, nor is -1 (1969)
            usable = pc.and_(usable, pc.and_(pc.equal(seconds, pc.floor(seconds)), pc.greater_equal(seconds, 0)))
        seconds = pc.if_else(usable, seconds, pa.scalar(None, pa.float64()))
        result = pc.cast(pc.round(pc.multiply(seconds, scale)), pa.int64())
    sane = pc.and_(pc.greater_equal(result, TS_MIN_US), pc.less(result, TS_MAX_US))
    return pc.if_else(sane, result, pa.scalar(None, pa.int64()))


def _iso_us(array: pa.Array, time_zone: str | None) -> pa.Array:
    if pa.types.is_timestamp(array.type):
        stamps = pc.cast(array, pa.timestamp("us", array.type.tz))
        return pc.cast(_local(stamps, time_zone) if array.type.tz is None else stamps, pa.int64())
    text = _text(array)
    try:
        return _iso_cast(text, time_zone)
    except pa.ArrowInvalid:
        pass  # some cell is not ISO 8601: null those the grammar refuses, then cast again
    text = pc.if_else(pc.match_substring_regex(text, ISO_RE), text, pa.scalar(None, pa.string()))
    try:
        return _iso_cast(text, time_zone)
    except pa.ArrowInvalid:
        return _iso_each(text, time_zone)


def _local(naive: pa.Array, time_zone: str | None) -> pa.Array:
    """Naive timestamps as the local times of `time_zone` (None: UTC, as they are). At the autumn
    change a local hour happens twice: its times are read as the first (summer) one, so the
    repeated hour's readings are duplicates of it. A time the spring change skipped (02:30 in
    Europe/Berlin on the last Sunday of March) exists nowhere: null, so the row is rejected."""
    if not time_zone:
        return naive
    before = pc.assume_timezone(naive, timezone=time_zone, ambiguous="earliest", nonexistent="earliest")
    after = pc.assume_timezone(naive, timezone=time_zone, ambiguous="earliest", nonexistent="latest")
    return pc.if_else(pc.equal(before, after), after, pa.scalar(None, after.type))


def _iso_cast(text: pa.Array, time_zone: str | None = None) -> pa.Array:
    """Times with an offset are converted to UTC; times without one are local times of
    `time_zone` (None: taken as UTC)."""
    has_offset = pc.match_substring_regex(text, OFFSET_RE)
    offsets = pc.sum(pc.cast(has_offset, pa.int64())).as_py() or 0
    present = len(text) - text.null_count
    if not present:
        return pa.nulls(len(text), pa.int64())
    none = pa.scalar(None, pa.string())
    naive = None if offsets == present else _local(pc.cast(pc.if_else(has_offset, none, text), pa.timestamp("us")),
                                                   time_zone)
    aware = None if offsets == 0 else pc.cast(pc.if_else(has_offset, text, none), pa.timestamp("us", "UTC"))
    if aware is None:
        return pc.cast(naive, pa.int64())
    if naive is None:
        return pc.cast(aware, pa.int64())
    return pc.if_else(has_offset, pc.cast(aware, pa.int64()), pc.cast(naive, pa.int64()))


def _iso_each(text: pa.Array, time_zone: str | None) -> pa.Array:
    """Last resort for a batch holding a time the grammar accepts but the calendar refuses
    (2024-02-30): one cast per cell. Only such batches pay for it."""
    converted = []
    for value in text.to_pylist():
        try:
            converted.append(_iso_cast(pa.array([value], pa.string()), time_zone)[0].as_py())
        except pa.ArrowInvalid:
            converted.append(None)
    return pa.array(converted, pa.int64())


def category_codes(array: pa.Array, categories: Sequence[str]) -> tuple[pa.Array, np.ndarray]:
    """A categorical column as the float32 index of each value in `categories` (how the reading
    store keeps it), and the mask of present values that are not a known category."""
    text = pc.utf8_trim_whitespace(_text(array))
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    index = pc.index_in(text, value_set=pa.array(list(categories), pa.string()))
    bad = _mask(pc.and_(pc.is_valid(text), pc.is_null(index)))
    return pc.cast(index, pa.float32()), bad


def decimal_point(array: pa.Array, decimal_mark: str) -> pa.Array:
    """Text cells written with a decimal comma as the point numbers convert from: 60,5 -> 60.5,
    1.234,5 -> 1234.5 (points grouping thousands). Any other point (1.5) leaves the cell no number:
    in a file of decimal commas it is more likely a thousands mark gone wrong than a decimal."""
    if decimal_mark == "." or not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    if pc.any(pc.match_substring(array, ".")).as_py():  # most such files have no point at all
        grouped = pc.match_substring_regex(array, THOUSANDS_RE)
        array = pc.if_else(grouped, pc.replace_substring(array, ".", ""), array)
        array = pc.replace_substring(array, ".", "#")
    return pc.replace_substring(array, ",", ".")


def batch_parse(batch: pa.RecordBatch, *, mapping: ColumnMapping, start: int,
                categories: Mapping[str, Sequence[str]] | None = None, decimal_mark: str = ".",
                arrays: Collection[str] = ()) -> ParsedBatch:
    """Times and sensor values of one batch, with the rows refused for a bad time or value.
    Categorical sensors (named in `categories`) become category indexes; array sensors (named in
    `arrays`) their per-row summaries (machines/observations.py); numbers are read with
    `decimal_mark`. Machines are resolved separately (they need the database)."""
    raw_time = batch.column(mapping.time_column)
    numeric_time = decimal_point(raw_time, decimal_mark) if mapping.time_format != "iso" else raw_time
    ts = times_us(numeric_time, mapping.time_format, time_zone=mapping.time_zone)
    parsed = ParsedBatch(start=start, ts_us=ts, values={})
    if mapping.time_format == "cycle":
        negative = _mask(pc.less(numbers(numeric_time, pa.float64())[0], 0))
        if negative.any():
            parsed.rejections.append(Rejection("negative_cycle", negative,
                                               _negative_cycle_problem(raw_time, mapping.time_column)))
    parsed.rejections.append(Rejection("bad_time", _mask(pc.is_null(ts)),
                                       _time_problem(raw_time, mapping.time_column, mapping.time_format,
                                                     time_zone=mapping.time_zone)))
    for header, sensor in mapping.sensors.items():
        raw = batch.column(header)
        if sensor in arrays:
            _array_parse(parsed, raw, sensor=sensor, header=header, decimal_mark=decimal_mark)
            continue
        if categories and sensor in categories:
            values, bad = category_codes(raw, categories[sensor])
            if bad.any():
                parsed.rejections.append(Rejection("unknown_category", bad,
                                                   _category_problem(raw, header, categories[sensor])))
        else:
            values, bad = numbers(decimal_point(raw, decimal_mark), pa.float32())
            if bad.any():
                parsed.rejections.append(Rejection("non_numeric", bad, _value_problem(raw, header)))
        parsed.values[sensor] = values
    return parsed


def _array_parse(parsed: ParsedBatch, raw: pa.Array, *, sensor: str, header: str, decimal_mark: str) -> None:
    """An array sensor's summaries, one slot each; under the sensor's own name, its mean (what the
    quality report describes)."""
    column = array_column(raw, sensor=sensor, header=header, decimal_mark=decimal_mark)
    if column.bad.any():
        parsed.rejections.append(Rejection("non_numeric", column.bad, column.describe))
    parsed.values.update(column.summaries)
    parsed.values[sensor] = column.summaries[summary_slots(sensor)[0]]


def _time_problem(raw: pa.Array, column: str, time_format: str, *, time_zone: str | None) -> Callable[[int], str]:
    def describe(index: int) -> str:
        value = raw[index].as_py()
        if value is None:
            return f"missing time in column '{column}'"
        if time_zone and time_format == "iso" and _skipped(raw[index:index + 1]):
            return (f"time {_cell(raw, index)!r} in column '{column}' does not exist in {time_zone} "
                    "(the clocks moved forward over it)")
        return f"unparseable time {_cell(raw, index)!r} in column '{column}' (format {time_format}, years 1900-2199)"

    return describe


def _skipped(cell: pa.Array) -> bool:
    """A naive time that is valid read as UTC: null in a local zone only if the clocks skipped it."""
    try:
        return _iso_us(cell, None)[0].as_py() is not None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


def _negative_cycle_problem(raw: pa.Array, column: str) -> Callable[[int], str]:
    return lambda index: (f"negative cycle {_cell(raw, index)!r} in column '{column}' "
                          "(cycles count up from 0)")


def _value_problem(raw: pa.Array, column: str) -> Callable[[int], str]:
    return lambda index: f"non-numeric value {_cell(raw, index)!r} in column '{column}'"


def _cell(raw: pa.Array, index: int, *, longest: int = 60) -> str:
    """A cell for a message, cut short: a binary or wrongly split file has cells of any size."""
    text = str(raw[index].as_py())
    return text if len(text) <= longest else text[:longest - 1] + "…"


def _category_problem(raw: pa.Array, column: str, categories: Sequence[str]) -> Callable[[int], str]:
    known = ", ".join(categories)
    return lambda index: f"unknown category {_cell(raw, index)!r} in column '{column}' (known: {known})"
