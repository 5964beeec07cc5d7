"""Stream a sensor file as Arrow record batches, in constant memory.

CSV: the encoding (UTF-8 with or without BOM, else Latin-1) and the delimiter (, ; tab |) are
sniffed from the first 64 KB; pyarrow's streaming reader then parses blocks of `block_size`
bytes, one at a time in the calling thread, so memory is bounded by the block size (Latin-1
goes through pyarrow's streaming transcoder). Every CSV
column is read as text, so that one bad cell rejects a row instead of failing the file; the
parse step converts them. Parquet: `ParquetFile.iter_batches`, types kept.

Line numbers: the data row at index i of the file is on line `first_line + i` (CSV: header on
line 1). This assumes one row per line: pyarrow skips blank lines, and quoted fields holding
newlines would shift later line numbers.
"""

from __future__ import annotations

import csv
import ctypes
import io
import mmap
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from machines.textfiles import DELIMITERS, text_refuse_empty_or_binary
from pdm_saas.errors import InvalidInput

SNIFF_BYTES = 64 * 1024
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
    block_size: int = DEFAULT_BLOCK_SIZE
    _stream: pa.NativeFile | None = field(default=None, repr=False)
    _rows_done: int = 0

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
        parse = pa_csv.ParseOptions(delimiter=self.delimiter)
        convert = pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in self.columns},
            include_columns=wanted, strings_can_be_null=True,  # empty, "NA", "NaN", "null"... -> null
        )
        mapped = _MappedFile(self.path, block_size=self.block_size)
        with mapped.stream as stream:
            self._stream = stream
            try:
                reader = pa_csv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        return
                    mapped.batch_taken()
                    yield batch
            except pa.ArrowInvalid as exc:
                raise InvalidInput(f"The file cannot be read as {self._described()}: {_first_line(exc)}",
                                   code="unreadable_file") from exc

    def _parquet_batches(self, wanted: list[str]) -> Iterator[pa.RecordBatch]:
        parquet = pq.ParquetFile(str(self.path))
        batch_rows = max(self.block_size // 128, 1024)
        yield from parquet.iter_batches(batch_size=batch_rows, columns=wanted)

    def _described(self) -> str:
        return f"CSV ({self.encoding}, delimiter {self.delimiter!r})"


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


def table_open(path: str | Path, *, block_size: int = DEFAULT_BLOCK_SIZE) -> TableSource:
    """Recognise the file and read its header; raises InvalidInput for empty or binary files."""
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as handle:
        sample = handle.read(SNIFF_BYTES)
    if sample.startswith(PARQUET_MAGIC):
        return _parquet_open(path, size, block_size)
    text_refuse_empty_or_binary(sample)
    encoding, text = _decode_sample(sample, complete=size <= SNIFF_BYTES)
    delimiter = _sniff_delimiter(text)
    header = next(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=delimiter), [])
    if not any(cell.strip() for cell in header):
        raise InvalidInput("The file has no header row.", code="no_header")
    if len(set(header)) != len(header):
        repeated = sorted({name for name in header if header.count(name) > 1})
        raise InvalidInput(f"The header repeats columns: {', '.join(repeated)}.", code="duplicate_columns")
    return TableSource(path=path, kind="csv", columns=header, first_line=2, size=size, encoding=encoding,
                       delimiter=delimiter, block_size=block_size)


def _parquet_open(path: Path, size: int, block_size: int) -> TableSource:
    try:
        names = pq.ParquetFile(str(path)).schema_arrow.names
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInput(f"The Parquet file cannot be read: {_first_line(exc)}", code="unreadable_file") from exc
    return TableSource(path=path, kind="parquet", columns=list(names), first_line=1, size=size,
                       block_size=block_size)


def _decode_sample(sample: bytes, *, complete: bool) -> tuple[str, str]:
    """UTF-8 when the sample decodes as UTF-8 (a multi-byte character cut at the end of the
    sample is fine), else Latin-1, where every byte is valid."""
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        return "utf-8", decoder.decode(sample, final=complete)
    except UnicodeDecodeError:
        return "latin-1", sample.decode("latin-1")


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
