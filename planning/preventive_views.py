"""The PM plan pages under /planning/pm-plans/: every plan or one machine's (`?machine=<id>`), add,
edit, pause, delete and "Generate now". The forms post plain fields that go through the API's
serializer, so the rules live in one place (planning/preventive_serializers.py)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from machines.models import Machine
from machines.selectors import machine_list
from pdm_saas.page_actions import run_action
from pdm_saas.web_access import can, member_view, page_actor
from planning.preventive import (
    plant_zone,
    preventive_generate_now,
    preventive_occurrence_list,
    preventive_plan_list,
    preventive_plan_rows,
)
from planning.preventive_models import PreventivePlan
from planning.preventive_serializers import PreventivePlanSerializer
from planning.views import _errors

FIELDS = ("machine", "title", "description", "failure_mode", "priority", "estimated_cost", "estimated_downtime_hours",
          "every", "unit", "start_date", "signal", "threshold", "lead_time_days")
OPTIONAL = ("estimated_cost", "estimated_downtime_hours", "threshold")  # blank: none


def _payload(post: QueryDict) -> dict[str, Any]:
    """The form's fields as the API's JSON body."""
    payload: dict[str, Any] = {name: post.get(name, "").strip() for name in FIELDS}
    for name in OPTIONAL:
        payload[name] = payload[name] or None
    payload["is_active"] = post.get("is_active") == "on"
    return payload


def _machine_filter(request: HttpRequest) -> Machine | None:
    text = request.GET.get("machine", "")
    if not text:
        return None
    if not text.isdigit():
        raise Http404("No such machine")
    return get_object_or_404(machine_list(), id=int(text))


def _choices(machine: Machine | None) -> dict[str, Any]:
    """What the form's selects offer: machines by name, failure modes and numeric signals grouped
    by machine type (only the machine's own when the page is one machine's)."""
    machines = [machine] if machine else list(machine_list())
    types = {m.machine_type_id: m.machine_type for m in machines}.values()
    return {
        "machine_choices": [m.name for m in machines],
        "type_options": [{
            "name": t.name,
            "modes": [(str(f["name"]), str(f.get("label") or f["name"]))
                      for f in t.metadata.get("failure_modes") or []],
            "signals": [(str(s["name"]), f"{s.get('label') or s['name']} ({s.get('unit') or 'no unit'})")
                        for s in t.sensors if s.get("kind") == "numeric"],
        } for t in types],
        "units": PreventivePlan.Unit.choices, "priorities": PreventivePlan.Priority.choices,
    }


def _list_context(request: HttpRequest, machine: Machine | None) -> dict[str, Any]:
    plans = preventive_plan_list(machine_id=machine.id if machine else None)
    today = timezone.now().astimezone(plant_zone()).date()
    values = {"machine": machine.name if machine else "", "unit": "months", "every": 3, "priority": "medium",
              "start_date": today.isoformat(), "lead_time_days": 7, "is_active": True}
    return {"machine": machine, "rows": preventive_plan_rows(plans=plans, now=timezone.now()),
            "can_write": can(request, "write"), "values": values, "errors": [], **_choices(machine)}


def _list_url(machine: Machine | None) -> str:
    return reverse("planning:pm-plans") + (f"?machine={machine.id}" if machine else "")


@member_view()
def pm_plan_list(request: HttpRequest) -> HttpResponse:
    """GET: the plans (one machine's with ?machine=<id>). POST: add one."""
    machine = _machine_filter(request)
    context = _list_context(request, machine)
    if request.method != "POST":
        return render(request, "planning/pm_plans.html", context)
    payload = _payload(request.POST)
    serializer = PreventivePlanSerializer(data=payload)
    if not serializer.is_valid():
        context.update(values=payload, errors=_errors(serializer.errors), add_open=True)
        return render(request, "planning/pm_plans.html", context, status=400)
    plan = serializer.save(created_by_id=page_actor(request).user_id)
    messages.success(request, f"Added PM plan \u201c{plan.title}\u201d on {plan.machine.name}.")
    return HttpResponseRedirect(_list_url(machine))


@member_view()
def pm_plan_edit(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(preventive_plan_list(), pk=pk)
    values: dict[str, Any] = {**PreventivePlanSerializer(plan).data, "machine": plan.machine.name}
    errors: list[str] = []
    if request.method == "POST":
        payload = _payload(request.POST)
        serializer = PreventivePlanSerializer(plan, data=payload)
        if serializer.is_valid():
            serializer.save()
            messages.success(request, f"Saved PM plan \u201c{plan.title}\u201d.")
            return HttpResponseRedirect(reverse("planning:pm-plan-edit", args=[plan.id]))
        values, errors = payload, _errors(serializer.errors)
    occurrences = preventive_occurrence_list(plan_id=plan.id)
    return render(request, "planning/pm_plan_edit.html", {
        "plan": plan, "values": values, "errors": errors, "can_write": can(request, "write"),
        "row": preventive_plan_rows(plans=preventive_plan_list().filter(id=plan.id), now=timezone.now())[0],
        "occurrences": occurrences[:50], **_choices(plan.machine),
    }, status=400 if errors else 200)


@require_POST
@member_view()
def pm_plan_generate(request: HttpRequest, pk: int) -> HttpResponse:
    """Generate now: the next occurrence's work order at once."""
    plan = get_object_or_404(preventive_plan_list(), pk=pk)
    return run_action(
        request, lambda: preventive_generate_now(plan_id=plan.id, actor_id=page_actor(request).user_id),
        success=lambda o: f"Generated WO-{o.work_order_id} \u201c{plan.title}\u201d on {plan.machine.name}.",
        redirect_to=_back(request) or reverse("planning:pm-plan-edit", args=[plan.id]))


def _back(request: HttpRequest) -> str | None:
    """The page the button was pressed on (the list, a machine's page), if it is one of ours."""
    back = request.POST.get("next", "")
    return back if back.startswith("/") and url_has_allowed_host_and_scheme(back, allowed_hosts=None) else None


@require_POST
@member_view()
def pm_plan_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete the plan; the work orders it generated stay (they are the record of the work)."""
    plan = get_object_or_404(preventive_plan_list(), pk=pk)
    machine = plan.machine
    plan.delete()
    messages.success(request, f"Deleted PM plan \u201c{plan.title}\u201d; its work orders stay.")
    return HttpResponseRedirect(_list_url(machine))
