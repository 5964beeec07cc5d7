"""Preventive (PM) plans at work: when each is next due, generating its work orders (on schedule
from beat, or "Generate now"), and which repairs they already cover for the optimizer.

The schedule's rules (month ends, missed occurrences) are in planning/preventive_schedule.py;
usage comes from the machine's stored readings (machines/usage.py). docs/planning.md,
"Preventive plans", says it for the people who use them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from machines.models import Machine
from machines.usage import machine_cycles, machine_running_hours
from maintenance.models import WorkOrder
from maintenance.services import work_orders
from pdm_saas.errors import Conflict, NotFound, ServiceError
from planning.preventive_models import PreventiveOccurrence, PreventivePlan
from planning.preventive_schedule import Next, calendar_next, usage_next
from tenants.db import connection

logger = logging.getLogger(__name__)

RATE_DAYS = 14  # a usage plan's next due date is estimated from the last two weeks' usage
DUE_AT = time(8, 0)  # a generated work order is due at 08:00 (the plant's time) on its due date
GENERATING_MACHINES = (Machine.Status.ACTIVE, Machine.Status.MAINTENANCE)  # not inactive or retired
MAX_PER_RUN = 10  # occurrences one plan may generate in one run (a lead time longer than the interval)


# --- reading -----------------------------------------------------------------------------------------


def preventive_plan_list(*, machine_id: int | None = None) -> QuerySet[PreventivePlan]:
    plans = PreventivePlan.objects.select_related("machine", "machine__machine_type")
    return plans.filter(machine_id=machine_id) if machine_id is not None else plans


def plant_zone() -> tzinfo:
    """The organization's time zone (asked at its first upload), else the server's: "today", a due
    date and 08:00 are the plant's."""
    name = getattr(connection.tenant, "time_zone", "")
    return ZoneInfo(name) if name else timezone.get_current_timezone()


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=plant_zone())


def plan_usage(*, plan: PreventivePlan, since: datetime, until: datetime) -> float:
    """The plan's machine's running hours or cycles in [since, until)."""
    measure = machine_running_hours if plan.unit == PreventivePlan.Unit.RUNNING_HOURS else machine_cycles
    return float(measure(machine=plan.machine, signal=plan.signal, threshold=float(plan.threshold or 0),
                         since=since, until=until))


def _last(plan: PreventivePlan) -> tuple[int | None, date | None, float | None]:
    """The latest generated occurrence's number, due date and usage mark (Nones: none yet)."""
    last = plan.occurrences.order_by("-sequence").values_list("sequence", "due_on", "due_usage").first()
    return last if last is not None else (None, None, None)


def preventive_next(*, plan: PreventivePlan, now: datetime) -> Next:
    """The plan's next occurrence to generate, when it is due, and whether it is time."""
    today, (after, last_due, last_usage) = now.astimezone(plant_zone()).date(), _last(plan)
    if plan.by_calendar:
        return calendar_next(start=plan.start_date, every=plan.every, unit=plan.unit, lead_days=plan.lead_time_days,
                             after=after, today=today, last_due=last_due)
    start = _start_of(plan.start_date)
    used = plan_usage(plan=plan, since=start, until=now)
    recent_from = max(start, now - timedelta(days=RATE_DAYS))
    days = (now - recent_from).total_seconds() / 86400
    per_day = plan_usage(plan=plan, since=recent_from, until=now) / days if days > 0 else 0.0
    return usage_next(every=plan.every, used=used, per_day=per_day, lead_days=plan.lead_time_days, after=after,
                      today=today, last_usage=last_usage)


def preventive_occurrence_list(*, plan_id: int) -> QuerySet[PreventiveOccurrence]:
    """The plan's occurrences, newest first, with their work orders."""
    return PreventiveOccurrence.objects.filter(plan_id=plan_id).select_related("work_order").order_by("-sequence")


def preventive_occurrence_of(*, work_order_id: int) -> PreventiveOccurrence | None:
    """The PM plan occurrence that made this work order, with its plan; None for other orders."""
    return (PreventiveOccurrence.objects.select_related("plan", "plan__machine__machine_type")
            .filter(work_order_id=work_order_id).first())


@dataclass(frozen=True)
class PlanRow:
    """A plan as the pages list it: its next occurrence (None when paused or unreadable, with the
    `problem` then) and its latest one."""

    plan: PreventivePlan
    next: Next | None
    latest: PreventiveOccurrence | None
    problem: str = ""


def _row(plan: PreventivePlan, now: datetime) -> PlanRow:
    latest = plan.occurrences.select_related("work_order").order_by("-sequence").first()
    if not plan.is_active:
        return PlanRow(plan, None, latest)
    try:
        return PlanRow(plan, preventive_next(plan=plan, now=now), latest)
    except ServiceError as exc:  # its signal left the machine type since: say so, fix it on the edit page
        return PlanRow(plan, None, latest, exc.message)


def preventive_plan_rows(*, plans: QuerySet[PreventivePlan], now: datetime) -> list[PlanRow]:
    return [_row(plan, now) for plan in plans]


# --- generating work orders -------------------------------------------------------------------------


def _due_at(day: date | None) -> datetime | None:
    return datetime.combine(day, DUE_AT, tzinfo=plant_zone()) if day is not None else None


def _order_for(plan: PreventivePlan, upcoming: Next, actor_id: int | None) -> WorkOrder:
    """The occurrence's work order: the plan's title, description, priority and estimates."""
    return work_orders.work_order_create(
        machine_id=plan.machine_id, title=plan.title, actor_id=actor_id, failure_mode=plan.failure_mode,
        description=plan.description, priority=plan.priority, due_at=_due_at(upcoming.due_on),
        planned_cost=plan.estimated_cost, planned_downtime_hours=plan.estimated_downtime_hours)


def _generate(plan: PreventivePlan, upcoming: Next, trigger: str, actor_id: int | None) -> PreventiveOccurrence | None:
    """Insert the occurrence, then its work order; None when another run inserted it first."""
    try:
        with transaction.atomic():  # a savepoint: the duplicate's failure leaves the caller's transaction usable
            occurrence = PreventiveOccurrence.objects.create(
                plan=plan, sequence=upcoming.sequence, due_on=upcoming.due_on, due_usage=upcoming.due_usage,
                trigger=trigger, created_by_id=actor_id)
    except IntegrityError:
        return None
    occurrence.work_order = _order_for(plan, upcoming, actor_id)
    occurrence.save(update_fields=["work_order"])
    return occurrence


def _locked_plan(plan_id: int) -> PreventivePlan | None:
    # The row lock makes two runs take turns; the second then finds the occurrence already there.
    return (PreventivePlan.objects.select_for_update(of=("self",)).select_related("machine__machine_type")
            .filter(id=plan_id).first())


@transaction.atomic
def _plan_generate_due(plan_id: int, now: datetime) -> PreventiveOccurrence | None:
    plan = _locked_plan(plan_id)
    if plan is None or not plan.is_active or plan.machine.status not in GENERATING_MACHINES:
        return None
    upcoming = preventive_next(plan=plan, now=now)
    return _generate(plan, upcoming, PreventiveOccurrence.Trigger.SCHEDULE, None) if upcoming.ready else None


def preventive_due_generate(*, now: datetime | None = None) -> int:
    """Beat's run in one tenant: a work order for every occurrence whose due date minus the lead
    time has come. Safe to run twice, or twice at once: an occurrence is generated once. A plan
    that cannot be read (its signal left the machine type) is logged and skipped."""
    now = now or timezone.now()
    generated = 0
    for plan_id in PreventivePlan.objects.filter(is_active=True).values_list("id", flat=True):
        for _ in range(MAX_PER_RUN):
            try:
                occurrence = _plan_generate_due(plan_id, now)
            except ServiceError as exc:
                logger.warning("PM plan %s skipped: %s", plan_id, exc.message)
                break
            if occurrence is None:
                break
            generated += 1
    return generated


@transaction.atomic
def preventive_generate_now(*, plan_id: int, actor_id: int | None, now: datetime | None = None) -> PreventiveOccurrence:
    """"Generate now": the next occurrence's work order at once, whatever its due date; the schedule
    continues from the one after it. Refused while the plan's previous work order is still open,
    so that a second press (or a double click) does not make the same job twice."""
    plan = _locked_plan(plan_id)
    if plan is None:
        raise NotFound("No such PM plan.")
    latest = plan.occurrences.select_related("work_order").order_by("-sequence").first()
    if latest is not None and latest.work_order is not None and latest.work_order.status in WorkOrder.LIVE:
        raise Conflict(f"WO-{latest.work_order_id} from this PM plan is still {latest.work_order.get_status_display()}"
                       "; close or cancel it before generating the next one.", code="pm_order_open",
                       details={"work_order": [str(latest.work_order_id)]})
    upcoming = preventive_next(plan=plan, now=now or timezone.now())
    occurrence = _generate(plan, upcoming, PreventiveOccurrence.Trigger.MANUAL, actor_id)
    if occurrence is None:  # another request generated it between our read and insert
        raise Conflict("This occurrence was just generated; reload the plan.", code="pm_generated")
    return occurrence


# --- what the optimizer must not schedule twice ---------------------------------------------------------


def _when(day: date | None) -> str:
    return f"on {day:%a} {day.day} {day:%b %Y}" if day is not None else "without a due date"


def preventive_covered(*, start: date, horizon_days: int, now: datetime) -> dict[tuple[int, str], str]:
    """(machine id, failure mode) -> why the optimizer leaves that repair out: a PM job that does
    it is due before the plan's horizon ends (docs/planning.md, "Preventive plans and the
    optimizer"). Only PM plans that name a failure mode cover one; a general job (lubrication,
    an inspection) covers none."""
    end = start + timedelta(days=horizon_days)
    covered: dict[tuple[int, str], str] = {}
    orders = (WorkOrder.objects.filter(status__in=WorkOrder.LIVE, preventive_occurrences__isnull=False)
              .exclude(failure_mode="").select_related("machine").prefetch_related("preventive_occurrences__plan"))
    for order in orders:
        due = order.due_at.astimezone(plant_zone()).date() if order.due_at else None
        if due is None or due < end:
            plan = order.preventive_occurrences.all()[0].plan
            covered[(order.machine_id, order.failure_mode)] = (
                f"preventive work order WO-{order.id} (PM plan \u201c{plan.title}\u201d) is due {_when(due)}, "
                "within the plan's days, and does this repair")
    for plan in preventive_plan_list().filter(is_active=True, machine__status__in=GENERATING_MACHINES) \
            .exclude(failure_mode=""):
        key = (plan.machine_id, plan.failure_mode)
        if key in covered:
            continue
        try:
            upcoming = preventive_next(plan=plan, now=now)
        except ServiceError:  # a usage plan whose signal left the type covers nothing until fixed
            continue
        if upcoming.due_on is not None and upcoming.due_on < end:
            covered[key] = (f"PM plan \u201c{plan.title}\u201d does this repair {_when(upcoming.due_on)}, "
                            "within the plan's days")
    return covered
