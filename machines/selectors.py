"""Reads about machines: readings from the reading store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from machines.models import Machine
from tenants.db import connection


def readings_for_machine(
    *, machine: Machine, start: datetime | None = None, end: datetime | None = None, limit: int = 10_000,
) -> list[tuple[datetime, dict[str, float | None]]]:
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
    return [(ts, {name: value for name, value in zip(slots, vals, strict=False) if value is not None})
            for ts, vals in rows]


def readings_count(*, machine_id: int | None = None) -> int:
    """Readings in the current tenant, or of one machine."""
    with connection.cursor() as cursor:
        if machine_id is None:
            cursor.execute("SELECT count(*) FROM machines_reading")
        else:
            cursor.execute("SELECT count(*) FROM machines_reading WHERE machine_id = %s", [machine_id])
        return int(cursor.fetchone()[0])
