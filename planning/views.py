"""The planning page: inputs, "Make a plan", a plan with its schedule, savings and what binds, and
"Accept plan". Every change goes through `planning.services`, as the API does."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.db import IntegrityError, models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from rest_framework import serializers

from jobs.selectors import job_get
from machines.models import MachineType
from machines.selectors import machine_names, machine_type_list
from pdm_saas.errors import ServiceError
from pdm_saas.page_actions import run_action
from pdm_saas.web_access import can, member_view, page_actor
from planning import selectors, services, stock
from planning.models import MaintenancePlan, PartNeed, ProductionWindow, SparePart, Technician
from planning.serializers import (
    PartNeedSerializer,
    ProductionWindowSerializer,
    SparePartSerializer,
    TechnicianSerializer,
)


class PlanForm(forms.Form):
    horizon_days = forms.IntegerField(min_value=1, max_value=services.MAX_HORIZON_DAYS, initial=14)
    budget = forms.DecimalField(min_value=Decimal(0), max_digits=14, decimal_places=2, required=False)


@member_view()
def planning_index(request: HttpRequest) -> HttpResponse:
    return render(request, "planning/index.html", _index_context(request))


@require_POST
@member_view()
def plan_create(request: HttpRequest) -> HttpResponse:
    form = PlanForm(request.POST)
    if not form.is_valid():
        return render(request, "planning/index.html", {**_index_context(request), "form": form}, status=400)
    plan = services.plan_start(horizon_days=form.cleaned_data["horizon_days"], budget=form.cleaned_data["budget"],
                               actor_id=page_actor(request).user_id)
    return HttpResponseRedirect(reverse("planning:plan-detail", args=[plan.id]))


@member_view()
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(selectors.plan_list(), pk=pk)
    return render(request, "planning/plan_detail.html", {
        "plan": plan, "job": job_get(job_id=plan.job_id),
        "result": plan.result or {}, "status_text": selectors.plan_status_text(plan),
        "days": selectors.plan_days(plan), "can_write": can(request, "write"),
    })


# --- costs: every figure a plan prices, in one place ----------------------------------------------


def _number(post: QueryDict, name: str, errors: list[str], label: str) -> float | None:
    text = (post.get(name) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        errors.append(f"{label}: enter a number.")
        return None
    if not value >= 0 or value == float("inf"):
        errors.append(f"{label}: must be 0 or more.")
        return None
    return value


def _costs_form(post: QueryDict, row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The posted figures of one type as `services.type_costs_save` takes them; blanks keep the figure."""
    errors: list[str] = []
    costs = {field: value for field, label in (("downtime_per_hour", "Downtime per hour"),
                                               ("planned_maintenance", "Planned maintenance"),
                                               ("unplanned_failure_multiplier", "Unplanned failure multiplier"))
             if (value := _number(post, field, errors, label)) is not None}
    modes: dict[str, dict[str, float]] = {}
    for mode in row["modes"]:
        for field, label in (("repair_cost", "repair cost"), ("downtime_hours", "downtime hours")):
            value = _number(post, f"mode-{mode['name']}-{field}", errors, f"{mode['label']}, {label}")
            if value is not None:
                modes.setdefault(str(mode["name"]), {})[field] = value
    machines: dict[int, Decimal | None] = {}
    for machine in row["machines"]:
        value = _number(post, f"machine-{machine.id}-downtime", errors, f"{machine.name}, downtime per hour")
        machines[machine.id] = Decimal(str(value)).quantize(Decimal("0.01")) if value is not None else None
    return {"costs": costs, "modes": modes, "machine_costs": machines}, errors


@member_view()
def costs_edit(request: HttpRequest, type_id: int | None = None) -> HttpResponse:
    """GET: every machine type's costs, marked where they are still the library's examples. POST
    (to one type's address): save that type's figures."""
    rows = selectors.costs_page()
    errors: dict[int, list[str]] = {}
    if request.method == "POST":
        row = next((r for r in rows if r["type"].id == type_id), None)
        if row is None:
            raise Http404("No such machine type")
        form, problems = _costs_form(request.POST, row)
        if not problems:
            try:
                services.type_costs_save(type_id=row["type"].id, actor_id=page_actor(request).user_id, **form)
            except ServiceError as exc:
                problems = [exc.message]
        if not problems:
            messages.success(request, f"Saved the costs of {row['type'].name}: plans made from now on use them.")
            return HttpResponseRedirect(reverse("planning:costs") + f"#type-{row['type'].id}")
        errors[row["type"].id] = problems
    return render(request, "planning/costs.html", {"rows": rows, "errors": errors, "can_write": can(request, "write")},
                  status=400 if errors else 200)


@require_POST
@member_view()
def plan_accept_page(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(selectors.plan_list(), pk=pk)
    return run_action(request, lambda: services.plan_accept(plan_id=plan.id, actor_id=page_actor(request).user_id),
                      success=_accepted_text, redirect_to=reverse("planning:plan-detail", args=[plan.id]))


def _accepted_text(plan: MaintenancePlan) -> str:
    counts = plan.result.get("accepted", {})
    return f"Plan accepted: {counts.get('created', 0)} work orders created, {counts.get('updated', 0)} updated."


# --- technicians, spare parts, part needs and production windows ----------------------------------
# The forms post plain fields; they become the API's JSON payload and go through the API's own
# serializers (and `services.technician_user_check`), so the rules live in one place.

WEEKDAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


# The models' own str() name related rows by id: fine in logs, not in a message to a planner.
def _need_text(need: PartNeed) -> str:
    return f"{need.quantity} x {need.part.name} for {need.failure_mode} on {need.machine_type.name}"


def _window_text(window: ProductionWindow) -> str:
    return f"for {window.machine.name}"


@dataclass(frozen=True)
class Reference:
    model: type[models.Model]
    serializer: type[serializers.ModelSerializer[Any]]
    label: str
    describe: Callable[[Any], str] = str  # a row as the messages and the edit page's title name it


REFERENCES: dict[str, Reference] = {
    "technicians": Reference(Technician, TechnicianSerializer, "technician"),
    "parts": Reference(SparePart, SparePartSerializer, "spare part"),
    "needs": Reference(PartNeed, PartNeedSerializer, "part need", _need_text),
    "windows": Reference(ProductionWindow, ProductionWindowSerializer, "production window", _window_text),
}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _ints(values: list[str]) -> list[Any]:
    return [int(v) if v.strip().lstrip("-").isdigit() else v for v in values]  # non-numbers: the serializer says so


def _payload(kind: str, post: QueryDict) -> dict[str, Any]:
    """The form's fields as the API's JSON body."""
    if kind == "technicians":
        # Chosen from the list (one value each); a comma-separated text, as the form took before, still reads.
        return {"name": post.get("name", ""), "skills": [s for value in post.getlist("skills") for s in _split(value)],
                "hours_per_day": post.get("hours_per_day", ""),
                "working_weekdays": _ints(post.getlist("working_weekdays"))}
    if kind == "parts":
        return {"name": post.get("name", ""), "in_stock": post.get("in_stock", ""),
                "reorder_point": post.get("reorder_point") or "0",
                "lead_time_days": post.get("lead_time_days", ""), "unit_cost": post.get("unit_cost", "")}
    if kind == "needs":
        return {"machine_type": post.get("machine_type", ""), "failure_mode": post.get("failure_mode", ""),
                "part": post.get("part", ""), "quantity": post.get("quantity", "")}
    return {"machine": post.get("machine", ""), "weekdays": _ints(post.getlist("weekdays")),
            "dates": _split(post.get("dates", ""))}


def _values(kind: str, instance: models.Model | None, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the form shows: the submitted payload, else the row, as text."""
    if payload is None and instance is not None:
        payload = dict(REFERENCES[kind].serializer(instance).data)
    payload = payload or {}
    values = {key: ", ".join(map(str, value)) if key == "dates" else value for key, value in payload.items()}
    values["skill_set"] = set(payload.get("skills") or [])
    values["checked"] = {str(d) for d in payload.get("working_weekdays" if kind == "technicians" else "weekdays",
                                                      [0, 1, 2, 3, 4] if kind == "technicians" else [])}
    return values


def _errors(detail: Any) -> list[str]:
    """Serializer errors as "field: message" lines."""
    if isinstance(detail, dict):
        return [f"{'' if field == 'non_field_errors' else str(field).replace('_', ' ') + ': '}{message}"
                for field, messages_ in detail.items() for message in (_errors(messages_) if not isinstance(
                    messages_, str) else [messages_])]
    if isinstance(detail, list):
        return [line for item in detail for line in _errors(item)]
    return [str(detail)]


def _save(kind: str, instance: models.Model | None, post: QueryDict,
          actor_id: int | None) -> tuple[models.Model | None, dict[str, Any], list[str]]:
    reference = REFERENCES[kind]
    payload = _payload(kind, post)
    serializer = reference.serializer(instance, data=payload)
    if not serializer.is_valid():
        return None, payload, _errors(serializer.errors)
    try:
        if kind == "technicians":
            services.technician_user_check(user_id=serializer.validated_data.get("user_id"))
        # A part's stock changes only through its ledger: the form's figure is a count.
        if kind == "parts":
            part = instance if isinstance(instance, SparePart) else SparePart()
            saved = stock.spare_part_save(part=part, fields=dict(serializer.validated_data), actor_id=actor_id)
        else:
            saved = serializer.save()
    except ServiceError as exc:
        return None, payload, [exc.message]
    except IntegrityError:
        return None, payload, ["A row with this name already exists."]
    return saved, payload, []


def _field_choices(machine_types: list[MachineType]) -> dict[str, Any]:
    """What the reference forms' selects and checkboxes offer (`machine_types` by name)."""
    failure_modes = selectors.failure_mode_choices(machine_types)
    skill_groups = selectors.skill_choices(machine_types)
    return {
        "skill_groups": skill_groups, "skill_keys": {key for _, choices in skill_groups for key, _ in choices},
        "weekdays": list(enumerate(WEEKDAY_NAMES)),
        "machine_names": machine_names(),
        "machine_types": machine_types, "failure_modes": failure_modes,
        "failure_mode_names": [name for name, _ in failure_modes],
        "part_names": selectors.spare_part_names(),
    }


def _index_context(request: HttpRequest) -> dict[str, Any]:
    summary = selectors.inputs_summary()
    machine_types = list(machine_type_list())
    reserved = stock.parts_reserved()
    for part in summary["parts"]:
        part.reserved = reserved.get(part.id, 0)
    for technician in summary["technicians"]:
        technician.skill_labels = [selectors.skill_label(s, machine_types) for s in technician.skills]
    return {
        **summary, **_field_choices(machine_types), "costs_default": bool(selectors.costs_default_types()),
        "form": PlanForm(), "plans": selectors.plan_list()[:10],
        "can_write": can(request, "write"), "windows": list(selectors.production_window_list()),
        "needs": list(selectors.part_need_list()),
        "parts_low": list(selectors.parts_low()),
        "add_values": {kind: _values(kind, None) for kind in REFERENCES},
    }


@require_POST
@member_view()
def reference_create(request: HttpRequest, kind: str) -> HttpResponse:
    saved, payload, errors = _save(kind, None, request.POST, page_actor(request).user_id)
    if errors:
        context = _index_context(request)
        context["add_values"][kind] = _values(kind, None, payload)
        return render(request, "planning/index.html", {**context, "add_errors": {kind: errors}}, status=400)
    messages.success(request, f"Added {REFERENCES[kind].label} {REFERENCES[kind].describe(saved)}.")
    return HttpResponseRedirect(reverse("planning:index") + f"#{kind}")


@member_view()
def reference_edit(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    reference = REFERENCES[kind]
    instance = get_object_or_404(reference.model, pk=pk)
    errors: list[str] = []
    values = _values(kind, instance)
    if request.method == "POST":
        saved, payload, errors = _save(kind, instance, request.POST, page_actor(request).user_id)
        if not errors:
            messages.success(request, f"Saved {reference.label} {reference.describe(saved)}.")
            return HttpResponseRedirect(reverse("planning:index") + f"#{kind}")
        values = _values(kind, instance, payload)
    return render(request, "planning/reference_edit.html", {
        "kind": kind, "label": reference.label, "instance": instance, "title": reference.describe(instance),
        "values": values, "errors": errors, **_field_choices(list(machine_type_list())),
    }, status=400 if errors else 200)


@require_POST
@member_view()
def reference_delete(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    reference = REFERENCES[kind]
    instance = get_object_or_404(reference.model, pk=pk)
    name = reference.describe(instance)
    instance.delete()
    messages.success(request, f"Deleted {reference.label} {name}.")
    return HttpResponseRedirect(reverse("planning:index") + f"#{kind}")
