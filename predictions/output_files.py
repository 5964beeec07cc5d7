"""Writing a scored table to the file a person asked for: CSV or Parquet by its extension, under a
temporary name first, so a reader never sees half a file. No Django."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq


def table_write(target: Path, table: pa.Table) -> None:
    temporary = target.with_name(f".{target.name}.partial")
    if target.suffix.lower() == ".parquet":
        pq.write_table(table, temporary)
    else:
        pa_csv.write_csv(table, temporary)
    temporary.replace(target)
