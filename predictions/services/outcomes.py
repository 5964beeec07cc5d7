"""Outcome feedback: a model version's predictions joined with what then happened.

A prediction made at `t` (its `window_end`, the last step it saw) with horizon `h` is resolved by
the first of these after `t`:

- a **failure event** (recorded by hand, imported, from labels, or from a work order closed with
  the failure found) at or before `t + h`: the failure happened; a true positive if the prediction
  said failure, else a false negative;
- a **work order closed with no failure found** at or before `t + h`: the machine was inspected and
  was fine (a maintenance visit also starts a new run): a false positive if the prediction said
  failure, else a true negative;
- neither, and `t + h` is in the past: no failure; false positive or true negative;
- neither, and `t + h` is still ahead: **pending**, not counted.

RUL error: |predicted RUL - time from `t` to the machine's next failure|, over predictions with a
RUL that a failure followed, in the data's unit (hours, or cycles).

Cycle-indexed predictions (`window_end` before 1980, see engine/frames.py) are compared in
cycles: `t` is their cycle, the horizon and RUL count cycles, failures are read at their cycle,
and "`t + h` is in the past" means the machine has been scored at or beyond cycle `t + h` (a
cycle machine's clock is its own, not today's date). A work order's wall-clock time has no
place on a cycle axis, so work orders resolve no cycle prediction.

The RUL regressor is capped (docs/models.md), so predictions far before a failure carry their
distance beyond the cap as error: read the MAE with the cap in mind.

The join runs in one Postgres query (lateral look-ups per prediction, then an aggregate), so
a version's hundred thousand predictions never cross the wire. One `OutcomeSnapshot` row per
computation, so the model page can show the metrics over time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from engine.frames import CYCLE_DATA_BEFORE
from predictions.models import ModelVersion, OutcomeSnapshot
from tenants.db import connection

_OUTCOMES_SQL = """
WITH placed AS (
    -- A cycle-indexed prediction stands at cycle x 1 h (one model step per cycle) while its
    -- machine's readings and failures are stored at cycle x 1 s: put it on the stored axis, its
    -- horizon and RUL in seconds, before comparing.
    SELECT p.machine_id, p.predicted_failure AS said, p.rul_h, c.cycles,
           CASE WHEN c.cycles THEN to_timestamp(extract(epoch FROM p.window_end) / 3600.0) ELSE p.window_end END AS t,
           p.horizon_h * CASE WHEN c.cycles THEN interval '1 second' ELSE interval '1 hour' END AS h,
           CASE WHEN c.cycles THEN 1.0 ELSE 3600.0 END AS unit_s
    FROM predictions_prediction p, LATERAL (SELECT p.window_end < %(cycle_before)s AS cycles) c
    WHERE p.model_version_id = %(version)s AND p.created_at >= %(start)s AND p.created_at <= %(now)s
), resolved AS (
    SELECT p.said, p.rul_h,
           extract(epoch FROM nf.at - p.t) / p.unit_s AS to_failure,
           CASE
               WHEN nf.at IS NOT NULL AND nf.at <= p.t + p.h AND (nc.at IS NULL OR nf.at <= nc.at) THEN 'failure'
               WHEN nc.at IS NOT NULL AND nc.at <= p.t + p.h THEN 'fine'
               WHEN p.t + p.h <= CASE WHEN p.cycles THEN seen.at ELSE %(now)s END THEN 'fine'
               ELSE 'pending'
           END AS actual
    FROM placed p
    LEFT JOIN LATERAL (SELECT min(f.occurred_at) AS at FROM predictions_failureevent f
                       WHERE f.machine_id = p.machine_id AND f.occurred_at > p.t) nf ON true
    LEFT JOIN LATERAL (SELECT min(w.closed_at) AS at FROM predictions_workorder w
                       WHERE w.machine_id = p.machine_id AND w.status = 'done' AND w.failure_found IS FALSE
                         AND w.closed_at > p.t) nc ON true
    -- A cycle machine's clock is its own: how far it has been scored, not today's date.
    LEFT JOIN LATERAL (SELECT to_timestamp(extract(epoch FROM max(q.window_end)) / 3600.0) AS at
                       FROM predictions_prediction q
                       WHERE p.cycles AND q.machine_id = p.machine_id AND q.window_end < %(cycle_before)s) seen ON true
)
SELECT count(*) FILTER (WHERE actual = 'failure' AND said),
       count(*) FILTER (WHERE actual = 'fine' AND said),
       count(*) FILTER (WHERE actual = 'fine' AND NOT said),
       count(*) FILTER (WHERE actual = 'failure' AND NOT said),
       count(*) FILTER (WHERE actual = 'pending'),
       avg(abs(rul_h - to_failure)) FILTER (WHERE rul_h IS NOT NULL AND to_failure IS NOT NULL),
       count(*) FILTER (WHERE rul_h IS NOT NULL AND to_failure IS NOT NULL)
FROM resolved
"""


@dataclass(frozen=True)
class Outcomes:
    tp: int
    fp: int
    tn: int
    fn: int
    pending: int
    rul_mae_h: float | None
    rul_count: int

    @property
    def precision(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def fpr(self) -> float | None:
        return _ratio(self.fp, self.fp + self.tn)


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 5) if whole else None


def version_outcomes(*, version_id: int, start: datetime, now: datetime) -> Outcomes:
    """The version's predictions made from `start` to `now`, resolved as the module docstring says."""
    with connection.cursor() as cursor:
        cursor.execute(_OUTCOMES_SQL, {"version": version_id, "start": start, "now": now,
                                       "cycle_before": CYCLE_DATA_BEFORE})
        tp, fp, tn, fn, pending, mae, rul_count = cursor.fetchone()
    return Outcomes(tp=tp, fp=fp, tn=tn, fn=fn, pending=pending,
                    rul_mae_h=None if mae is None else round(float(mae), 3), rul_count=rul_count)


def outcome_snapshot_take(*, version: ModelVersion, days: int | None = None,
                          now: datetime | None = None) -> OutcomeSnapshot:
    """Store the version's live metrics over the last `days` (default: four drift periods, so
    that predictions whose horizon just ended are in it)."""
    end = now or timezone.now()
    start = end - timedelta(days=days or 4 * int(settings.DRIFT_CHECK_DAYS))
    found = version_outcomes(version_id=version.id, start=start, now=end)
    return OutcomeSnapshot.objects.create(
        version=version, window_start=start, window_end=end, tp=found.tp, fp=found.fp, tn=found.tn, fn=found.fn,
        pending=found.pending, precision=found.precision, recall=found.recall, fpr=found.fpr,
        rul_mae_h=found.rul_mae_h, rul_count=found.rul_count,
    )


def outcome_series(*, version: ModelVersion, limit: int = 20) -> list[dict[str, Any]]:
    """The version's latest snapshots, oldest first, for a table or chart."""
    snapshots = list(version.outcome_snapshots.all()[:limit])
    return [{"at": s.created_at, "tp": s.tp, "fp": s.fp, "tn": s.tn, "fn": s.fn, "pending": s.pending,
             "precision": s.precision, "recall": s.recall, "fpr": s.fpr, "rul_mae_h": s.rul_mae_h,
             "rul_count": s.rul_count} for s in reversed(snapshots)]
