"""Independent-observation data: array cells summarised per row, and the labels of each row.

A machine type with `"data_kind": "observations"` (docs/metadata.md) holds one labelled row per
process run, inspection or test cycle. Two things set its uploads apart from a time series:

- an **array sensor** (`"values": "array"`) has many numbers in one cell, separated by spaces or
  semicolons (`"2.1 2.3 2.2 ..."`, one test cycle's curve). The cell is stored as the row's
  summaries, one reading slot each (`fs1__mean`, `fs1__slope`, `fs1__seg3`, ...): the store keeps
  one row of scalars per observation, and models read the summaries as features;
- **label columns** map to the type's `observation_labels`; each value must be one of the label's
  classes (compared as text, or as numbers: `100.0` is class `100`), else the upload is refused
  whole. An empty cell is an unlabelled row (to be scored, say).

No Django here: ingestion's parse step and the scoring of files both use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from engine.array_summaries import STATISTICS, array_summaries, summary_slots
from pdm_saas.errors import InvalidInput

SEPARATORS = r"[\s;]+"


@dataclass
class ArrayColumn:
    """One array column of a batch, summarised: `summaries[slot]` (float32, null for an empty
    cell or a refused row), and the rows refused with why."""

    summaries: dict[str, pa.Array]
    bad: np.ndarray  # a cell that is not a list of finite numbers
    describe: Callable[[int], str]


def array_column(raw: pa.Array, *, sensor: str, header: str, decimal_mark: str = ".") -> ArrayColumn:
    """Parse a column whose cells hold numbers separated by spaces or semicolons. Rows of equal
    length (the usual case: a fixed sampling rate) are summarised as one matrix; others one by one."""
    text = raw if pa.types.is_string(raw.type) or pa.types.is_large_string(raw.type) else pc.cast(raw, pa.string())
    text = pc.utf8_trim(text, characters=" \t\r\n;")
    if decimal_mark == ",":
        text = pc.replace_substring(text, ",", ".")
    parts = pc.split_pattern_regex(text, SEPARATORS)
    lengths = np.asarray(pc.fill_null(pc.list_value_length(parts), 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    flat = pc.list_flatten(parts)
    values = np.full(len(flat), np.nan)
    bad_values = np.zeros(len(flat), dtype=bool)
    if len(flat):
        good = pc.fill_null(pc.match_substring_regex(flat, r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"), False)
        bad_values = ~np.asarray(good.to_numpy(zero_copy_only=False), dtype=bool)
        numbers = pc.cast(pc.if_else(good, flat, pa.scalar("nan")), pa.float64())
        values = np.asarray(numbers.to_numpy(zero_copy_only=False), dtype=np.float64)
        bad_values |= ~np.isfinite(values)
    empty = np.asarray(pc.fill_null(pc.equal(text, ""), True).to_numpy(zero_copy_only=False), dtype=bool)
    row_of = np.repeat(np.arange(len(raw)), lengths)  # an empty cell splits into one empty part
    bad_values &= ~empty[row_of]
    bad = np.bincount(row_of[bad_values], minlength=len(raw)).astype(bool)
    table = _summaries(values, lengths, usable=~bad & ~empty)
    summaries = {slot: pa.array(table[:, index].astype(np.float32), mask=np.isnan(table[:, index]))
                 for index, slot in enumerate(summary_slots(sensor))}
    return ArrayColumn(summaries, bad, lambda index: _bad_cell(raw, index, header))


def _summaries(values: np.ndarray, lengths: np.ndarray, *, usable: np.ndarray) -> np.ndarray:
    out = np.full((len(lengths), len(STATISTICS)), np.nan)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    rows = np.flatnonzero(usable)
    if not len(rows):
        return out
    if np.all(lengths[rows] == lengths[rows[0]]):
        index = starts[rows][:, None] + np.arange(lengths[rows[0]])
        out[rows] = array_summaries(values[index])
        return out
    for row in rows:  # ragged arrays: rare, and still one numpy call per row
        out[row] = array_summaries(values[starts[row]:starts[row] + lengths[row]][None, :])[0]
    return out


def _bad_cell(raw: pa.Array, index: int, header: str) -> str:
    text = str(raw[index].as_py())
    shown = text if len(text) <= 60 else text[:59] + "…"
    return (f"column '{header}' must hold numbers separated by spaces or semicolons; {shown!r} has a value that "
            "is not a finite number")


# --- labels -----------------------------------------------------------------------------------


def class_lookup(classes: Sequence[str]) -> Callable[[str], str | None]:
    """A value's class: by its text (ignoring case and surrounding spaces), else by its number."""
    by_text = {value.strip().casefold(): value for value in classes}
    by_number = {number: value for value in classes if (number := _number(value)) is not None}

    def find(value: str) -> str | None:
        key = value.strip().casefold()
        if key in by_text:
            return by_text[key]
        number = _number(key)
        return by_number.get(number) if number is not None else None

    return find


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@dataclass
class LabelRows:
    """The labelled rows of one upload: machine id, time (µs) and class, per label."""

    machine_ids: list[int]
    ts_us: list[int]
    values: list[str]


class ObservationLabelCollector:
    """Reads the label columns while the rows stream past; an unknown value stops the upload."""

    def __init__(self, *, columns: Mapping[str, str], labels: Sequence[Mapping[str, Any]]) -> None:
        classes = {str(item["name"]): [str(c) for c in item["classes"]] for item in labels}
        self.columns = dict(columns)  # file header -> label name
        self.classes = classes
        self.lookups = {name: class_lookup(values) for name, values in classes.items()}
        self.rows: dict[str, LabelRows] = {name: LabelRows([], [], []) for name in self.columns.values()}

    def add(self, batch: pa.RecordBatch, ok: np.ndarray, machine_ids: np.ndarray, ts_us: np.ndarray,
            line: Callable[[int], int]) -> None:
        for header, name in self.columns.items():
            cells = pc.fill_null(pc.utf8_trim_whitespace(pc.cast(batch.column(header), pa.string())), "")
            text = np.asarray(cells.to_numpy(zero_copy_only=False), dtype=object)
            found = {value: self.lookups[name](value) for value in set(text.tolist()) if value}
            unknown = [index for index in np.flatnonzero(ok) if text[index] and found[text[index]] is None]
            if unknown:
                index = int(unknown[0])
                raise InvalidInput(
                    f"Line {line(index)}: {str(text[index])[:40]!r} in column '{header}' is not a class of label "
                    f"'{name}' (its classes: {', '.join(self.classes[name])}). Nothing was stored.",
                    code="unknown_label", details={"line": line(index), "column": header})
            rows = self.rows[name]
            for index in np.flatnonzero(ok):
                if text[index]:
                    rows.machine_ids.append(int(machine_ids[index]))
                    rows.ts_us.append(int(ts_us[index]))
                    rows.values.append(str(found[text[index]]))
