"""Each machine's own normal: which stretch of its readings it is learned from, how far along that
stretch is, and its statistics once complete (docs/models.md, "Each machine's own normal").

A machine's baseline is its first readings: 7 days of clock-time readings, or for cycle-indexed
machines 10% of the type's typical life in cycles (when the metadata gives `hours_per_cycle`
and mean times to failure) or 20 cycles; the type's optional `baseline` field (`{"days": 3}`,
`{"cycles": 30}`) overrides either. A closed work order that found a failure (a repair) and the
"Relearn normal" action start a new one from the readings after it. Until the stretch is
complete the machine is "learning its normal" and shows its progress instead of a verdict.

A machine with operating regimes learns them with its peers: the stretches of up to `PEERS`
other machines of the type whose normal is learned join its own, so one day of a machine that
switches between six set points still has regime levels (fleet means plus its own offset).

Reads of the reading store stay in machines/ (the app that owns it); the statistics themselves
are `engine.baselines` (pure).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db import transaction
from django.utils import timezone

from engine.baselines import Baseline, baseline_from_frame
from engine.features import document_signals
from engine.frames import CYCLE_DATA_BEFORE, frame_from_columns
from engine.metadata import hours_per_cycle
from engine.synthetic.scales import TimeScale, type_time_scale
from machines.models import Machine, MachineBaseline, MachineType
from pdm_saas.errors import InvalidInput, NotFound
from tenants.db import connection

DEFAULT_DAYS = 7.0
DEFAULT_CYCLES = 20
MAX_DEFAULT_STEPS = 48  # model steps a clock-time baseline takes at most, unless the metadata says
LIFE_SHARE = 0.1  # of the typical life, for cycle-indexed machines
FIRST_READINGS = "first readings"
LEARNING, READY = "learning", "ready"
PEERS = 50  # other machines' stretches a new baseline's regimes are learned with


@dataclass(frozen=True)
class BaselineStatus:
    """What the pages and the API show: learning (with progress) or ready, since when, and why."""

    state: str
    progress: int  # 0-100; 100 only once ready
    since: datetime | None  # the first reading of the stretch; None before any
    reason: str

    @property
    def learning(self) -> bool:
        return self.state == LEARNING

    @property
    def label(self) -> str:
        return f"learning its normal ({self.progress}%)" if self.learning else "own normal learned"

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "progress": self.progress,
                "since": self.since.isoformat() if self.since else None, "reason": self.reason}


def baseline_length(document: Mapping[str, Any], *, cycle_indexed: bool) -> tuple[int, float]:
    """(steps, stored seconds a step) of a machine's baseline: an hour of clock time a step, or
    one cycle (stored as one second after 1970) a step."""
    override = document.get("baseline") or {}
    if cycle_indexed:
        return int(override.get("cycles") or _life_cycles(document) or DEFAULT_CYCLES), 1.0
    if override.get("days"):
        return max(1, round(float(override["days"]) * 24)), 3600.0
    # A week, or MAX_DEFAULT_STEPS of the type's model steps where those are short: a milling
    # machine stepping every 30 min has its normal after a day, not after 336 steps.
    step_hours = type_time_scale(dict(document)).step_hours
    return max(1, round(min(DEFAULT_DAYS * 24, MAX_DEFAULT_STEPS * step_hours))), 3600.0


def baseline_model_steps(document: Mapping[str, Any], scale: TimeScale) -> int:
    """A machine's baseline in model steps at `scale` (cold-start training measures the simulated
    machines' baseline noise over as many steps as a real machine's baseline holds)."""
    steps, stored_seconds = baseline_length(document, cycle_indexed=scale.cycles)
    if scale.cycles:
        return steps
    return max(1, round(steps * stored_seconds / 3600 / scale.step_hours))


def _life_cycles(document: Mapping[str, Any]) -> int | None:
    per_cycle = hours_per_cycle(document)
    rates = [1 / m["mean_time_to_failure_hours"] for m in document.get("failure_modes", [])
             if m.get("mean_time_to_failure_hours")]
    if not per_cycle or not rates:
        return None
    life_h = 1 / sum(rates)  # competing modes: the first to fail ends the machine's run
    return max(1, round(LIFE_SHARE * life_h / per_cycle))


# --- reads --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Coverage:
    first: datetime | None  # first reading after the period start
    last: datetime | None  # latest reading


_COVERAGE_SQL = """
    SELECT b.machine_id,
           (SELECT r.ts FROM machines_reading r WHERE r.machine_id = b.machine_id
              AND r.ts > coalesce(b.after, '-infinity'::timestamptz) ORDER BY r.ts LIMIT 1),
           (SELECT r.ts FROM machines_reading r WHERE r.machine_id = b.machine_id ORDER BY r.ts DESC LIMIT 1)
    FROM unnest(%s::bigint[], %s::timestamptz[]) AS b(machine_id, after)
"""


def _coverage(starts: Mapping[int, datetime | None]) -> dict[int, _Coverage]:
    """Each machine's first reading after its start and its latest reading: two index look-ups."""
    if not starts:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_COVERAGE_SQL, [list(starts), list(starts.values())])
        return {row[0]: _Coverage(row[1], row[2]) for row in cursor.fetchall()}


def _current(machine_ids: Iterable[int]) -> dict[int, MachineBaseline]:
    rows = (MachineBaseline.objects.filter(machine_id__in=list(machine_ids))
            .order_by("machine_id", "-created_at", "-id").distinct("machine_id"))
    return {row.machine_id: row for row in rows}


def _share_covered(coverage: _Coverage, steps: int, step_seconds: float) -> float:
    """How much of a stretch of `steps` steps the readings since its start cover (1 = complete)."""
    if coverage.first is None or coverage.last is None:
        return 0.0
    return ((coverage.last - coverage.first).total_seconds() / step_seconds + 1) / max(steps, 1)


def _status(row: MachineBaseline | None, coverage: _Coverage, document: Mapping[str, Any]) -> BaselineStatus:
    if row is not None and row.ready_at is not None:
        return BaselineStatus(READY, 100, coverage.first, row.reason)
    cycles = coverage.first is not None and coverage.first < CYCLE_DATA_BEFORE
    steps, step_seconds = ((row.steps_needed, row.step_seconds) if row is not None
                           else baseline_length(document, cycle_indexed=cycles))
    share = _share_covered(coverage, steps, step_seconds)
    # 99 at most until the statistics are in: "100%" and still learning would read as stuck.
    return BaselineStatus(LEARNING, min(99, int(100 * share)), coverage.first,
                          row.reason if row is not None else FIRST_READINGS)


def baseline_statuses(*, machines: Sequence[Machine]) -> dict[int, BaselineStatus]:
    """Each machine's baseline status, in two queries whatever the number of machines."""
    if not machines:
        return {}
    current = _current(m.id for m in machines)
    coverage = _coverage({m.id: current[m.id].period_start if m.id in current else None for m in machines})
    return {m.id: _status(current.get(m.id), coverage[m.id], m.machine_type.metadata) for m in machines}


def baseline_status(*, machine: Machine) -> BaselineStatus:
    return baseline_statuses(machines=[machine])[machine.id]


# --- writes -------------------------------------------------------------------------------------


def _latest_reading(machine_id: int) -> datetime | None:
    return _coverage({machine_id: None})[machine_id].last


def _start(machine: Machine, *, after: datetime | None, reason: str, actor_id: int | None) -> MachineBaseline:
    cycles = after is not None and after < CYCLE_DATA_BEFORE
    steps, step_seconds = baseline_length(machine.machine_type.metadata, cycle_indexed=cycles)
    return MachineBaseline.objects.create(machine=machine, period_start=after, reason=reason[:200],
                                          steps_needed=steps, step_seconds=step_seconds, created_by_id=actor_id)


def reset_reason(*, actor_id: int | None) -> str:
    """"reset by <who>": the user's name, else their email; "reset" alone for no user."""
    from accounts.models import User

    user = User.objects.filter(id=actor_id).only("full_name", "email").first() if actor_id else None
    return f"reset by {user.full_name or user.email}" if user is not None else "reset"


@transaction.atomic
def machine_baseline_reset(*, machine_id: int, reason: str, actor_id: int | None = None) -> MachineBaseline:
    """Start a new baseline from the readings after the machine's latest one (a repair, a move,
    a new operating point). Refused when the machine has no readings: it is learning its first
    normal already, from the first readings that arrive."""
    machine = Machine.objects.select_related("machine_type").filter(id=machine_id).first()
    if machine is None:
        raise NotFound("No such machine.")
    latest = _latest_reading(machine.id)
    if latest is None:
        raise InvalidInput(f"{machine.name} has no readings yet, so there is no normal to relearn: it learns its "
                           "normal from its first readings as they arrive.", code="no_readings")
    return _start(machine, after=latest, reason=reason, actor_id=actor_id)


def machine_baseline_after_repair(*, machine_id: int, work_order_id: int) -> MachineBaseline | None:
    """A repair changes the machine's normal: a new baseline from the readings after it. None for a
    machine with no readings (its first baseline still lies ahead)."""
    machine = Machine.objects.select_related("machine_type").get(id=machine_id)
    latest = _latest_reading(machine.id)
    if latest is None:
        return None
    return _start(machine, after=latest, reason=f"after work order #{work_order_id}", actor_id=None)


def machine_baselines_refresh(*, machine_type: MachineType, machines: Mapping[int, str], step_hours: float,
                              time_scale: float) -> tuple[dict[str, Baseline], dict[str, int]]:
    """For scoring: the ready baselines by machine name, and the progress (0-99) of the machines
    still learning. A machine without a baseline row gets its "first readings" one; a learning
    one whose stretch is complete gets its statistics, at the models' step, and becomes ready."""
    current = _current(machines)
    for machine in Machine.objects.select_related("machine_type").filter(id__in=set(machines) - set(current)):
        current[machine.id] = _start(machine, after=None, reason=FIRST_READINGS, actor_id=None)
    # Only a machine still learning needs its readings' span; a learned normal (the steady state
    # of every prediction) costs no look at the readings.
    coverage = _coverage({i: row.period_start for i, row in current.items() if row.ready_at is None or not row.stats})
    complete = [row for i, row in current.items()
                if row.ready_at is None and _share_covered(coverage[i], row.steps_needed, row.step_seconds) >= 1]
    if complete:
        _complete(complete, machine_type, machines, step_hours, time_scale)
    ready: dict[str, Baseline] = {}
    learning: dict[str, int] = {}
    for machine_id, row in current.items():
        if row.ready_at is not None and row.stats:
            ready[machines[machine_id]] = Baseline.from_json(row.stats)
        else:
            learning[machines[machine_id]] = _status(row, coverage[machine_id], machine_type.metadata).progress
    return ready, learning


def _complete(rows: list[MachineBaseline], machine_type: MachineType, names: Mapping[int, str], step_hours: float,
              time_scale: float) -> None:
    """Statistics for the machines whose stretch is complete, all at once (regime detection is the
    costly part, so one pass per scoring run), with the stretches of up to `PEERS` other machines
    of the type whose normal is learned: regimes and their levels come from all of them (a short
    stretch holds few rows of each regime), each machine's own offset from its own rows."""
    peers = list(MachineBaseline.objects.filter(machine__machine_type=machine_type, ready_at__isnull=False)
                 .exclude(machine_id__in=[row.machine_id for row in rows]).order_by("machine_id", "-created_at", "-id")
                 .distinct("machine_id").select_related("machine")[:PEERS])
    named = {**{peer.machine_id: peer.machine.name for peer in peers}, **{row.machine_id: names[row.machine_id]
                                                                          for row in rows}}
    frame = _windows_frame([*rows, *peers], named, machine_type, step_hours, time_scale)
    baselines = baseline_from_frame(frame, signals=document_signals(machine_type.schema),
                                    steps=max(frame.num_rows, 1))
    now = timezone.now()
    for row in rows:
        baseline = baselines.get(names[row.machine_id])
        if baseline is not None:
            row.stats = {**baseline.to_json(), "step_hours": step_hours, "time_scale": time_scale}
            row.ready_at = now
            row.save(update_fields=["stats", "ready_at"])


# Each machine's stretch: from its first reading after the period start, for steps x step seconds.
_WINDOWS_SQL = """
    SELECT w.machine_id, extract(epoch FROM r.ts), r.vals
    FROM unnest(%s::bigint[], %s::timestamptz[], %s::float8[]) AS w(machine_id, after, seconds)
    CROSS JOIN LATERAL (SELECT min(ts) AS first FROM machines_reading
                        WHERE machine_id = w.machine_id AND ts > coalesce(w.after, '-infinity'::timestamptz)) f
    JOIN machines_reading r ON r.machine_id = w.machine_id AND r.ts >= f.first
     AND r.ts < f.first + w.seconds * interval '1 second'
    ORDER BY 1, 2
"""


def _windows_frame(rows: Sequence[MachineBaseline], names: Mapping[int, str], machine_type: MachineType,
                   step_hours: float, time_scale: float) -> Any:
    slots = list(MachineType.objects.values_list("sensor_slots", flat=True).get(id=machine_type.id) or [])
    categorical = set(machine_type.schema.categories)
    with connection.cursor() as cursor:
        cursor.execute(_WINDOWS_SQL, [[r.machine_id for r in rows], [r.period_start for r in rows],
                                      [r.steps_needed * r.step_seconds for r in rows]])
        fetched = cursor.fetchall()
    values = np.full((len(fetched), len(slots)), np.nan)
    for i, (_, _, vals) in enumerate(fetched):
        packed = [np.nan if v is None else v for v in (vals or [])][:len(slots)]
        values[i, :len(packed)] = packed
    numeric = {slot: values[:, i] for i, slot in enumerate(slots) if slot not in categorical}
    machines = np.array([names[r[0]] for r in fetched], dtype=object)
    return frame_from_columns(machines, np.array([float(r[1]) for r in fetched]), numeric, {},
                              machine_type.metadata, step_hours=step_hours, time_scale=time_scale)
