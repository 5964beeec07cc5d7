"""Reading small uploaded text tables (machine lists, failure events): encoding and delimiter.

Plant exports come as UTF-8 with or without a BOM, or Latin-1 from older tools, separated by
commas, semicolons (European locales), tabs or pipes. Large sensor files take the streaming
ingest path instead.
"""

from __future__ import annotations

import csv
import io

from pdm_saas.errors import InvalidInput

MAX_TABLE_BYTES = 10 * 1024 * 1024
DELIMITERS = ",;\t|"


def text_refuse_empty_or_binary(sample: bytes) -> None:
    """The first check on any uploaded text table, from its first bytes."""
    if not sample.strip():
        raise InvalidInput("The file is empty.", code="empty_file")
    if b"\x00" in sample[:4096]:
        raise InvalidInput("This is a binary file, not a CSV text file.", code="binary_file")


def text_decode(data: bytes) -> str:
    text_refuse_empty_or_binary(data)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # every byte sequence is valid Latin-1: the usual fall-back


def table_rows(data: bytes) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and (line number, row) pairs of a delimited text table."""
    if len(data) > MAX_TABLE_BYTES:
        raise InvalidInput(f"The file is larger than {MAX_TABLE_BYTES // 1024 // 1024} MB.", code="file_too_large")
    text = text_decode(data)
    sample = text[:65536]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=DELIMITERS)
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    header = [name.strip() for name in next(reader, [])]
    if not any(header):
        raise InvalidInput("The file has no header row.", code="no_header")
    rows = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InvalidInput(
                f"Line {reader.line_num} has {len(row)} fields, the header has {len(header)}.",
                code="ragged_row", details={"line": reader.line_num},
            )
        rows.append((reader.line_num, dict(zip(header, (cell.strip() for cell in row), strict=True))))
    if not rows:
        raise InvalidInput("The file has a header but no data rows.", code="no_rows")
    return header, rows


def table_columns_check(header: list[str], *, required: tuple[str, ...], allowed: tuple[str, ...], what: str) -> None:
    """Refuse a table whose header lacks a required column or has one we don't know."""
    missing = [name for name in required if name not in header]
    unknown = [name for name in header if name not in allowed]
    if missing or unknown:
        wrong = [f"missing {missing}"] if missing else []
        wrong += [f"unknown {unknown}"] if unknown else []
        raise InvalidInput(
            f"The {what}'s columns are wrong: {'; '.join(wrong)}. Expected columns: {', '.join(allowed)}.",
            code="bad_columns", details={"missing": missing, "unknown": unknown})


def table_problems_refuse(problems: list[str], *, what: str) -> None:
    """All rows or none: any problem refuses the whole table, listing (the first 200) problems."""
    if problems:
        raise InvalidInput(f"{len(problems)} problem(s) in the {what}; nothing was imported.",
                           code="invalid_rows", details={"problems": problems[:200]})
