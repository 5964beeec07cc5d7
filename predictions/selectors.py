"""Reads about labels: failure events and the remaining-useful-life of each reading."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tenants.db import connection

# For each reading: the first failure of its machine at or after it. Readings after the last
# known failure have none: they are censored (their RUL is unknown, not guessed).
RUL_SQL = """
SELECT r.ts, f.occurred_at, f.failure_mode
FROM machines_reading r
LEFT JOIN LATERAL (
    SELECT occurred_at, failure_mode FROM predictions_failureevent e
    WHERE e.machine_id = r.machine_id AND e.occurred_at >= r.ts
    ORDER BY e.occurred_at LIMIT 1
) f ON true
WHERE r.machine_id = %s AND (%s::timestamptz IS NULL OR r.ts > %s::timestamptz)
ORDER BY r.ts
LIMIT %s
"""


def rul_labels(*, machine_id: int, after: datetime | None = None, limit: int = 1000) -> list[dict[str, Any]]:
    """RUL in seconds per reading (for cycle data, seconds are cycles); None when censored."""
    with connection.cursor() as cursor:
        cursor.execute(RUL_SQL, [machine_id, after, after, limit])
        rows = cursor.fetchall()
    return [
        {"ts": ts, "rul_seconds": (failure - ts).total_seconds() if failure else None,
         "censored": failure is None, "next_failure_mode": mode}
        for ts, failure, mode in rows
    ]
