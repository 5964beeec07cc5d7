"""Reads about machines: readings from the reading store."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from machines.models import Machine
from tenants.db import connection


def readings_for_machine(
    *, machine: Machine, start: datetime | None = None, end: datetime | None = None, limit: int = 10_000,
) -> list[tuple[datetime, dict[str, Any]]]:
    """(time, {sensor: value}) of one machine in time order, `start` <= ts < `end`. The values
    are named through the type's sensor slots; slots without a value are left out."""
    slots: list[str] = list(machine.machine_type.sensor_slots or [])
    sql = "SELECT ts, vals FROM machines_reading WHERE machine_id = %s"
    params: list[Any] = [machine.id]
    if start is not None:
        sql, params = sql + " AND ts >= %s", [*params, start]
    if end is not None:
        sql, params = sql + " AND ts < %s", [*params, end]
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY ts LIMIT %s", [*params, limit])
        rows = cursor.fetchall()
    categories = {sensor["name"]: sensor["categories"] for sensor in machine.machine_type.sensors
                  if sensor["kind"] == "categorical"}

    def named(vals: list[float | None]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in zip(slots, vals, strict=False):
            shown = _slot_value(value, categories.get(name))
            if shown is not None:
                values[name] = shown
        return values

    return [(ts, named(vals)) for ts, vals in rows]


def _slot_value(value: float | None, categories: list[str] | None) -> float | str | None:
    """A stored slot as a reader shows it; None (left out) for a value that is no reading: NaN or
    +-inf written before the ingest refused them, or an index naming no category."""
    if value is None or not math.isfinite(value):
        return None
    if categories is None:
        return value
    index = int(value)
    return categories[index] if index == value and 0 <= index < len(categories) else None


def readings_count(*, machine_id: int | None = None) -> int:
    """Readings in the current tenant, or of one machine."""
    with connection.cursor() as cursor:
        if machine_id is None:
            cursor.execute("SELECT count(*) FROM machines_reading")
        else:
            cursor.execute("SELECT count(*) FROM machines_reading WHERE machine_id = %s", [machine_id])
        return int(cursor.fetchone()[0])


def readings_recent(*, machine: Machine, limit: int = 2_000) -> list[tuple[datetime, dict[str, Any]]]:
    """The machine's last `limit` readings, oldest first (what a chart of "now" shows)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(ts) FROM (SELECT ts FROM machines_reading WHERE machine_id = %s "
                       "ORDER BY ts DESC LIMIT %s) recent", [machine.id, limit])
        start = cursor.fetchone()[0]
    if start is None:
        return []
    return readings_for_machine(machine=machine, start=start, limit=limit)
