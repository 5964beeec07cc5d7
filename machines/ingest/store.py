"""The fast path into the reading store: `readings_ingest`.

Per batch, with no per-row Python: read and parse (machines/ingest/parse.py) on a background
thread, one batch ahead of the database; resolve machines (fleet.py); sort the kept rows by
(machine, time) and drop repeats within the batch (the first row of the file stays); encode
them with numpy in Postgres' binary COPY format. Rows of machines with no stored reading inside
the batch's time range are COPYed straight into `machines_reading`; the others go through a
temporary staging table and `INSERT ... ON CONFLICT (machine_id, ts) DO NOTHING`, so a reading
already stored (the same file uploaded twice) is counted as a duplicate, not stored again (see
ReadingWriter).

The whole file is one transaction: a failure anywhere leaves no readings behind. Monthly
partitions are created in that transaction before the first row of their month is inserted
(Postgres refuses to create a partition once the DEFAULT partition holds rows of its range).
Creating a partition briefly takes a strong lock on `machines_reading`, held until commit: a
long historical upload that creates partitions blocks other writers of this tenant's readings
until it commits. Live data should find its month's partition made ahead of time.

Longer than 400 lines because the writer's COPY encoding, staging and partition steps run in
one transaction whose order matters; the reasons are spelled out beside each step.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
from django.db import DatabaseError, IntegrityError, OperationalError, transaction
from django_tenants.utils import get_public_schema_name
from psycopg.errors import UniqueViolation

from machines.ingest.finite import non_finite_reject
from machines.ingest.fleet import MachineResolver
from machines.ingest.mapping import ColumnMapping, mapping_validate
from machines.ingest.parse import ParsedBatch, batch_parse
from machines.ingest.reader import TableSource, table_open
from machines.models import MachineType
from machines.services import machine_type_slots
from pdm_saas.errors import Conflict, InvalidInput, ServiceError
from pdm_saas.monitoring.metrics import ingest_record
from tenants.db import connection

logger = logging.getLogger(__name__)

REJECTED_DETAIL_LIMIT = 1000
PREFETCH = 1  # parsed batches waiting for the database, beside the one being stored
T = TypeVar("T")
STAGE = "pg_temp.machines_reading_stage"
COLUMNS = "(machine_id, ts, upload_id, vals)"
DIRECT_COPY_SQL = f"COPY machines_reading {COLUMNS} FROM STDIN (FORMAT binary)"
STAGE_COPY_SQL = f"COPY {STAGE} {COLUMNS} FROM STDIN (FORMAT binary)"
INSERT_SQL = (f"INSERT INTO machines_reading {COLUMNS} SELECT machine_id, ts, upload_id, vals FROM {STAGE} "
              "ON CONFLICT (machine_id, ts) DO NOTHING")
# The machines whose stored readings fall inside the batch's time range for that machine: only
# their rows can clash with a stored reading, so only they need the staging + ON CONFLICT path.
CLASH_SQL = (
    "SELECT b.machine_id FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS b(machine_id, lo, hi) "
    "WHERE EXISTS (SELECT 1 FROM machines_reading r WHERE r.machine_id = b.machine_id AND r.ts BETWEEN "
    "timestamptz 'epoch' + b.lo * interval '1 microsecond' AND timestamptz 'epoch' + b.hi * interval '1 microsecond')"
)
PG_EPOCH_US = 946_684_800 * 1_000_000  # 2000-01-01, the zero of binary timestamptz
FLOAT4_OID = 700
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" * 2  # signature, flags, no extension
COPY_TRAILER = b"\xff\xff"


# What the database raises: Django's wrapped errors, and psycopg's own from COPY (which Django
# does not wrap).
DATABASE_ERRORS = (DatabaseError, psycopg.Error)


class StoreRefused(ServiceError):
    """The database refused what an ingest was writing. The ingest's transaction is rolled back,
    so nothing of it stays; the database's own message goes to the log, not to the user."""

    status_code = 400
    code = "store_refused"


def store_refusal(exc: BaseException) -> StoreRefused:
    """Log the database's error for the operator; the user's error says what it means for them."""
    logger.error("the database refused an ingest in %s: %s", connection.schema_name, exc, exc_info=exc)
    if isinstance(exc, OperationalError | psycopg.OperationalError):
        refusal = StoreRefused("The database was unavailable while storing these readings; nothing was stored. "
                               "Try again in a minute.", code="store_unavailable")
        refusal.status_code = 503
        return refusal
    return StoreRefused("The database refused part of this data (a value out of range or too long, or against a "
                        "rule of the reading store), so nothing of it was stored. Check the values and send it "
                        "again; the operator's log has the details.")


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
    machines_over_plan: list[str] = field(default_factory=list)  # not created: the plan's limit
    plan_refusal: dict[str, Any] | None = None  # that refusal's message and details (limit, upgrade_url)
    seconds: float = 0.0

    def rejections_add(self, parsed: ParsedBatch) -> None:
        details = [RejectedRow(line, f"wrong number of fields: {reason}") for line, reason in parsed.dropped]
        if parsed.dropped:
            self.rejected_by_reason["ragged_row"] += len(parsed.dropped)
            self.rows_rejected += len(parsed.dropped)
        room = REJECTED_DETAIL_LIMIT - len(self.rejected)
        for rejection, rows in parsed.rejections_exclusive():
            count = int(rows.sum())
            self.rejected_by_reason[rejection.code] += count
            self.rows_rejected += count
            for index in np.flatnonzero(rows)[:max(room, 0)]:
                details.append(RejectedRow(parsed.line(int(index)), rejection.describe(int(index))))
        self.rejected += sorted(details, key=lambda row: row.line)[:max(room, 0)]


class ReadingWriter:
    """Binary COPY of one file's readings, on the current tenant's connection.

    Per batch: the kept rows are sorted by (machine, time), repeats inside the batch dropped
    (the first in file order stays), and one indexed query finds the machines with stored
    readings inside the batch's time range for that machine. Rows of the other machines cannot
    clash with a stored reading: they are COPYed straight into `machines_reading` (inside a
    savepoint; should a concurrent upload commit the same readings meanwhile, the unique index
    refuses the COPY and the rows take the other path). Rows of clashing machines are COPYed into
    a temporary staging table and moved with INSERT ... ON CONFLICT DO NOTHING.

    Each direct COPY is a subtransaction (one per batch, about 11M rows per 64 with 16 MiB CSV
    blocks); past 64 in one transaction Postgres' per-backend subtransaction cache overflows,
    which slows other sessions' snapshots until the upload commits.
    """

    def __init__(self, *, cursor: Any, slots: list[str], upload_id: int | None) -> None:
        self.cursor, self.slots, self.upload_id = cursor, slots, upload_id
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                       "WHERE i.inhparent = 'machines_reading'::regclass")
        self.partitions = {row[0] for row in cursor.fetchall()}
        self.created: list[str] = []
        self._stage_made = False

    def write(self, parsed: ParsedBatch) -> tuple[int, int]:
        """Store the batch's accepted rows; returns (stored, duplicates)."""
        assert parsed.machine_ids is not None
        rows = np.flatnonzero(parsed.ok())
        if not len(rows):
            return 0, 0
        machine_ids = _int64s(parsed.machine_ids)[rows]
        ts_us = _int64s(parsed.ts_us)[rows]
        # In index order, the unique btree is filled leaf after leaf instead of 100 places at once.
        order = np.lexsort((ts_us, machine_ids))  # stable: among repeats, the first in the file comes first
        rows, machine_ids, ts_us = rows[order], machine_ids[order], ts_us[order]
        repeat = np.zeros(len(rows), dtype=bool)
        repeat[1:] = (machine_ids[1:] == machine_ids[:-1]) & (ts_us[1:] == ts_us[:-1])
        if repeat.any():
            unique = ~repeat
            rows, machine_ids, ts_us = rows[unique], machine_ids[unique], ts_us[unique]
        self._partitions_ensure(ts_us)
        stored = 0
        clashing = self._clashing_machines(machine_ids, ts_us)
        direct = ~np.isin(machine_ids, clashing) if len(clashing) else np.ones(len(rows), dtype=bool)
        if direct.any():
            stream = self._copy_stream(parsed, rows[direct], machine_ids[direct], ts_us[direct])
            try:
                with transaction.atomic():
                    self._copy(DIRECT_COPY_SQL, stream)
                stored += int(direct.sum())
            except UniqueViolation:  # a concurrent upload stored some of these readings first
                direct[:] = False
        if not direct.all():
            staged = ~direct
            stored += self._insert_new(self._copy_stream(parsed, rows[staged], machine_ids[staged], ts_us[staged]))
        return stored, len(order) - stored

    def _clashing_machines(self, machine_ids: np.ndarray, ts_us: np.ndarray) -> np.ndarray:
        """Machines (of sorted `machine_ids`) with a stored reading between their first and last
        time in the batch."""
        first = np.flatnonzero(np.r_[True, machine_ids[1:] != machine_ids[:-1]])
        last = np.r_[first[1:] - 1, len(machine_ids) - 1]
        self.cursor.execute(CLASH_SQL, [machine_ids[first].tolist(), ts_us[first].tolist(), ts_us[last].tolist()])
        return np.array([row[0] for row in self.cursor.fetchall()], dtype=np.int64)

    def _insert_new(self, stream: list[Any]) -> int:
        if not self._stage_made:
            self.cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE.split('.')[1]} "
                                "(machine_id bigint, ts timestamptz, upload_id bigint, vals real[]) ON COMMIT DROP")
            self._stage_made = True
        self.cursor.execute(f"TRUNCATE {STAGE}")
        self._copy(STAGE_COPY_SQL, stream)
        self.cursor.execute(INSERT_SQL)
        return int(self.cursor.rowcount)

    def _copy(self, sql: str, stream: list[Any]) -> None:
        with self.cursor.copy(sql) as copy:
            for part in stream:
                copy.write(part)

    def _copy_stream(self, parsed: ParsedBatch, rows: np.ndarray, machine_ids: np.ndarray,
                     ts_us: np.ndarray) -> list[Any]:
        """The rows in Postgres' binary COPY format, built with numpy (no per-row Python).

        A row is: field count; machine_id (int8); ts (int8 microseconds since 2000-01-01);
        upload_id (int8, or length -1 for NULL); vals as a binary real[] (ndim 1, has-null flag,
        element type, length, lower bound 1, then per element its length and big-endian float4,
        or length -1 and no bytes for NULL). One packed big-endian record per row; a slot that is
        NULL in every row of the batch has no value bytes in the record; for a slot NULL in only
        some rows, the value bytes of those cells are cut out of the record bytes afterwards.
        """
        count = len(rows)
        values: list[np.ndarray | None] = []  # per slot: float32 of the rows, None if all NULL
        nulls: list[np.ndarray | None] = []  # per slot: mask of the NULL cells, None if none
        for slot in self.slots:
            column = parsed.values.get(slot)
            if column is None or column.null_count == len(column):
                values.append(None)
                nulls.append(None)
                continue
            if column.null_count:
                missing = np.asarray(pc.is_null(column).to_numpy(zero_copy_only=False), dtype=bool)[rows]
                column = pc.fill_null(column, 0.0)
            else:
                missing = None
            taken = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.float32)[rows]
            values.append(taken)
            nulls.append(missing if missing is not None and missing.any() else None)
        fields: list[tuple[str, str]] = [("fields", ">i2"), ("machine_len", ">i4"), ("machine_id", ">i8"),
                                         ("ts_len", ">i4"), ("ts", ">i8"), ("upload_len", ">i4")]
        if self.upload_id is not None:
            fields.append(("upload_id", ">i8"))
        fields += [("vals_len", ">i4"), ("ndim", ">i4"), ("has_null", ">i4"), ("elem_type", ">i4"),
                   ("dim", ">i4"), ("lbound", ">i4")]
        for index, taken in enumerate(values):
            fields.append((f"len{index}", ">i4"))
            if taken is not None:
                fields.append((f"val{index}", ">f4"))
        record = np.dtype(fields)
        out = np.empty(count, dtype=record)
        out["fields"] = 4
        out["machine_len"] = 8
        out["machine_id"] = machine_ids
        out["ts_len"] = 8
        out["ts"] = ts_us - PG_EPOCH_US
        if self.upload_id is not None:
            out["upload_len"] = 8
            out["upload_id"] = self.upload_id
        else:
            out["upload_len"] = -1
        array_len = np.full(count, 20 + 4 * len(values) + 4 * sum(taken is not None for taken in values),
                            dtype=np.int32)
        has_null = np.zeros(count, dtype=bool) if all(taken is not None for taken in values) else np.ones(count,
                                                                                                           dtype=bool)
        for index, (taken, missing) in enumerate(zip(values, nulls, strict=True)):
            if taken is None:
                out[f"len{index}"] = -1
                continue
            out[f"val{index}"] = taken
            if missing is None:
                out[f"len{index}"] = 4
            else:
                out[f"len{index}"] = np.where(missing, -1, 4)
                array_len -= 4 * missing
                has_null |= missing
        out["vals_len"] = array_len
        out["ndim"] = 1
        out["has_null"] = has_null
        out["elem_type"] = FLOAT4_OID
        out["dim"] = len(values)
        out["lbound"] = 1
        body = out.view(np.uint8)
        if any(missing is not None for missing in nulls):
            keep = np.ones((count, record.itemsize), dtype=bool)
            offsets: Mapping[str, Any] = record.fields or {}
            for index, missing in enumerate(nulls):
                if missing is not None:
                    offset = offsets[f"val{index}"][1]
                    keep[:, offset:offset + 4] = ~missing[:, None]
            body = body.reshape(count, record.itemsize)[keep]
        return [COPY_SIGNATURE, body.data, COPY_TRAILER]

    def _partitions_ensure(self, ts_us: np.ndarray) -> None:
        months = np.unique(ts_us.astype("datetime64[us]").astype("datetime64[M]"))
        stamps = pa.array(months.astype("datetime64[us]"), pa.timestamp("us", "UTC"))
        for month in stamps.to_pylist():
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
    table = source if isinstance(source, TableSource) else table_open(source, **mapping.reading())
    mapping_validate(mapping, columns=table.columns, machine_type=machine_type)
    try:
        result, resolver, writer = _ingest(table, mapping, machine_type, upload_id, progress, on_batch)
    except DATABASE_ERRORS as exc:
        raise store_refusal(exc) from None  # the raw message is logged, not shown
    ingest_record(schema_name=connection.schema_name, rows=result.rows_stored)
    result.machines_created = resolver.created
    result.partitions_created = writer.created
    result.machines_over_plan, result.plan_refusal = sorted(resolver.over_plan), resolver.plan_refusal
    result.seconds = time.perf_counter() - started
    return result


def _ingest(
    table: TableSource, mapping: ColumnMapping, machine_type: MachineType, upload_id: int | None,
    progress: Callable[[IngestProgress], None] | None, on_batch: Callable[[pa.RecordBatch, ParsedBatch], None] | None,
) -> tuple[IngestResult, MachineResolver, ReadingWriter]:
    """The file in one transaction: a failure anywhere rolls back every row it stored."""
    result = IngestResult()
    with transaction.atomic(), connection.cursor() as cursor:
        writer = ReadingWriter(cursor=cursor, slots=machine_type_slots(machine_type), upload_id=upload_id)
        resolver = MachineResolver(machine_type=machine_type, create_unknown=mapping.create_unknown_machines)
        schema = machine_type.schema  # the document read once, not once per question
        categories = {name: list(values) for name, values in schema.categories.items()}
        arrays = list(schema.array_sensors)
        with _Prefetch(lambda: _batches_parsed(table, mapping, categories, arrays)) as batches:
            for batch, parsed, bytes_read in batches:
                _machines_resolve(batch, parsed, mapping, resolver)
                result.rows_read += batch.num_rows + len(parsed.dropped)
                result.rejections_add(parsed)
                stored, duplicates = writer.write(parsed)
                result.rows_stored += stored
                result.duplicates += duplicates
                if on_batch is not None:
                    on_batch(batch, parsed)
                if progress is not None:
                    progress(IngestProgress(result.rows_read, result.rows_stored, bytes_read, table.size))
                del batch, parsed  # keep at most the queued batches alive
        if not result.rows_read:
            raise InvalidInput("The file has a header but no data rows.", code="no_rows")
    return result, resolver, writer


def _int64s(array: pa.Array) -> np.ndarray:
    """An int64 Arrow array as numpy, nulls as 0 (callers only look at rows kept)."""
    if array.null_count:
        array = pc.fill_null(array, 0)
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.int64)


def _batches_parsed(table: TableSource, mapping: ColumnMapping, categories: dict[str, list[str]],
                    arrays: list[str]) -> Iterator[tuple[pa.RecordBatch, ParsedBatch, int]]:
    """Each batch with its parse (no database: runs on the reading thread) and how far into
    the file the reader was."""
    start = 0
    for batch in table.batches(mapping.file_columns()):
        parsed = batch_parse(batch, mapping=mapping, start=start, categories=categories,
                             decimal_mark=table.decimal_mark, arrays=arrays)
        non_finite_reject(parsed, batch, mapping=mapping, categorical=categories)
        table.lines_attach(parsed)
        yield batch, parsed, table.bytes_read()
        start += batch.num_rows


def _machines_resolve(batch: pa.RecordBatch, parsed: ParsedBatch, mapping: ColumnMapping,
                      resolver: MachineResolver) -> None:
    if mapping.machine_column:
        parsed.machine_ids, rejections = resolver.resolve_column(batch.column(mapping.machine_column))
    else:
        parsed.machine_ids, rejections = resolver.resolve_one(mapping.machine_name or "", batch.num_rows)
    parsed.rejections = rejections + parsed.rejections


class _Prefetch(Generic[T]):
    """Iterate `produce()` on a background thread, at most PREFETCH items ahead, so reading and
    parsing batch N+1 (pyarrow, mostly without the GIL) overlaps storing batch N (waiting on the
    database). Items and the producer's exception arrive in order; leaving the `with` block
    early stops the producer and closes its iterator (and so the file)."""

    def __init__(self, produce: Callable[[], Iterator[T]]) -> None:
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=PREFETCH)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(produce,), name="ingest-read", daemon=True)

    def __enter__(self) -> Iterator[T]:
        self._thread.start()
        return self._items()

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:  # unblock a producer waiting for room
                self._queue.get(timeout=0.05)
            except queue.Empty:
                pass
        self._thread.join()

    def _items(self) -> Iterator[T]:
        while True:
            kind, value = self._queue.get()
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return

    def _run(self, produce: Callable[[], Iterator[T]]) -> None:
        items = produce()
        try:
            for item in items:
                if not self._put(("item", item)):
                    return
                del item
            self._put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread, raised there
            self._put(("error", exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def _put(self, message: tuple[str, Any]) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False
