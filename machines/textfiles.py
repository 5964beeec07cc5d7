"""Reading small uploaded text tables (machine lists, failure events): encoding and delimiter.

Plant exports come as UTF-8 with or without a BOM, UTF-16 (Excel's "Unicode text"), or
Windows-1252 / Latin-1 from older tools, separated by commas, semicolons (European locales), tabs
or pipes. The encoding helpers here serve the streaming sensor-file reader too
(machines/ingest/reader.py); large sensor files take that path.
"""

from __future__ import annotations

import codecs
import csv
import io
import re

from pdm_saas.errors import InvalidInput

MAX_TABLE_BYTES = 10 * 1024 * 1024
DELIMITERS = ",;\t|"


# The encodings a person can choose in the upload preview (`auto` detects among the first ones).
ENCODINGS = ("utf-8", "utf-16", "utf-16-le", "utf-16-be", "cp1252", "latin-1", "iso-8859-15", "cp1250")
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Characters no text table holds: C0 controls but tab, newlines and form feed, DEL, and the C1
# controls that a wrong single-byte guess of binary data produces.
CONTROL_RE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")


def text_refuse_empty(sample: bytes) -> None:
    if not sample.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):  # blanks, NULs and BOMs only: nothing there
        raise InvalidInput("The file is empty.", code="empty_file")


def text_refuse_binary(text: str) -> None:
    """Refuse decoded text that is not text: any NUL, or more than about 1% control characters
    (a stray DOS end-of-file mark or form feed is fine)."""
    controls = len(CONTROL_RE.findall(text[:65536]))
    if "\x00" in text[:65536] or controls > 1 + len(text[:65536]) // 100:
        raise InvalidInput("This is a binary file, not a CSV text file.", code="binary_file")


def text_encoding_detect(sample: bytes) -> str:
    """The encoding of a file from its first bytes: UTF-16 by its byte-order mark or, without
    one, by the zero bytes of ASCII characters; else UTF-8 when the sample is valid UTF-8 (a
    character cut at the sample's end is fine); else Windows-1252, which exports from Western
    European tools are, or Latin-1 (which every byte sequence is) when 1252 refuses a byte.
    (charset-normalizer guessed cp1250 or cp775 for short German Latin-1 files in our trials:
    a person who knows better chooses the encoding in the preview.)"""
    if sample.startswith(UTF16_BOMS):
        return "utf-16"
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    # ASCII in UTF-16 has a zero byte in every other place: after the letter (LE) or before it (BE).
    zeros_even, zeros_odd = sample[0:4096:2].count(0), sample[1:4096:2].count(0)
    half = max(len(sample[:4096]) // 2, 1)
    if zeros_odd > half * 0.3 and zeros_even < zeros_odd / 20:
        return "utf-16-le"
    if zeros_even > half * 0.3 and zeros_odd < zeros_even / 20:
        return "utf-16-be"
    for encoding in ("utf-8", "cp1252"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(sample, final=False)
        except UnicodeDecodeError:
            continue
        return encoding
    return "latin-1"


def text_decode_sample(sample: bytes, encoding: str, *, complete: bool) -> str:
    """The sample as text in `encoding`, BOM removed; bytes the encoding refuses: InvalidInput."""
    try:
        text = codecs.getincrementaldecoder(encoding)().decode(sample, final=complete)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"The file is not {encoding} text (byte {exc.start + 1} cannot be read as "
                           f"{encoding}); choose another encoding.", code="bad_encoding") from exc
    except LookupError as exc:
        raise InvalidInput(f"Unknown encoding '{encoding[:40]}'; use one of {', '.join(ENCODINGS)}.",
                           code="bad_encoding") from exc
    return text.removeprefix("\ufeff")


def names_listed(names: list[str], *, most: int = 10, longest: int = 40) -> str:
    """Column names for a message, kept short whatever the file holds."""
    shown = [name if len(name) <= longest else name[:longest - 1] + "…" for name in names[:most]]
    return ", ".join(shown) + (f" and {len(names) - most} more" if len(names) > most else "")


def text_decode(data: bytes) -> str:
    """A whole small text file: encoding detected, binary files refused."""
    text_refuse_empty(data)
    encoding = text_encoding_detect(data)
    try:
        text = text_decode_sample(data, encoding, complete=True)
    except InvalidInput:
        if not encoding.startswith("utf-16"):
            raise
        raise InvalidInput("This is a binary file, not a CSV text file.", code="binary_file") from None
    text_refuse_binary(text)
    return text


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
