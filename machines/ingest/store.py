"""The fast path into the reading store: `readings_ingest`.

Per batch, with no per-row Python: parse (machines/ingest/parse.py), resolve machines
(fleet.py), format the kept rows as CSV with `vals` as Postgres array literals
(`{1.5,NULL,2.25}`), COPY them into a temporary staging table, then
`INSERT INTO machines_reading ... ON CONFLICT (machine_id, ts) DO NOTHING`, so a reading already
stored (the same file uploaded twice) is counted as a duplicate, not stored again.

The whole file is one transaction: a failure anywhere leaves no readings behind. Monthly
partitions are created in that transaction before the first row of their month is inserted
(Postgres refuses to create a partition once the DEFAULT partition holds rows of its range).
Creating a partition briefly takes a strong lock on `machines_reading`, held until commit: a
long historical upload that creates partitions blocks other writers of this tenant's readings
until it commits. Live data should find its month's partition made ahead of time.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from django.db import IntegrityError, transaction
from django_tenants.utils import get_public_schema_name

from machines.ingest.fleet import MachineResolver
from machines.ingest.mapping import ColumnMapping, mapping_validate
from machines.ingest.parse import ParsedBatch, batch_parse
from machines.ingest.reader import TableSource, table_open
from machines.models import MachineType
from machines.services import machine_type_slots
from pdm_saas.errors import Conflict, InvalidInput
from tenants.db import connection

REJECTED_DETAIL_LIMIT = 1000
STAGE = "pg_temp.machines_reading_stage"
COPY_SQL = f"COPY {STAGE} (machine_id, ts_us, vals) FROM STDIN (FORMAT csv)"
INSERT_SQL = (
    "INSERT INTO machines_reading (machine_id, ts, upload_id, vals) "
    f"SELECT machine_id, timestamptz 'epoch' + ts_us * interval '1 microsecond', %s, vals FROM {STAGE} "
    "ON CONFLICT (machine_id, ts) DO NOTHING"
)


@dataclass(frozen=True)
class RejectedRow:
    line: int
    reason: str


@dataclass
class IngestProgress:
    rows_read: int
    rows_stored: int
    bytes_read: int
    bytes_total: int


@dataclass
class IngestResult:
    """Counts are exact; `rejected` lists the first REJECTED_DETAIL_LIMIT rejected rows."""

    rows_read: int = 0
    rows_stored: int = 0
    duplicates: int = 0
    rows_rejected: int = 0
    rejected_by_reason: Counter[str] = field(default_factory=Counter)
    rejected: list[RejectedRow] = field(default_factory=list)
    machines_created: list[str] = field(default_factory=list)
    partitions_created: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def rejections_add(self, parsed: ParsedBatch, *, first_line: int) -> None:
        taken = np.zeros(len(parsed.ts_us), dtype=bool)
        details: list[RejectedRow] = []
        room = REJECTED_DETAIL_LIMIT - len(self.rejected)
        for rejection in parsed.rejections:
            rows = rejection.mask & ~taken  # a row counts once, under its first reason
            count = int(rows.sum())
            if not count:
                continue
            taken |= rows
            self.rejected_by_reason[rejection.code] += count
            self.rows_rejected += count
            for index in np.flatnonzero(rows)[:max(room, 0)]:
                details.append(RejectedRow(first_line + parsed.start + int(index), rejection.describe(int(index))))
        self.rejected += sorted(details, key=lambda row: row.line)[:max(room, 0)]


class ReadingWriter:
    """COPY + INSERT ... ON CONFLICT for one file, on the current tenant's connection."""

    def __init__(self, *, cursor: Any, slots: list[str], upload_id: int | None) -> None:
        self.cursor, self.slots, self.upload_id = cursor, slots, upload_id
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE.split('.')[1]} "
                       "(machine_id bigint, ts_us bigint, vals real[]) ON COMMIT DROP")
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = 'machines_reading'::regclass")
        self.partitions = {row[0] for row in cursor.fetchall()}
        self.created: list[str] = []

    def write(self, parsed: ParsedBatch) -> tuple[int, int]:
        """Store the batch's accepted rows; returns (stored, duplicates)."""
        keep = pa.array(parsed.ok())
        assert parsed.machine_ids is not None
        rows = pa.table({"machine_id": pc.filter(parsed.machine_ids, keep), "ts_us": pc.filter(parsed.ts_us, keep),
                         "vals": self._array_literals(parsed.values, keep)})
        if not rows.num_rows:
            return 0, 0
        self._partitions_ensure(rows["ts_us"])
        # In index order, the unique btree is filled leaf after leaf instead of 100 places at once.
        rows = rows.sort_by([("machine_id", "ascending"), ("ts_us", "ascending")])
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(rows, sink, pa_csv.WriteOptions(include_header=False))
        self.cursor.execute(f"TRUNCATE {STAGE}")
        with self.cursor.copy(COPY_SQL) as copy:
            copy.write(memoryview(sink.getvalue()))
        self.cursor.execute(INSERT_SQL, [self.upload_id])
        stored = self.cursor.rowcount
        return stored, rows.num_rows - stored

    def _array_literals(self, values: dict[str, pa.Array], keep: pa.Array) -> pa.Array:
        """`{v1,v2,...}` per row in slot order; a missing value or unmapped slot is NULL."""
        parts: list[Any] = []
        for slot in self.slots:
            if slot in values:
                text = pc.cast(pc.filter(values[slot], keep), pa.string())  # float32: shortest round-trip form
                parts.append(pc.fill_null(text, "NULL"))
            else:
                parts.append("NULL")
        return pc.binary_join_element_wise("{", pc.binary_join_element_wise(*parts, ","), "}", "")

    def _partitions_ensure(self, ts_us: pa.Array) -> None:
        stamps = pc.cast(ts_us, pa.timestamp("us", "UTC"))
        for month in pc.unique(pc.floor_temporal(stamps, unit="month")).to_pylist():
            name = f"machines_reading_p{month.year:04d}{month.month:02d}"
            if name not in self.partitions:
                self._partition_create(name, month)

    def _partition_create(self, name: str, month: datetime) -> None:
        end = datetime(month.year + month.month // 12, month.month % 12 + 1, 1, tzinfo=UTC)
        try:
            with transaction.atomic():
                self.cursor.execute(f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF machines_reading '
                                    "FOR VALUES FROM (%s) TO (%s)", [month.isoformat(), end.isoformat()])
        except IntegrityError as exc:  # the DEFAULT partition already holds rows of this month
            raise Conflict(f"Readings of {month:%Y-%m} sit in the default partition, so its monthly partition "
                           "cannot be created; move them out first (see machines/migrations/0002).",
                           code="reading_partition_blocked") from exc
        self.partitions.add(name)
        self.created.append(name)


def readings_ingest(
    *, source: str | Path | TableSource, mapping: ColumnMapping, machine_type: MachineType,
    upload_id: int | None = None, progress: Callable[[IngestProgress], None] | None = None,
    on_batch: Callable[[pa.RecordBatch, ParsedBatch], None] | None = None,
) -> IngestResult:
    """Store a sensor file's readings in the current tenant's reading store, all or nothing.
    `on_batch` sees every batch with its parse (the seam for quality reports and labels)."""
    if connection.schema_name == get_public_schema_name():
        raise RuntimeError("readings_ingest needs a tenant schema (django_tenants tenant_context)")
    started = time.perf_counter()
    table = source if isinstance(source, TableSource) else table_open(source)
    mapping_validate(mapping, columns=table.columns, machine_type=machine_type)
    result = IngestResult()
    with transaction.atomic(), connection.cursor() as cursor:
        writer = ReadingWriter(cursor=cursor, slots=machine_type_slots(machine_type), upload_id=upload_id)
        resolver = MachineResolver(machine_type=machine_type, create_unknown=mapping.create_unknown_machines)
        for batch in table.batches(mapping.file_columns()):
            parsed = _batch_resolved(batch, mapping, resolver, start=result.rows_read)
            result.rows_read += batch.num_rows
            result.rejections_add(parsed, first_line=table.first_line)
            stored, duplicates = writer.write(parsed)
            result.rows_stored += stored
            result.duplicates += duplicates
            if on_batch is not None:
                on_batch(batch, parsed)
            if progress is not None:
                progress(IngestProgress(result.rows_read, result.rows_stored, table.bytes_read(), table.size))
        if not result.rows_read:
            raise InvalidInput("The file has a header but no data rows.", code="no_rows")
    result.machines_created = resolver.created
    result.partitions_created = writer.created
    result.seconds = time.perf_counter() - started
    return result


def _batch_resolved(batch: pa.RecordBatch, mapping: ColumnMapping, resolver: MachineResolver, *,
                    start: int) -> ParsedBatch:
    parsed = batch_parse(batch, mapping=mapping, start=start)
    if mapping.machine_column:
        parsed.machine_ids, rejections = resolver.resolve_column(batch.column(mapping.machine_column))
    else:
        parsed.machine_ids, rejections = resolver.resolve_one(mapping.machine_name or "", batch.num_rows)
    parsed.rejections = rejections + parsed.rejections
    return parsed
