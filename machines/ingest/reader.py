"""Stream a sensor file as Arrow record batches, in constant memory.

CSV: the encoding (UTF-16 by BOM or zero bytes, UTF-8, else Windows-1252 or Latin-1), the
delimiter (, ; tab |) and the decimal mark (. or ,) are detected from the first 64 KB, unless the
person chose them (`table_open`'s arguments, the mapping's `encoding`, `delimiter`,
`decimal_mark`). pyarrow's streaming reader then parses blocks of `block_size` bytes, one at a
time in the calling thread, so memory is bounded by the block size (other encodings than UTF-8 go
through pyarrow's streaming transcoder). Every CSV column is read as text, so that one bad cell
rejects a row instead of failing the file; the parse step converts them. A row with the wrong
number of fields is dropped by the reader and reported with its line (`lines_attach`); past
RAGGED_LIMIT of them the file is refused (the delimiter is likely wrong). Parquet:
`ParquetFile.iter_batches`, types kept.

Line numbers: the data row at index i of the file is on line `first_line + i` (CSV: header on
line 1) plus the dropped rows before it. This assumes one row per line: pyarrow skips blank
lines, and quoted fields holding newlines would shift later line numbers.
"""

from __future__ import annotations

import csv
import ctypes
import io
import mmap
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from machines.ingest.parse import ParsedBatch
from machines.textfiles import (
    DELIMITERS,
    ENCODINGS,
    names_listed,
    text_decode_sample,
    text_encoding_detect,
    text_refuse_binary,
    text_refuse_empty,
)
from pdm_saas.errors import InvalidInput

SNIFF_BYTES = 64 * 1024
RAGGED_LIMIT = 10_000  # rows with the wrong number of fields before the file is refused
DECIMAL_MARKS = (".", ",")
COMMA_NUMBER_RE = re.compile(r"^[-+]?\d+,\d+$")
POINT_NUMBER_RE = re.compile(r"^[-+]?\d*\.\d+([eE][-+]?\d+)?$")
DEFAULT_BLOCK_SIZE = 16 * 1024 * 1024
PARQUET_MAGIC = b"PAR1"


@dataclass
class TableSource:
    path: Path
    kind: Literal["csv", "parquet"]
    columns: list[str]
    first_line: int
    size: int
    encoding: str = "utf-8"
    delimiter: str = ","
    decimal_mark: str = "."
    block_size: int = DEFAULT_BLOCK_SIZE
    _stream: pa.NativeFile | None = field(default=None, repr=False)
    _rows_done: int = 0
    _skipped: list[int] = field(default_factory=list, repr=False)  # lines of dropped rows, ascending
    _dropped: list[tuple[int, str]] = field(default_factory=list, repr=False)  # not yet attached to a batch
    _first_drop: tuple[int, str] | None = field(default=None, repr=False)

    def lines_attach(self, parsed: ParsedBatch) -> None:
        """Tell `parsed` where its rows are in the file and which rows the reader dropped while
        reading it (called right after its batch was read, on the same thread)."""
        parsed.first_line = self.first_line
        parsed.skipped = np.array(self._skipped, dtype=np.int64) - np.arange(len(self._skipped), dtype=np.int64)
        parsed.dropped, self._dropped = self._dropped, []

    def rows_dropped(self) -> list[tuple[int, str]]:
        """The rows dropped and not yet attached to a batch, as (line, reason)."""
        return list(self._dropped)

    def _ragged(self, row: Any) -> str:
        """pyarrow's handler for a row with the wrong number of fields: drop it, note its line."""
        line = int(row.number) if row.number is not None else 0
        fields = f"{row.actual_columns} field{'' if row.actual_columns == 1 else 's'}"
        self._skipped.append(line)
        self._dropped.append((line, f"{fields} where the header has {row.expected_columns}"))
        self._first_drop = self._first_drop or self._dropped[-1]
        return "error" if len(self._skipped) > RAGGED_LIMIT else "skip"

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        """Record batches of the named columns (all when None), in file order."""
        wanted = list(columns) if columns is not None else self.columns
        if self.kind == "parquet":
            yield from self._parquet_batches(wanted)
        else:
            yield from self._csv_batches(wanted)

    def bytes_read(self) -> int:
        """How far into the file the reader is (for progress; approximate for Parquet)."""
        if self.kind == "parquet":
            return self.size
        return self._stream.tell() if self._stream is not None and not self._stream.closed else self.size

    def _csv_batches(self, wanted: list[str]) -> Iterator[pa.RecordBatch]:
        # Blocks are parsed one at a time in the calling thread (readings_ingest reads on a thread
        # of its own); the threaded parser was no faster on small machines.
        read = pa_csv.ReadOptions(block_size=self.block_size, encoding=self.encoding, use_threads=False)
        parse = pa_csv.ParseOptions(delimiter=self.delimiter, invalid_row_handler=self._ragged)
        convert = pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in self.columns},
            include_columns=wanted, strings_can_be_null=True,  # empty, "NA", "NaN", "null"... -> null
        )
        self._skipped, self._dropped, self._first_drop = [], [], None  # a second pass starts afresh
        mapped = _MappedFile(self.path, block_size=self.block_size)
        with mapped.stream as stream:
            self._stream = stream
            try:
                reader = pa_csv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        if self._dropped:  # rows dropped after the last batch: an empty one carries them
                            yield pa.RecordBatch.from_pylist([], schema=reader.schema)
                        return
                    mapped.batch_taken()
                    yield batch
            except pa.ArrowInvalid as exc:
                if len(self._skipped) > RAGGED_LIMIT:
                    raise self._too_ragged() from exc
                raise InvalidInput(f"The file cannot be read as {self._described()}: {_first_line(exc)}",
                                   code="unreadable_file") from exc

    def _too_ragged(self) -> InvalidInput:
        first_line, first_reason = self._first_drop or (0, "")
        return InvalidInput(
            f"More than {RAGGED_LIMIT:,} rows have the wrong number of fields (first: line {first_line}, "
            f"{first_reason}). Is {_delimiter_name(self.delimiter)} the right delimiter?", code="ragged_rows")

    def _parquet_batches(self, wanted: list[str]) -> Iterator[pa.RecordBatch]:
        parquet = pq.ParquetFile(str(self.path))
        batch_rows = max(self.block_size // 128, 1024)
        yield from parquet.iter_batches(batch_size=batch_rows, columns=wanted)

    def _described(self) -> str:
        return f"CSV ({self.encoding}, delimiter {_delimiter_name(self.delimiter)})"


def _delimiter_name(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else repr(delimiter)


class _MappedFile:
    """The CSV file memory-mapped, with the pages of batches already taken handed back.

    pyarrow's streaming CSV reader fetches blocks on a background thread into a queue of up to
    32 blocks, whatever the consumer's pace: read from an ordinary file, with 16 MiB blocks and
    a consumer slower than the disk (the database), that is up to 512 MiB of copies, so peak
    memory grew with the file up to that size. From a memory map the blocks are zero-copy
    slices that cost nothing until parsed; the pages parsed stay resident in the process,
    though, so after each batch the ones before it are dropped (MADV_DONTNEED: on a read-only
    file mapping that only unmaps them; touched again, they are read back from the page cache)."""

    def __init__(self, path: Path, *, block_size: int) -> None:
        self.stream = pa.memory_map(str(path), "r")
        self._block_size = block_size
        self._size = self.stream.size()
        self._address = self.stream.read_buffer(1).address if self._size else 0  # zero-copy: the map's start
        self.stream.seek(0)
        self._dropped = 0
        self._batches = 0

    def batch_taken(self) -> None:
        self._batches += 1
        upto = min(self._size, max(self._batches - 1, 0) * self._block_size) // mmap.PAGESIZE * mmap.PAGESIZE
        if upto > self._dropped and _madvise is not None:
            _madvise(ctypes.c_void_p(self._address), ctypes.c_size_t(upto), mmap.MADV_DONTNEED)
            self._dropped = upto


def _madvise_function() -> Any:
    if not hasattr(mmap, "MADV_DONTNEED"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    function.restype = ctypes.c_int
    return function


_madvise = _madvise_function()


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]


def table_open(path: str | Path, *, block_size: int = DEFAULT_BLOCK_SIZE, encoding: str | None = None,
               delimiter: str | None = None, decimal_mark: str | None = None) -> TableSource:
    """Recognise the file and read its header; raises InvalidInput for empty or binary files.
    The encoding, delimiter and decimal mark are detected unless given."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        sample = handle.read(SNIFF_BYTES)
    if sample.startswith(PARQUET_MAGIC):
        return _parquet_open(path, size, block_size)
    text_refuse_empty(sample)
    if encoding is not None and encoding.lower() not in ENCODINGS:
        raise InvalidInput(f"Unknown encoding '{encoding[:40]}'; use one of {', '.join(ENCODINGS)}.",
                           code="bad_encoding")
    chosen = encoding is not None
    encoding = encoding or text_encoding_detect(sample)
    text = _text_sample(sample, encoding, complete=size <= SNIFF_BYTES, chosen=chosen)
    delimiter = delimiter or _sniff_delimiter(text)
    if delimiter not in DELIMITERS:
        raise InvalidInput("The delimiter must be one of , ; | or tab.", code="bad_delimiter")
    header = next(csv.reader(io.StringIO(text), delimiter=delimiter), [])
    if not any(cell.strip() for cell in header):
        raise InvalidInput("The file has no header row.", code="no_header")
    if len(set(header)) != len(header):
        repeated = sorted({name for name in header if header.count(name) > 1})
        raise InvalidInput(f"The header repeats columns: {names_listed(repeated)}.", code="duplicate_columns")
    decimal_mark = decimal_mark or _sniff_decimal_mark(text, delimiter)
    if decimal_mark not in DECIMAL_MARKS:
        raise InvalidInput("The decimal mark must be '.' or ','.", code="bad_decimal_mark")
    return TableSource(path=path, kind="csv", columns=header, first_line=2, size=size, encoding=encoding,
                       delimiter=delimiter, decimal_mark=decimal_mark, block_size=block_size)


def _text_sample(sample: bytes, encoding: str, *, complete: bool, chosen: bool) -> str:
    """The sample decoded; undecodable UTF-16 detected from its BOM or zero bytes is binary."""
    try:
        text = text_decode_sample(sample, encoding, complete=complete)
    except InvalidInput:
        if chosen or not encoding.startswith("utf-16"):
            raise
        raise InvalidInput("This is a binary file, not a CSV text file.", code="binary_file") from None
    text_refuse_binary(text)
    return text


def _parquet_open(path: Path, size: int, block_size: int) -> TableSource:
    try:
        names = pq.ParquetFile(str(path)).schema_arrow.names
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"The Parquet file cannot be read: {_first_line(exc)}", code="unreadable_file") from exc
    return TableSource(path=path, kind="parquet", columns=list(names), first_line=1, size=size,
                       block_size=block_size)


def _sniff_delimiter(text: str) -> str:
    lines = text.splitlines()
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may cut the last line
    sample = "\n".join(lines[:200])
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        header = lines[0] if lines else ""
        return max(DELIMITERS, key=header.count)


def _sniff_decimal_mark(text: str, delimiter: str) -> str:
    """"," when more cells of the first rows look like 60,0 than like 60.0 (German, French...
    exports); else ".". Integers say nothing either way."""
    lines = text.splitlines()[1:200]
    comma = point = 0
    for row in csv.reader(lines, delimiter=delimiter):
        for cell in row:
            cell = cell.strip()
            comma += bool(COMMA_NUMBER_RE.match(cell))
            point += bool(POINT_NUMBER_RE.match(cell))
    return "," if comma > point else "."
