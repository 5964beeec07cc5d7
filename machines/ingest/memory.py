"""An in-memory table for the ingest path: live readings arrive as JSON, not as files."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from machines.ingest.reader import TableSource


@dataclass
class MemoryTable(TableSource):
    """A TableSource over an Arrow table; `first_line` 0 makes a rejected row's line its index."""

    table: pa.Table | None = None

    @classmethod
    def of(cls, table: pa.Table) -> MemoryTable:
        return cls(path=Path("<memory>"), kind="csv", columns=table.column_names, first_line=0,
                   size=table.nbytes, table=table)

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pa.RecordBatch]:
        assert self.table is not None
        yield from self.table.select(list(columns) if columns is not None else self.columns).to_batches()

    def bytes_read(self) -> int:
        return self.size
