"""Mappings that would file readings under the wrong machine: found before the upload is
created, and refused until the person fixes the mapping or confirms it (docs/ingest.md,
"A mapping that does not fit the file").

Two doubts, each naming its column:
- a file mapped to one machine (`machine_name`) with an ignored column that looks like machine
  identifiers: its values include names of other machines of the organization, or its header
  reads like one (machine, asset, unit, equipment, id...), or it is a text column with a few
  values (2 to 20). Ignoring it would put every row, whichever
  machine it is from, under the one machine. With a machine column mapped, rows are filed by
  that column, so an ignored column cannot misfile them and is not doubted.
- a saved mapping used on a file whose header is not the one it was saved from: columns it
  names are missing, or the file has columns it does not cover.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from machines.ingest.mapping import ColumnMapping
from machines.ingest.reader import TableSource
from machines.models import Machine, MappingPreset
from pdm_saas.errors import InvalidInput

SAMPLE_ROWS = 50_000  # rows read for the values of ignored columns: bounds the check on any file
FEW_VALUES = 20  # a text column with at most this many distinct values is read as identifiers
DISTINCT_CAP = 1000  # distinct values kept per column; past it, a column is no list of machines
MACHINE_WORDS = {"machine", "asset", "unit", "equipment", "id", "tag", "device"}
# What a mapping says about the file's columns; options (machine name, time format, reading) are
# not: a saved mapping with other options still reads the file's columns the same way.
ROLE_FIELDS = ("time_column", "machine_column", "sensors", "failure_column", "failure_mode_column",
               "failure_mode_flags", "labels")
FLAG_VALUES = {"0", "1", "0.0", "1.0", "true", "false"}
NUMBER_RE = re.compile(r"^\s*[-+]?(\d+[.,]?\d*|[.,]\d+)([eE][-+]?\d+)?\s*$")


@dataclass(frozen=True)
class Doubt:
    column: str
    message: str


class MappingDoubtful(InvalidInput):
    """The mapping may misfile readings: refused (400) unless the request confirms it."""

    code = "mapping_doubtful"


def mapping_doubts_refuse(*, mapping: ColumnMapping, table: TableSource, preset: MappingPreset | None) -> None:
    """Raise MappingDoubtful naming the doubtful columns, if any. Reads up to SAMPLE_ROWS rows
    of the ignored columns (the table must not have been read yet)."""
    doubts = mapping_doubts(mapping=mapping, table=table, preset=preset)
    if not doubts:
        return
    message = doubts[0].message + (f" (and {len(doubts) - 1} more doubts)" if len(doubts) > 1 else "")
    raise MappingDoubtful(
        f"{message} Fix the mapping, or confirm it (confirm_mapping) if the file is right as mapped.",
        details={"columns": sorted({doubt.column for doubt in doubts}),
                 "problems": [doubt.message for doubt in doubts]})


def mapping_doubts(*, mapping: ColumnMapping, table: TableSource, preset: MappingPreset | None) -> list[Doubt]:
    doubts = preset_misfits(mapping=mapping, columns=table.columns, preset=preset) if preset else []
    if mapping.machine_name and not mapping.machine_column:
        ignored = [column for column in table.columns if column not in set(mapping.file_columns())]
        values, rows = _distinct_values(table, ignored)
        doubts += machine_like_columns(ignored=ignored, values=values, rows=rows,
                                       machine_name=mapping.machine_name.strip())
    return doubts


def preset_misfits(*, mapping: ColumnMapping, columns: Sequence[str], preset: MappingPreset) -> list[Doubt]:
    """The saved mapping's header against this file's, when `mapping` reads columns as the saved
    one does (a person who changed the columns' roles has looked at them)."""
    saved = ColumnMapping.from_dict(preset.mapping)
    if _roles(saved) != _roles(mapping):
        return []
    header = list(preset.header) or saved.file_columns()  # saved before headers were kept
    missing = [column for column in header if column not in set(columns)]
    new = [column for column in columns if column not in set(header)]
    doubts = [Doubt(column, f"The saved mapping '{preset.name}' was made for a file with a column '{column}'; "
                            "this file has none.") for column in missing]
    doubts += [Doubt(column, f"This file has a column '{column}' the saved mapping '{preset.name}' does not "
                             "cover: it would be ignored.") for column in new]
    return doubts


def _roles(mapping: ColumnMapping) -> dict[str, Any]:
    data = mapping.as_dict()
    return {name: data.get(name) or None for name in ROLE_FIELDS}


def machine_like_columns(*, ignored: Sequence[str], values: dict[str, set[str] | None], rows: int,
                         machine_name: str) -> list[Doubt]:
    """Ignored columns that look like machine identifiers, in a file mapped to `machine_name`.
    `values`: each column's distinct values in a sample of `rows` rows, None when more than
    DISTINCT_CAP."""
    seen = [value for found in values.values() if found for value in found]
    known = set(Machine.objects.filter(name__in=seen).values_list("name", flat=True)) if seen else set()
    doubts = []
    for column in ignored:
        found = values.get(column)
        if found is not None and found <= {machine_name}:
            continue  # every row names the machine the file is mapped to: consistent
        reason = _machine_like(column, found, known - {machine_name}, rows=rows)
        if reason:
            doubts.append(Doubt(column, f"The column '{column}' is ignored but looks like machine identifiers "
                                        f"({reason}); every row would be filed under {machine_name}. Map it as "
                                        "the machine column if it names the machines."))
    return doubts


def _machine_like(column: str, found: set[str] | None, known: set[str], *, rows: int) -> str:
    """Why the column looks like machine identifiers ("" when it does not). A name or a few
    values count only when values repeat: a machine has many readings, while a column of one
    value per row (AI4I's `Product ID`, a serial number) identifies rows, not machines."""
    others = sorted((found or set()) & known)
    if found is not None and not others and {value.lower() for value in found} <= FLAG_VALUES:
        return ""  # a 0/1 flag (AI4I's `Machine failure`), whatever its header says
    if others:
        return f"it holds names of your machines: {', '.join(others[:5])}"
    repeated = found is not None and 2 * len(found) <= rows  # each value on two rows or more, on average
    if repeated and MACHINE_WORDS & set(_words(column)):
        return "its name, and values repeated over the rows"
    # Names of one character are codes (AI4I's product quality `Type`: L, M, H), not machines;
    # a machine column named so is caught by its header.
    texts = sorted(value for value in (found or ()) if not NUMBER_RE.match(value) and len(value) > 1)
    if repeated and 2 <= len(texts) <= FEW_VALUES and len(texts) == len(found or ()):
        return f"a few repeated text values: {', '.join(texts[:5])}"
    return ""


def _words(header: str) -> list[str]:
    spaced = re.sub(r"([a-z])([A-Z])", r"\1 \2", header)  # MachineID -> Machine ID
    return [word.lower() for word in re.split(r"[^A-Za-z0-9]+", spaced) if word]


def _distinct_values(table: TableSource, columns: Sequence[str]) -> tuple[dict[str, set[str] | None], int]:
    """Each column's distinct non-empty values in the first SAMPLE_ROWS rows, None once a column
    has more than DISTINCT_CAP; and the rows read."""
    values: dict[str, set[str] | None] = {column: set() for column in columns}
    rows = 0
    if not columns:
        return values, rows
    for batch in table.batches(columns):
        for column in columns:
            _distinct_add(values, column, batch.column(column))
        rows += batch.num_rows
        if rows >= SAMPLE_ROWS or all(found is None for found in values.values()):
            break
    return values, rows


def _distinct_add(values: dict[str, set[str] | None], column: str, array: pa.Array) -> None:
    found = values[column]
    if found is None:
        return
    text = array if pa.types.is_string(array.type) else pc.cast(array, pa.string())
    found.update(_present(pc.unique(pc.utf8_trim_whitespace(text)).to_pylist()))
    if len(found) > DISTINCT_CAP:
        values[column] = None


def _present(cells: Iterable[Any]) -> set[str]:
    return {cell for cell in cells if cell}
