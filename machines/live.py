"""Live readings pushed as JSON (the API and the MQTT bridge): the same checks and store as
file uploads, for up to MAX_READINGS readings per call.

    [{"machine": "Motor-001", "ts": "2026-11-27T10:00:00Z", "values": {"current_a": 12.1}}, ...]

`ts` is ISO 8601 (UTC when it has no offset) or epoch seconds. Readings of unknown machines,
unknown sensors, unparseable times, non-numeric or non-finite values (NaN, infinity, "inf",
1e400: machines/ingest/finite.py) are rejected with their index and a reason; the others are
stored, once (a repeated reading counts as a duplicate).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from django.db import transaction

from machines.ingest.mapping import ColumnMapping
from machines.ingest.memory import MemoryTable
from machines.ingest.store import readings_ingest
from machines.models import Machine, MachineType
from pdm_saas.errors import InvalidInput

MAX_READINGS = 10_000


@dataclass
class PushResult:
    stored: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


def _envelope(items: Any) -> list[Any]:
    if isinstance(items, dict) and "readings" in items:
        items = items["readings"]
    if not isinstance(items, list):
        raise InvalidInput("Send a JSON list of readings (or {\"readings\": [...]}).", code="invalid_readings")
    if not items:
        raise InvalidInput("The list of readings is empty.", code="invalid_readings")
    if len(items) > MAX_READINGS:
        raise InvalidInput(f"At most {MAX_READINGS:,} readings per request; got {len(items):,}.",
                           code="too_many_readings", details={"limit": MAX_READINGS, "got": len(items)})
    return items


def _ts_text(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    return value if isinstance(value, str) else None


def _item_problem(item: Any, machines: dict[str, Machine], sensors: dict[int, set[str]]) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("values"), dict):
        return "each reading must be an object with machine, ts and values"
    machine = machines.get(str(item.get("machine")))
    if machine is None:
        return f"unknown machine {item.get('machine')!r}"
    unknown = sorted(set(item["values"]) - sensors[machine.machine_type_id])
    if unknown:
        return f"unknown sensor(s) {', '.join(map(repr, unknown))} for {machine.machine_type.key}"
    return None


def readings_push(*, items: Any) -> PushResult:
    """Store a batch of live readings in the current tenant, grouped by machine type."""
    readings = _envelope(items)
    names = {str(item.get("machine")) for item in readings if isinstance(item, dict)}
    machines = {m.name: m for m in Machine.objects.select_related("machine_type").filter(name__in=names)}
    sensors = {m.machine_type_id: {s["name"] for s in m.machine_type.sensors} for m in machines.values()}
    result, groups = PushResult(), defaultdict(list)
    for index, item in enumerate(readings):
        problem = _item_problem(item, machines, sensors)
        if problem:
            result.rejected.append({"index": index, "reason": problem})
        else:
            groups[machines[item["machine"]].machine_type_id].append(index)
    with transaction.atomic():
        for type_id, indexes in groups.items():
            _store_group(MachineType.objects.get(id=type_id), [readings[i] for i in indexes], indexes,
                         sorted(sensors[type_id]), result)
    result.rejected.sort(key=lambda row: row["index"])
    return result


def _store_group(machine_type: MachineType, items: list[dict[str, Any]], indexes: list[int],
                 sensor_names: list[str], result: PushResult) -> None:
    columns: dict[str, list[Any]] = {"machine": [i["machine"] for i in items],
                                     "ts": [_ts_text(i.get("ts")) for i in items]}
    for name in sensor_names:
        columns[name] = [None if i["values"].get(name) is None else str(i["values"][name]) for i in items]
    table = pa.table({key: pa.array(values, pa.string()) for key, values in columns.items()})
    mapping = ColumnMapping(time_column="ts", time_format="iso", machine_column="machine",
                            sensors={name: name for name in sensor_names})
    ingested = readings_ingest(source=MemoryTable.of(table), mapping=mapping, machine_type=machine_type)
    result.stored += ingested.rows_stored
    result.duplicates += ingested.duplicates
    result.rejected += [{"index": indexes[row.line], "reason": row.reason} for row in ingested.rejected]
