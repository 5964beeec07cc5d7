"""How much a machine was used, from its stored readings: running hours and cycles.

Preventive plans by usage (planning/preventive.py) read these; only `machines` queries the readings
table, so the counting happens here, inside Postgres, one machine and one period at a time.

- Running: a reading whose `signal` is at or above `threshold` (a speed above 100 rpm, a current
  above 2 A, a "running" flag of 1). The time from a running reading to the next reading counts as
  running, unless the gap is longer than `MAX_GAP`: a machine that stopped reporting is not known
  to have run, so such a gap counts for nothing.
- Cycles: the readings where the signal goes from below the threshold to at or above it (a start).
  The period's first reading has nothing before it inside the period and starts no cycle.

A missing value (a NULL slot, or NaN) is neither running nor stopped: it ends a running stretch
and is skipped for cycle starts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from machines.models import Machine
from machines.reading_store import sensor_slots
from pdm_saas.errors import InvalidInput
from tenants.db import connection

MAX_GAP = timedelta(hours=6)

# `lead` and `lag` over the machine's readings in the period, ordered by time. NaN is turned into
# NULL: Postgres sorts NaN above every number, so `NaN >= threshold` would read as running.
_STEPS = """
    SELECT ts, v, lead(ts) OVER w AS next_ts, lag(v) OVER w AS prev_v
    FROM (SELECT ts, NULLIF(vals[%(slot)s], 'NaN'::real) AS v FROM machines_reading
          WHERE machine_id = %(machine)s AND ts >= %(since)s AND ts < %(until)s) r
    WINDOW w AS (ORDER BY ts)
"""
_RUNNING_SQL = f"""
    SELECT coalesce(sum(extract(epoch FROM next_ts - ts)), 0) / 3600.0
    FROM ({_STEPS}) s
    WHERE v >= %(threshold)s AND next_ts - ts <= %(max_gap)s
"""
_CYCLES_SQL = f"""
    SELECT count(*) FROM ({_STEPS}) s WHERE v >= %(threshold)s AND prev_v < %(threshold)s
"""


def signal_slot(*, machine: Machine, signal: str) -> int | None:
    """The 1-based array index of the machine type's numeric `signal` in a stored reading, None
    while no reading has carried it yet (nothing was used); 400 naming the signal when the type
    has no such numeric sensor."""
    numeric = {str(s.get("name")) for s in machine.machine_type.sensors if s.get("kind", "numeric") == "numeric"}
    if signal not in numeric:
        raise InvalidInput(f"{machine.name} has no numeric signal {signal!r}.",
                           details={"signal": [f"one of {sorted(numeric)}"]})
    slots = sensor_slots(machine_type_id=machine.machine_type_id)
    return slots.index(signal) + 1 if signal in slots else None


def _measure(sql: str, machine: Machine, signal: str, threshold: float, since: datetime,
             until: datetime) -> float:
    slot = signal_slot(machine=machine, signal=signal)
    if slot is None:
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute(sql, {"slot": slot, "machine": machine.id, "since": since, "until": until,
                             "threshold": threshold, "max_gap": MAX_GAP})
        return float(cursor.fetchone()[0])


def machine_running_hours(*, machine: Machine, signal: str, threshold: float, since: datetime,
                          until: datetime) -> float:
    """Hours in [since, until) during which `signal` was at or above `threshold`."""
    return _measure(_RUNNING_SQL, machine, signal, threshold, since, until)


def machine_cycles(*, machine: Machine, signal: str, threshold: float, since: datetime, until: datetime) -> int:
    """Starts in [since, until): readings where `signal` rose from below `threshold` to at or above it."""
    return int(_measure(_CYCLES_SQL, machine, signal, threshold, since, until))
