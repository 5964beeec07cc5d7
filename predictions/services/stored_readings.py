"""Stored readings as model frames (predictions.frames), read from the reading store.

Readings sit in `machines_reading` as one row per machine and time with a `vals` array, one slot
per sensor in the order of the type's `sensor_slots` (categorical sensors as their category's
index). Two reads:

- `bucketed_frame`: bucketed into model steps inside Postgres (numeric slots averaged, categorical
  ones their last value), so only one row per machine and step crosses the wire. Drift checks and
  real-data training read this way.
- `slot_columns`: raw `vals` rows (scoring's latest window) into the per-sensor columns
  `frame_from_columns` takes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from machines.models import MachineType
from predictions.frames import frame_from_columns
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
    step = step_hours * 3600.0 / time_scale  # in stored seconds
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT r.machine_id, floor(extract(epoch FROM r.ts) / %s) * %s, {aggregates} FROM {source} "
                       "GROUP BY 1, 2 ORDER BY 1, 2", [step, step, *params])
        rows = cursor.fetchall()
    values = np.array([[np.nan if v is None else float(v) for v in row[2:2 + len(slots)]] for row in rows],
                      dtype=np.float64).reshape(len(rows), len(slots))
    numeric, categorical = slot_columns(values, slots, categories)
    return frame_from_columns(np.array([machines[r[0]] for r in rows], dtype=object),
                              np.array([float(r[1]) for r in rows]), numeric, categorical, machine_type.metadata,
                              step_hours=step_hours, time_scale=time_scale)


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
