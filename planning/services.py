"""Writes of the planning app: reference data (technicians, parts, part needs, production
windows), making a plan as a Job, and accepting it into work orders."""

from __future__ import annotations

import copy
from datetime import datetime, time
from datetime import timedelta as td
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from jobs.models import Job
from jobs.services import ProgressFn, job_create, job_enqueue
from machines.models import Machine, MachineType
from machines.services import machine_type_update, machine_update
from maintenance.models import Alert, WorkOrder
from maintenance.services import work_orders
from maintenance.services.work_orders import member_check, member_is
from pdm_saas.errors import Conflict, InvalidInput, NotFound
from planning.inputs import plan_problem
from planning.models import CostsConfirmation, MaintenancePlan, Technician
from planning.optimizer import solve
from planning.reasons import machine_reasons, status_text, worklist
from planning.stock import part_uses_plan

MAX_HORIZON_DAYS = 60
JOB_KIND = "planning.plan"
PLANNED_START = time(8, 0)  # a planned action's work order is scheduled for 08:00 on its day
OPEN_ORDER_STATES = (WorkOrder.Status.OPEN, WorkOrder.Status.SCHEDULED)


def technician_user_check(*, user_id: int | None) -> int | None:
    """A technician may be linked only to a member of this organization."""
    return member_check(user_id=user_id, who="The linked user", field="user")


# --- making a plan ------------------------------------------------------------------------------


def plan_start(*, horizon_days: int, budget: Decimal | None, actor_id: int | None) -> MaintenancePlan:
    """Check the request, create the plan and its job, and queue the job after commit."""
    from planning.tasks import plan_task  # the task module imports this one

    if not 1 <= horizon_days <= MAX_HORIZON_DAYS:
        raise InvalidInput(f"The horizon must be 1 to {MAX_HORIZON_DAYS} days.",
                           details={"horizon_days": [f"between 1 and {MAX_HORIZON_DAYS}"]})
    if budget is not None and budget < 0:
        raise InvalidInput("The budget cannot be negative.", details={"budget": ["must be >= 0"]})
    with transaction.atomic():
        plan = MaintenancePlan.objects.create(start_date=timezone.localdate(), horizon_days=horizon_days,
                                              budget=budget, created_by_id=actor_id)
        job = job_create(kind=JOB_KIND, params={"plan_id": plan.id}, created_by_id=actor_id, queue="default")
        plan.job_id = job.id
        plan.save(update_fields=["job_id"])
        job_enqueue(job=job, task=plan_task)
    return plan


def plan_run(job: Job, progress: ProgressFn) -> dict[str, Any]:
    """The job's handler: read the inputs, solve, store the result on the plan."""
    plan = MaintenancePlan.objects.filter(id=job.params.get("plan_id")).first()
    if plan is None or plan.status != MaintenancePlan.Status.PENDING:
        return {"plan_id": job.params.get("plan_id"), "skipped": "not pending"}
    try:
        progress(10, "Reading predictions, technicians and parts")
        problem, snapshot = plan_problem(plan=plan, now=timezone.now())
        progress(40, f"Solving for {len(problem.machines)} machines")
        solution = solve(problem)
    except Exception as exc:
        MaintenancePlan.objects.filter(id=plan.id).update(status=MaintenancePlan.Status.FAILED, error=str(exc)[:2000])
        raise
    result = solution.as_dict()
    labels = {m["id"]: m.get("failure_mode_label") for m in snapshot["machines"]}
    for action in result["actions"]:
        action["date"] = (plan.start_date + td(days=action["day"])).isoformat()
        action["failure_mode_label"] = labels.get(action["machine_id"]) or action["failure_mode"]
    result["machines"] = machine_reasons(snapshot, result, start=plan.start_date, horizon=plan.horizon_days)
    result["worklist"] = worklist(snapshot, result)
    result["status_text"] = status_text(snapshot, result, horizon=plan.horizon_days)
    result["costs_default"] = any(m.get("costs_default") for m in snapshot["machines"])
    plan.inputs, plan.result, plan.status = snapshot, result, MaintenancePlan.Status.READY
    plan.expected_cost_without = Decimal(str(result["expected_cost_without"]))
    plan.expected_cost_with = Decimal(str(result["expected_cost_with"]))
    plan.save(update_fields=["inputs", "result", "status", "expected_cost_without", "expected_cost_with"])
    progress(95, f"{len(result['actions'])} actions")
    return {"plan_id": plan.id, "actions": len(result["actions"]), "expected_saving": result["expected_saving"]}


# --- accepting a plan ---------------------------------------------------------------------------


def _scheduled_for(plan: MaintenancePlan, day: int) -> datetime:
    return timezone.make_aware(datetime.combine(plan.start_date + td(days=day), PLANNED_START))


def _assignee(technician_id: int) -> int | None:
    technician = Technician.objects.filter(id=technician_id).first()
    if technician is None or technician.user_id is None:
        return None
    return technician.user_id if member_is(user_id=technician.user_id) else None


def _order_fields(plan: MaintenancePlan, action: dict[str, Any]) -> dict[str, Any]:
    return {
        "scheduled_for": _scheduled_for(plan, action["day"]),
        "assignee_id": _assignee(action["technician_id"]),
        "planned_cost": Decimal(str(action["spend"])).quantize(Decimal("0.01")),
        "planned_downtime_hours": Decimal(str(action["hours"])).quantize(Decimal("0.01")),
        "parts": action["parts"],
    }


def _action_order(plan: MaintenancePlan, action: dict[str, Any], actor_id: int | None) -> tuple[WorkOrder, bool]:
    """The machine's open work order updated to the plan, or a new one. True when created."""
    machine_id = action["machine_id"]
    if not Machine.objects.filter(id=machine_id).exists():
        raise Conflict(f"{action['machine']} no longer exists; make a new plan.", code="plan_stale")
    alert = (Alert.objects.filter(machine_id=machine_id, status__in=Alert.ACTIVE)
             .order_by("-probability").first())
    # A PM plan's work order is another job (docs/planning.md, "Preventive plans"): never rescheduled here.
    existing = (WorkOrder.objects.filter(machine_id=machine_id, status__in=OPEN_ORDER_STATES,
                                         preventive_occurrences__isnull=True)
                .order_by("-created_at").first())
    fields = _order_fields(plan, action)
    if existing is not None:
        order = work_orders.work_order_update(order_id=existing.id, actor_id=actor_id, **fields)
        created = False
    else:
        title = f"Planned: {action['failure_mode'].replace('_', ' ')} on {action['machine']}"
        description = (f"{action['action']}\n\nFrom maintenance plan #{plan.id}: expected saving "
                       f"${action['expected_saving']:,.0f}.")
        order = work_orders.work_order_create(machine_id=machine_id, title=title[:200], actor_id=actor_id,
                                              alert_id=alert.id if alert else None, description=description,
                                              **fields)
        created = True
    # Recorded on the order, its parts are reserved: the next plan does not count them again.
    part_uses_plan(order_id=order.id, parts=action["parts"], actor_id=actor_id)
    if order.status == WorkOrder.Status.OPEN:
        order = work_orders.work_order_transition(order_id=order.id, to_status=WorkOrder.Status.SCHEDULED,
                                                  actor_id=actor_id, note=f"Maintenance plan #{plan.id}")
    return order, created


@transaction.atomic
def plan_accept(*, plan_id: int, actor_id: int | None) -> MaintenancePlan:
    """Turn the plan's actions into scheduled work orders, once. All or nothing; accepting an
    accepted plan returns it unchanged."""
    plan = MaintenancePlan.objects.select_for_update().filter(id=plan_id).first()
    if plan is None:
        raise NotFound("No such plan.")
    if plan.status == MaintenancePlan.Status.ACCEPTED:
        return plan
    if plan.status != MaintenancePlan.Status.READY:
        raise Conflict(f"A {plan.status} plan cannot be accepted; wait until it is ready.", code="plan_not_ready")
    result = dict(plan.result)
    created = updated = 0
    for action in result.get("actions", []):
        order, was_created = _action_order(plan, action, actor_id)
        action["work_order_id"] = order.id
        created, updated = created + was_created, updated + (not was_created)
    result["accepted"] = {"created": created, "updated": updated}
    plan.result, plan.status = result, MaintenancePlan.Status.ACCEPTED
    plan.accepted_by_id, plan.accepted_at = actor_id, timezone.now()
    plan.save(update_fields=["result", "status", "accepted_by_id", "accepted_at"])
    return plan


# --- costs ------------------------------------------------------------------------------------------


@transaction.atomic
def type_costs_save(*, type_id: int, costs: dict[str, float], modes: dict[str, dict[str, float]],
                    machine_costs: dict[int, Decimal | None], actor_id: int | None) -> MachineType:
    """Set a machine type's costs (its metadata's `costs` and its failure modes' repair cost and
    downtime, validated as any metadata edit) and its machines' own downtime cost, and record that
    the tenant set them: from then on no figure they drive is marked as a default.

    A machine's downtime cost was copied from its type when it was created: one still equal to the
    type's old figure follows the new one, so changing the type's figure changes the plan."""
    machine_type = MachineType.objects.select_for_update().filter(id=type_id).first()
    if machine_type is None:
        raise NotFound("No such machine type.")
    document = copy.deepcopy(machine_type.metadata)
    old_per_hour = (document.get("costs") or {}).get("downtime_per_hour")
    document.setdefault("costs", {}).update(costs)
    for mode in document.get("failure_modes") or []:
        mode.update(modes.get(str(mode.get("name")), {}))
    if document != machine_type.metadata:
        machine_type = machine_type_update(type_id=type_id, document=document)
    new_per_hour = document["costs"].get("downtime_per_hour")
    for machine in Machine.objects.filter(machine_type_id=type_id):
        wanted = machine_costs.get(machine.id, machine.downtime_cost_per_hour)
        if wanted is not None and old_per_hour is not None and new_per_hour != old_per_hour \
                and wanted == Decimal(str(old_per_hour)):
            wanted = Decimal(str(new_per_hour))
        if wanted != machine.downtime_cost_per_hour:
            machine_update(machine_id=machine.id, downtime_cost_per_hour=wanted)
    CostsConfirmation.objects.update_or_create(machine_type_id=type_id, defaults={"confirmed_by_id": actor_id})
    return machine_type
