"""Readings sent to be scored, in the live-push shape (docs/ingest.md):

    [{"machine": "Motor-001", "ts": "2026-11-27T10:00:00Z", "values": {"current_a": 12.1}}, ...]

Unlike a push, a scoring request is all or nothing: one bad row refuses the request with every
problem listed by index, since a prediction from a silently shortened history would mislead.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from engine.frames import Reading
from machines.models import Machine, MachineType
from pdm_saas.errors import InvalidInput

MAX_PROBLEMS = 50


def scoring_readings(*, items: Any, limit: int, machine: Machine | None = None) -> tuple[MachineType, list[Reading]]:
    """Validated readings and their machine type; `machine` fixes the machine for every row."""
    if isinstance(items, dict) and "readings" in items:
        items = items["readings"]
    if not isinstance(items, list) or not items:
        raise InvalidInput("Send a non-empty JSON list of readings: [{machine, ts, values}, ...].",
                           code="invalid_readings")
    if len(items) > limit:
        raise InvalidInput(f"At most {limit:,} rows per request; got {len(items):,}.", code="too_many_readings",
                           details={"limit": limit, "got": len(items)})
    names = {str(machine.name if machine else item.get("machine")) for item in items if isinstance(item, dict)}
    machines = {m.name: m for m in Machine.objects.select_related("machine_type").filter(name__in=names)}
    types = {m.machine_type_id for m in machines.values()}
    if len(types) > 1:
        raise InvalidInput("A request scores machines of one type; split it by machine type.",
                           code="mixed_machine_types")
    readings, problems = [], []
    for index, item in enumerate(items):
        reading, problem = _reading(item, machine, machines)
        if problem:
            problems.append({"index": index, "reason": problem})
        elif reading is not None:
            readings.append(reading)
    if problems:
        raise InvalidInput(f"{len(problems)} of {len(items)} rows cannot be scored; nothing was scored.",
                           code="invalid_readings", details={"rows": problems[:MAX_PROBLEMS]})
    return next(iter(machines.values())).machine_type, readings


def _reading(item: Any, machine: Machine | None, machines: dict[str, Machine]) -> tuple[Reading | None, str | None]:
    if not isinstance(item, dict) or not isinstance(item.get("values"), dict):
        return None, "each row must be an object with ts and values (and machine, unless the URL names it)"
    name = machine.name if machine else str(item.get("machine"))
    found = machines.get(name)
    if found is None:
        return None, f"unknown machine {item.get('machine')!r}"
    ts = _parse_ts(item.get("ts"))
    if ts is None:
        return None, f"ts {item.get('ts')!r} is not ISO 8601 or epoch seconds"
    sensors = {s["name"]: s for s in found.machine_type.sensors}
    unknown = sorted(set(item["values"]) - set(sensors))
    if unknown:
        return None, f"unknown sensor(s) {', '.join(map(repr, unknown))} for {found.machine_type.key}"
    for sensor, value in item["values"].items():
        problem = _value_problem(sensors[sensor], value)
        if problem:
            return None, problem
    return (name, ts, item["values"]), None


def _value_problem(sensor: dict[str, Any], value: Any) -> str | None:
    if value is None:
        return None
    if sensor["kind"] == "categorical":
        return None if value in sensor["categories"] else (
            f"{sensor['name']} is {value!r}; expected one of {', '.join(sensor['categories'])}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{sensor['name']} is {value!r}; expected a number or null"
    if not _finite(value):  # JSON 1e400 arrives as inf; NaN/Infinity literals from lenient clients
        return f"{sensor['name']} is {value!r}; expected a finite number (not NaN or infinity) or null"
    return None


def _finite(value: int | float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _parse_ts(value: Any) -> datetime | None:
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, tz=UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError):
        return None
    return None
