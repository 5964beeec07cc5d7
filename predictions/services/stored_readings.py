"""Stored readings as model frames (engine.frames), read from the reading store.

Readings sit in `machines_reading` as one row per machine and time with a `vals` array, one slot
per sensor in the order of the type's `sensor_slots` (categorical sensors as their category's
index). Two reads:

- `bucketed_frame`: bucketed into model steps inside Postgres (numeric slots averaged, categorical
  ones their last value), so only one row per machine and step crosses the wire. Drift checks and
  real-data training read this way.
- `slot_columns`: raw `vals` rows (scoring's latest window) into the per-sensor columns
  `frame_from_columns` takes.

`data_step_hours` turns how often the machines report into the model step
(`engine.frames.step_hours_for`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from engine.frames import frame_from_columns, step_hours_for, time_scale_for
from machines.models import MachineType
from tenants.db import connection

Array = np.ndarray


def categories_of(document: Mapping[str, Any]) -> dict[str, list[str]]:
    return {s["name"]: s["categories"] for s in document.get("sensors", []) if s["kind"] == "categorical"}


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


def bucketed_frame(*, machine_type: MachineType, machines: Mapping[int, str], step_hours: float = 1.0,
                   time_scale: float = 1.0, start: datetime | None = None, end: datetime | None = None,
                   span: timedelta | None = None) -> pa.Table:
    """The machines' readings bucketed into model steps: all of them; or from `start` to `end`;
    or, with `span`, each machine's readings within `span` before its own latest one."""
    # Re-read: ingest appends slots on the row, and the caller's instance may predate that.
    slots = list(MachineType.objects.values_list("sensor_slots", flat=True).get(id=machine_type.id) or [])
    categories = categories_of(machine_type.metadata)
    # Slot indexes are integers we generate, never user text: safe to place in the SQL. Only
    # finite values count (`abs(v) < 'Infinity'` is false for NULL, NaN and +-inf): a NaN or inf
    # stored before the ingest refused them is missing, not a poisoned average.
    finite = "abs(r.vals[{0}]) < 'Infinity'::real"
    aggregates = ", ".join(
        f"(array_agg(r.vals[{i + 1}] ORDER BY r.ts DESC) FILTER (WHERE {finite.format(i + 1)}))[1]"
        if name in categories else f"avg(r.vals[{i + 1}]) FILTER (WHERE {finite.format(i + 1)})"
        for i, name in enumerate(slots)) or "NULL"
    source, params = _source(list(machines), start, end, span)
    # In whole stored microseconds, exact in numeric arithmetic as frame_from_columns cuts them.
    step_us = max(1, round(step_hours * 3.6e9 / time_scale))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r.machine_id, floor(extract(epoch FROM r.ts) * 1000000 / %s), {aggregates} "
                       f"FROM {source} GROUP BY 1, 2 ORDER BY 1, 2", [step_us, *params])
        rows = cursor.fetchall()
    values = np.array([[np.nan if v is None else float(v) for v in row[2:2 + len(slots)]] for row in rows],
                      dtype=np.float64).reshape(len(rows), len(slots))
    numeric, categorical = slot_columns(values, slots, categories)
    starts = np.array([int(r[1]) * step_us / 1e6 for r in rows])  # bucket starts, stored seconds
    return frame_from_columns(np.array([machines[r[0]] for r in rows], dtype=object), starts, numeric, categorical,
                              machine_type.metadata, step_hours=step_hours, time_scale=time_scale)


INTERVAL_SAMPLE = 10_000  # latest readings per machine the step is measured on


def data_step_hours(machine_ids: Sequence[int]) -> float:
    """The model step the machines' readings call for (`engine.frames.step_hours_for`): the
    median gap between consecutive readings of the same machine, over each machine's latest
    INTERVAL_SAMPLE readings (an index scan, however long the history), in model time (cycles
    count as hours, `time_scale_for`)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY gap) FILTER (WHERE gap > 0), max(last) FROM ("
            " SELECT extract(epoch FROM latest.ts - lead(latest.ts) OVER (PARTITION BY m.id ORDER BY latest.ts DESC))"
            " AS gap, extract(epoch FROM latest.ts) AS last FROM unnest(%s::bigint[]) AS m(id) CROSS JOIN LATERAL ("
            "  SELECT ts FROM machines_reading WHERE machine_id = m.id ORDER BY ts DESC LIMIT %s) latest) gaps",
            [list(machine_ids), INTERVAL_SAMPLE])
        gap, last = cursor.fetchone()
    scale = time_scale_for(np.array([np.nan if last is None else float(last)]))
    return step_hours_for(None if gap is None else float(gap) * scale)


def _source(ids: list[int], start: datetime | None, end: datetime | None,
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
