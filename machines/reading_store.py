"""The reading store as plain columns: what models and monitors read from `machines_reading`.

Readings sit in `machines_reading` as one row per machine and time with a `vals` array, one slot
per sensor in the order of the type's `sensor_slots` (categorical sensors as their category's
index). Only `machines` queries that table (tests/machines/test_reading_store_owner.py holds it):
this module serves everyone outside the app, with numpy columns and no model types, so that the
engine's frames are built by their callers; `machines.selectors` keeps the machine pages' named
readings and `machines.ingest.store` the writes.

Kept apart from `machines.selectors` because the two serve different readers (a person's chart,
one machine at a time; a model's window, a fleet at a time) and together they would pass the 400
lines a module may hold.

- `readings_latest`: each machine's newest reading time.
- `readings_latest_window`: each machine's readings within a span before its own newest one, and
  optionally the start of its current run (after its latest failure event): what scoring reads.
- `readings_bucketed`: readings averaged into steps inside Postgres (categorical slots: their
  last value), all of them, from a time to a time, or within a span of each machine's newest.
- `reading_gap_median`: how often the machines report, for the model step.
- `rul_labels`: the remaining useful life of each reading from the failure events.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from engine.frames import CYCLE_DATA_BEFORE
from machines.models import MachineType
from tenants.db import connection
from tenants.row_cache import tenant_cached

Array = np.ndarray
# Failure events are read by table name: their model's app is not this module's concern.
FAILURE_EVENTS = "predictions_failureevent"


@dataclass(frozen=True)
class SlotColumns:
    """Readings (or step buckets) as columns: `machine_ids` (int64) and `seconds` (stored epoch
    seconds; a bucket's start) per row, in machine and time order; `numeric[sensor]` float64,
    NaN for a missing value; `categorical[sensor]` the category's name, None when missing."""

    machine_ids: Array
    seconds: Array
    numeric: dict[str, Array]
    categorical: dict[str, Array]

    def take(self, keep: Array) -> SlotColumns:
        """The rows where the boolean mask `keep` holds."""
        return SlotColumns(self.machine_ids[keep], self.seconds[keep],
                           {name: column[keep] for name, column in self.numeric.items()},
                           {name: column[keep] for name, column in self.categorical.items()})


def sensor_slots(*, machine_type_id: int) -> list[str]:
    """The type's slot names, read afresh: ingest appends slots on the row, and a caller's
    instance may predate that."""
    def load() -> tuple[str, ...]:
        return tuple(MachineType.objects.values_list("sensor_slots", flat=True).get(id=machine_type_id) or [])

    # Kept per process until the type changes (tenants/row_cache.py; `machine_type_slots` says so).
    return list(tenant_cached("sensor_slots", (machine_type_id,), load))


def slot_values(rows: Sequence[Sequence[float | None] | None], width: int) -> Array:
    """Stored `vals` arrays -> a (rows, width) float64 matrix, NaN for a missing slot. Non-finite
    values stay as stored: each reader decides what they mean."""
    values = np.full((len(rows), width), np.nan)
    for index, vals in enumerate(rows):
        packed = [np.nan if v is None else v for v in (vals or [])][:width]
        values[index, :len(packed)] = packed
    return values


def slot_columns(values: Array, slots: Sequence[str], categories: Mapping[str, Sequence[str]],
                 ) -> tuple[dict[str, Array], dict[str, Array]]:
    """(rows, slots) values -> numeric columns (NaN = missing) and categorical ones (the category
    named by the stored index; None for a missing or out-of-range index)."""
    numeric = {name: values[:, i] for i, name in enumerate(slots) if name not in categories}
    categorical = {
        name: np.array([categories[name][int(v)] if v == v and 0 <= v < len(categories[name]) else None
                        for v in values[:, i]], dtype=object)
        for i, name in enumerate(slots) if name in categories
    }
    return numeric, categorical


def _columns(machine_ids: Sequence[int], seconds: Array, vals: Sequence[Sequence[float | None] | None],
             slots: list[str], categories: Mapping[str, Sequence[str]]) -> SlotColumns:
    numeric, categorical = slot_columns(slot_values(vals, len(slots)), slots, categories)
    return SlotColumns(np.array(machine_ids, dtype=np.int64), seconds, numeric, categorical)


# --- newest readings and the latest window -------------------------------------------------------


def readings_latest(*, machine_ids: Sequence[int]) -> dict[int, datetime]:
    """Each machine's newest reading time (machines without readings are left out); one index
    probe per machine on (machine_id, ts)."""
    if not machine_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT m.id, (SELECT ts FROM machines_reading WHERE machine_id = m.id "
                       "ORDER BY ts DESC LIMIT 1) FROM unnest(%s::bigint[]) AS m(id)", [list(machine_ids)])
        return {int(machine_id): ts for machine_id, ts in cursor.fetchall() if ts is not None}


_WINDOW_SQL = """
    SELECT r.machine_id, extract(epoch FROM r.ts), r.vals
    FROM (SELECT machine_id, max(ts) AS last FROM machines_reading
          WHERE machine_id = ANY(%s) GROUP BY machine_id) latest
    JOIN machines_reading r ON r.machine_id = latest.machine_id AND r.ts > latest.last - %s
    ORDER BY r.machine_id, r.ts
"""
# The window, plus the start of the current run: readings after the latest failure event before
# the latest reading (a failure at the latest reading ends the run being scored), within
# `run_start` of the first of them. One row read by both conditions is returned once.
_WINDOW_AND_RUN_SQL = f"""
    WITH latest AS (
        SELECT machine_id, max(ts) AS last FROM machines_reading WHERE machine_id = ANY(%s) GROUP BY machine_id
    ), runs AS (
        SELECT l.machine_id, l.last,
               (SELECT min(r.ts) FROM machines_reading r WHERE r.machine_id = l.machine_id
                  AND r.ts > coalesce((SELECT max(f.occurred_at) FROM {FAILURE_EVENTS} f
                                       WHERE f.machine_id = l.machine_id AND f.occurred_at < l.last),
                                      '-infinity'::timestamptz)) AS first
        FROM latest l
    )
    SELECT r.machine_id, extract(epoch FROM r.ts), r.vals
    FROM runs JOIN machines_reading r ON r.machine_id = runs.machine_id
     AND (r.ts > runs.last - %s OR (r.ts >= runs.first AND r.ts < runs.first + %s))
    ORDER BY r.machine_id, r.ts
"""


def readings_latest_window(*, machine_type: MachineType, machine_ids: Sequence[int], span: timedelta,
                           run_start: timedelta | None = None) -> SlotColumns:
    """Each machine's readings within `span` before its own newest one, as stored (one row per
    reading); with `run_start`, also those within `run_start` of its current run's first reading."""
    slots = sensor_slots(machine_type_id=machine_type.id)
    with connection.cursor() as cursor:
        if run_start:
            cursor.execute(_WINDOW_AND_RUN_SQL, [list(machine_ids), span, run_start])
        else:
            cursor.execute(_WINDOW_SQL, [list(machine_ids), span])
        rows = cursor.fetchall()
    return _columns([r[0] for r in rows], np.array([float(r[1]) for r in rows]), [r[2] for r in rows], slots,
                    machine_type.schema.categories)


# --- steps -------------------------------------------------------------------------------------


def readings_bucketed(*, machine_type: MachineType, machine_ids: Sequence[int], step_us: int,
                      start: datetime | None = None, end: datetime | None = None,
                      span: timedelta | None = None) -> SlotColumns:
    """The machines' readings bucketed into steps of `step_us` stored microseconds, one row per
    machine and step (numeric slots averaged, categorical ones their last value): all of them;
    or from `start` to `end`; or, with `span`, each machine's within `span` before its newest."""
    slots = sensor_slots(machine_type_id=machine_type.id)
    categories = machine_type.schema.categories
    # Slot indexes are integers we generate, never user text: safe to place in the SQL. Only
    # finite values count (`abs(v) < 'Infinity'` is false for NULL, NaN and +-inf): a NaN or inf
    # stored before the ingest refused them is missing, not a poisoned average.
    finite = "abs(r.vals[{0}]) < 'Infinity'::real"
    aggregates = ", ".join(
        f"(array_agg(r.vals[{i + 1}] ORDER BY r.ts DESC) FILTER (WHERE {finite.format(i + 1)}))[1]"
        if name in categories else f"avg(r.vals[{i + 1}]) FILTER (WHERE {finite.format(i + 1)})"
        for i, name in enumerate(slots)) or "NULL"
    source, params = _bucket_source(list(machine_ids), start, end, span)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r.machine_id, floor(extract(epoch FROM r.ts) * 1000000 / %s), {aggregates} "
                       f"FROM {source} GROUP BY 1, 2 ORDER BY 1, 2", [step_us, *params])
        rows = cursor.fetchall()
    starts = np.array([int(r[1]) * step_us / 1e6 for r in rows])  # bucket starts, stored seconds
    return _columns([r[0] for r in rows], starts, [r[2:] for r in rows], slots, categories)


def _bucket_source(ids: list[int], start: datetime | None, end: datetime | None,
                   span: timedelta | None) -> tuple[str, list[Any]]:
    """The FROM clause (readings aliased `r`) and its parameters."""
    if span is not None:
        return ("(SELECT machine_id, max(ts) AS last FROM machines_reading WHERE machine_id = ANY(%s) "
                "GROUP BY machine_id) latest JOIN machines_reading r ON r.machine_id = latest.machine_id "
                "AND r.ts > latest.last - %s", [ids, span])
    bounds = ""
    params: list[Any] = [ids]
    if start is not None:
        bounds, params = bounds + " AND r.ts >= %s", [*params, start]
    if end is not None:
        bounds, params = bounds + " AND r.ts <= %s", [*params, end]
    return f"machines_reading r WHERE r.machine_id = ANY(%s){bounds}", params


def reading_gap_median(*, machine_ids: Sequence[int], sample: int) -> tuple[float | None, float | None]:
    """(the median gap in stored seconds between consecutive readings of the same machine, over
    each machine's latest `sample` readings: an index scan however long the history; the newest
    reading's epoch seconds). None for what there is nothing to measure on."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FILTER (WHERE gap > 0), max(last) FROM ("
            " SELECT extract(epoch FROM latest.ts - lead(latest.ts) OVER (PARTITION BY m.id ORDER BY latest.ts DESC))"
            " AS gap, extract(epoch FROM latest.ts) AS last FROM unnest(%s::bigint[]) AS m(id) CROSS JOIN LATERAL ("
            "  SELECT ts FROM machines_reading WHERE machine_id = m.id ORDER BY ts DESC LIMIT %s) latest) gaps",
            [list(machine_ids), sample])
        gap, last = cursor.fetchone()
    return (None if gap is None else float(gap)), (None if last is None else float(last))


# --- labels ------------------------------------------------------------------------------------

# For each reading: the first failure of its machine at or after it. Readings after the last
# known failure have none: they are censored (their RUL is unknown, not guessed).
RUL_SQL = f"""
SELECT r.ts, f.occurred_at, f.failure_mode
FROM machines_reading r
LEFT JOIN LATERAL (
    SELECT occurred_at, failure_mode FROM {FAILURE_EVENTS} e
    WHERE e.machine_id = r.machine_id AND e.occurred_at >= r.ts
    ORDER BY e.occurred_at LIMIT 1
) f ON true
WHERE r.machine_id = %s AND (%s::timestamptz IS NULL OR r.ts > %s::timestamptz)
ORDER BY r.ts
LIMIT %s
"""


def rul_labels(*, machine_id: int, after: datetime | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """RUL per reading, None when censored: in seconds (`rul_seconds`) and in the data's own unit
    (`rul`: hours, or cycles for cycle-indexed data, whose readings also carry their `cycle`)."""
    with connection.cursor() as cursor:
        cursor.execute(RUL_SQL, [machine_id, after, after, limit])
        rows = cursor.fetchall()
    return [_rul_row(ts, failure, mode) for ts, failure, mode in rows]


def _rul_row(ts: datetime, failure: datetime | None, mode: str | None) -> dict[str, Any]:
    seconds = (failure - ts).total_seconds() if failure else None
    cycles = ts < CYCLE_DATA_BEFORE  # stored at 1970 + cycle seconds: a second is a cycle
    return {"ts": ts, "cycle": int(ts.timestamp()) if cycles else None, "rul_seconds": seconds,
            "rul": seconds if cycles or seconds is None else seconds / 3600.0,
            "time_unit": "cycles" if cycles else "h", "censored": failure is None, "next_failure_mode": mode}


# --- benchmarks --------------------------------------------------------------------------------


def readings_tail(*, machine_id: int, limit: int) -> list[tuple[datetime, list[float | None]]]:
    """The machine's newest `limit` rows as stored, newest first: the read a chart of "now" makes
    (benchmarks/ingest.py times it as the store grows)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT ts, vals FROM machines_reading WHERE machine_id = %s ORDER BY ts DESC LIMIT %s",
                       [machine_id, limit])
        return list(cursor.fetchall())
