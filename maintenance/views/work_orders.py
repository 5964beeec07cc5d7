"""The work-order board, a new work order by hand, and each work order's page with its history.

Every change goes through `maintenance.services.work_orders`, exactly as the API does
(`maintenance/api.py`), and every read through `maintenance.selectors`; these views only parse
forms, call one service and render, and answer with a redirect, so the pages work the same
without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.selectors import membership_list
from engine.metadata import failure_mode_label as metadata_mode_label
from machines.models import Machine, MachineType
from maintenance import selectors
from maintenance.models import Alert, WorkOrder, WorkOrderEvent
from maintenance.selectors import CLOSED_STATES, BoardColumn
from maintenance.services import work_orders as work_order_services
from maintenance.views.alerts import failure_mode_label
from pdm_saas.errors import ServiceError
from pdm_saas.web_access import member_view, page_actor

# Button text of each move; "done" is not here: closing needs the close form's answers.
MOVE_LABELS: dict[str, str] = {
    WorkOrder.Status.OPEN: "Move to Open",
    WorkOrder.Status.SCHEDULED: "Move to Scheduled",
    WorkOrder.Status.IN_PROGRESS: "Move to In Progress",
    WorkOrder.Status.CANCELLED: "Cancel work order",
}


# --- work-order board -------------------------------------------------------------------------


def board_start_column(columns: list[BoardColumn], user_id: int | None) -> str:
    """The column a phone opens the board on (it shows one column at a time): the first holding
    one of the user's own work orders, else the first holding any, else the first."""
    for column in columns:
        if any(order.assignee_id == user_id for order in column.tickets):
            return column.status
    return next((c.status for c in columns if c.tickets), columns[0].status)


@member_view()
def work_order_board(request: HttpRequest) -> HttpResponse:
    mine = request.GET.get("mine") == "1"
    user_id = page_actor(request).user_id
    columns = selectors.work_order_board(assignee_id=user_id if mine else None, now=timezone.now())
    return render(request, "maintenance/work_orders.html", {
        "columns": columns, "mine": mine, "start": board_start_column(columns, user_id),
    })


# --- a new work order -------------------------------------------------------------------------


class NewWorkOrderForm(forms.Form):
    """A work order by hand: the machine from the fleet, a failure mode of its type (by label),
    the assignee by name; optionally the active alert of that machine it answers."""

    machine = forms.TypedChoiceField(coerce=int, label="Machine")
    failure_mode = forms.ChoiceField(required=False, label="Failure mode")
    title = forms.CharField(required=False, max_length=200,
                            help_text="Left empty: the failure mode and machine, such as “Seal leak on P-101”.")
    priority = forms.ChoiceField(choices=WorkOrder.Priority.choices, initial=WorkOrder.Priority.MEDIUM)
    due_at = forms.DateTimeField(required=False, label="Due",
                                 widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                 input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"])
    assignee = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    alert = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label="For alert")
    description = forms.CharField(required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args: Any, members: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.machines = selectors.machines_for_work_orders()
        self.fields["machine"].choices = [("", "Choose a machine"), *[  # type: ignore[attr-defined]
            (m.id, " · ".join(part for part in (m.name, m.machine_type.name, m.site) if part)) for m in self.machines]]
        self.fields["failure_mode"].choices = [("", "Not sure / general inspection"),  # type: ignore[attr-defined]
                                               *_modes_by_type(self.machines)]
        self.fields["assignee"].choices = [("", "Unassigned"), *members]  # type: ignore[attr-defined]
        self.fields["alert"].choices = [("", "None"), *[  # type: ignore[attr-defined]
            (a.id, f"{a.machine.name}: {failure_mode_label(a)} ({a.get_severity_display().lower()})")
            for a in selectors.alerts_needing_work()]]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        machine = next((m for m in self.machines if m.id == data.get("machine")), None)
        mode = data.get("failure_mode") or ""
        if machine is not None and mode and mode not in {name for name, _ in _modes(machine.machine_type)}:
            self.add_error("failure_mode", f"Not a failure mode of {machine.machine_type.name}.")
        return data


def _modes_by_type(machines: list[Machine]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Failure-mode choices grouped by machine type (the page shows the chosen machine's group)."""
    types = {m.machine_type_id: m.machine_type for m in machines}
    return [(t.name, _modes(t)) for t in sorted(types.values(), key=lambda t: t.name)]


@member_view()
def work_order_new(request: HttpRequest) -> HttpResponse:
    """The form (GET), or the work order made from it (POST, then its page)."""
    members = _members(request)
    if request.method != "POST":
        return _new_page(request, NewWorkOrderForm(members=members, initial=_initial(request)))
    form = NewWorkOrderForm(request.POST, members=members)
    if not form.is_valid():
        return _new_page(request, form, status=400)
    data = form.cleaned_data
    try:
        order = work_order_services.work_order_create(
            machine_id=data["machine"], alert_id=data["alert"], failure_mode=data["failure_mode"],
            title=data["title"].strip(), actor_id=page_actor(request).user_id, priority=data["priority"],
            due_at=data["due_at"], assignee_id=data["assignee"], description=data["description"],
            refuse_handled_alert=True)
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _new_page(request, form, status=400)
    messages.success(request, f"Work order WO-{order.id} created.")
    return HttpResponseRedirect(reverse("predictions:work-order-detail", args=[order.id]))


def _initial(request: HttpRequest) -> dict[str, Any]:
    """From a link (`?alert=` or `?machine=`): the alert's machine, mode and urgency filled in."""
    alert_id, machine_id = request.GET.get("alert", ""), request.GET.get("machine", "")
    alert = selectors.alert_get(alert_id=int(alert_id)) if alert_id.isdigit() else None
    if alert is None:
        return {"machine": machine_id if machine_id.isdigit() else None}
    priority = WorkOrder.Priority.URGENT if alert.severity == Alert.Severity.CRITICAL else WorkOrder.Priority.HIGH
    return {"alert": alert.id, "machine": alert.machine_id, "failure_mode": alert.failure_mode, "priority": priority}


def _new_page(request: HttpRequest, form: NewWorkOrderForm, status: int = 200) -> HttpResponse:
    return render(request, "maintenance/work_order_new.html", {
        "form": form, "machine_types": {m.id: m.machine_type.name for m in form.machines},
    }, status=status)


# --- one work order ---------------------------------------------------------------------------


class AssignForm(forms.Form):
    assignee = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    due_at = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                 input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"])

    def __init__(self, *args: Any, members: list[tuple[int, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only members of this organization can be chosen: the API checks the same.
        self.fields["assignee"].choices = [("", "Unassigned"), *members]  # type: ignore[attr-defined]


class TransitionForm(forms.Form):
    status = forms.ChoiceField(choices=WorkOrder.Status.choices)
    note = forms.CharField(required=False, max_length=2000)


class CloseForm(forms.Form):
    failure_found = forms.TypedChoiceField(choices=[("yes", "Yes"), ("no", "No")], widget=forms.RadioSelect,
                                           coerce=lambda value: value == "yes")
    failure_mode_found = forms.ChoiceField(required=False)
    action_taken = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    actual_cost = forms.DecimalField(required=False, max_digits=12, decimal_places=2, min_value=Decimal(0))
    actual_downtime_hours = forms.DecimalField(required=False, max_digits=8, decimal_places=2, min_value=Decimal(0))
    note = forms.CharField(required=False, max_length=2000)

    def __init__(self, *args: Any, modes: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["failure_mode_found"].choices = [("", "Not sure / other"), *modes]  # type: ignore[attr-defined]


class FormRejected(Exception):
    """A work-order form did not validate: the page is shown again with its errors."""

    def __init__(self, form: forms.Form) -> None:
        super().__init__("invalid form")
        self.form = form


def _members(request: HttpRequest) -> list[tuple[int, str]]:
    """The organization's members as people pick them: by name (the email where two share one or
    none is set), sorted."""
    users = [m.user for m in membership_list(tenant_id=request.tenant.id)]  # type: ignore[attr-defined]
    names = [u.full_name.strip() for u in users]
    shown = [(u.id, name if name and names.count(name) == 1 else f"{name} ({u.email})" if name else u.email)
             for u, name in zip(users, names, strict=True)]
    return sorted(shown, key=lambda member: member[1].lower())


def _modes(machine_type: MachineType) -> list[tuple[str, str]]:
    modes = machine_type.metadata.get("failure_modes", [])
    return [(m["name"], m.get("label") or m["name"]) for m in modes if m.get("name")]


def _assign(request: HttpRequest, order: WorkOrder) -> str:
    form = AssignForm(request.POST, members=_members(request))
    if not form.is_valid():
        raise FormRejected(form)
    # Only what changed, so the audit trail says "assigned" when only the assignee moved.
    fields: dict[str, Any] = {}
    if form.cleaned_data["assignee"] != order.assignee_id:
        fields["assignee_id"] = form.cleaned_data["assignee"]
    due: datetime | None = form.cleaned_data["due_at"]
    if _to_minute(due) != _to_minute(order.due_at):  # the form has minutes; the API may have set seconds
        fields["due_at"] = due
    work_order_services.work_order_update(order_id=order.id, actor_id=page_actor(request).user_id, **fields)
    return "Work order updated." if fields else "Nothing changed."


def _to_minute(moment: datetime | None) -> datetime | None:
    return moment.replace(second=0, microsecond=0) if moment is not None else None


def _transition(request: HttpRequest, order: WorkOrder) -> str:
    form = TransitionForm(request.POST)
    if not form.is_valid():
        raise FormRejected(form)
    moved = work_order_services.work_order_transition(order_id=order.id, to_status=form.cleaned_data["status"],
                                                      actor_id=page_actor(request).user_id,
                                                      note=form.cleaned_data["note"])
    return f"Work order moved to {moved.get_status_display()}."


def _close(request: HttpRequest, order: WorkOrder) -> str:
    form = CloseForm(request.POST, modes=_modes(order.machine.machine_type))
    if not form.is_valid():
        raise FormRejected(form)
    work_order_services.work_order_close(order_id=order.id, actor_id=page_actor(request).user_id,
                                         **form.cleaned_data)
    return "Work order closed." + (" The failure is recorded as a label for retraining."
                                   if form.cleaned_data["failure_found"] else "")


ACTIONS: dict[str, Callable[[HttpRequest, WorkOrder], str]] = {
    "assign": _assign, "transition": _transition, "close": _close,
}


@member_view()
def work_order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The work order, its history, and (POST, `action` = assign / transition / close) its forms."""
    order = selectors.work_order_for_page(order_id=pk)
    if request.method != "POST":
        return _detail_page(request, order)
    action = ACTIONS.get(request.POST.get("action", ""))
    if action is None:
        messages.error(request, "Unknown action.")
        return HttpResponseRedirect(request.path)
    try:
        messages.success(request, action(request, order))
    except FormRejected as rejected:
        return _detail_page(request, order, rejected.form, status=400)
    except ServiceError as exc:
        messages.error(request, exc.message)
    return HttpResponseRedirect(request.path)


def _detail_page(request: HttpRequest, order: WorkOrder, bound: forms.Form | None = None,
                 status: int = 200) -> HttpResponse:
    due = timezone.localtime(order.due_at).strftime("%Y-%m-%dT%H:%M") if order.due_at else ""
    forms_by_name: dict[str, forms.Form] = {
        "assign_form": AssignForm(members=_members(request), initial={"assignee": order.assignee_id, "due_at": due}),
        "transition_form": TransitionForm(),
        "close_form": CloseForm(modes=_modes(order.machine.machine_type)),
    }
    if bound is not None:
        name = {AssignForm: "assign_form", TransitionForm: "transition_form", CloseForm: "close_form"}[type(bound)]
        forms_by_name[name] = bound
    closed = order.status in CLOSED_STATES
    allowed = work_order_services.TRANSITIONS.get(order.status, set())
    moves = [(to, label) for to, label in MOVE_LABELS.items() if to in allowed]  # workflow order, cancel last
    people = dict(_members(request))
    metadata = order.machine.machine_type.metadata
    return render(request, "maintenance/work_order_detail.html", {
        "order": order, "events": _history(order, people), "closed": closed, "moves": moves,
        "assignee_name": people.get(order.assignee_id or 0) or (order.assignee.email if order.assignee else ""),
        "mode_label": metadata_mode_label(metadata, order.failure_mode) if order.failure_mode else "",
        "found_label": metadata_mode_label(metadata, order.failure_mode_found) if order.failure_mode_found else "",
        "can_close": WorkOrder.Status.DONE in allowed,
        "factors": (order.explanation or {}).get("top_factors") or [], **forms_by_name,
    }, status=status)


STATUS_WORDS = dict(WorkOrder.Status.choices)
PRIORITY_WORDS = dict(WorkOrder.Priority.choices)
FIELD_WORDS = {"assignee_id": "Assignee", "due_at": "Due", "scheduled_for": "Scheduled for",
               "planned_cost": "Planned cost", "planned_downtime_hours": "Planned downtime (h)",
               "failure_found": "Failure found", "failure_mode_found": "Failure mode found"}


def _history(order: WorkOrder, people: dict[int, str]) -> list[Any]:
    """The audit trail in words: what happened ("Created", "Open → In progress"), who (by name)
    and each change as one line, never a stored key or `None`."""
    events = selectors.work_order_history(order=order)
    for event in events:
        event.what = _event_words(event)  # type: ignore[attr-defined]
        event.who = people.get(event.actor_id, event.actor.email) if event.actor else ""  # type: ignore[attr-defined,arg-type]
        event.change_lines = [_change_line(name, change, people, order)  # type: ignore[attr-defined]
                              for name, change in (event.changes or {}).items()]
    return events


def _event_words(event: WorkOrderEvent) -> str:
    to = STATUS_WORDS.get(event.to_status, event.to_status)
    if event.action == "created":
        return "Created"
    if event.action in ("status", "closed") and event.from_status:
        verb = "Closed: " if event.action == "closed" else ""
        return f"{verb}{STATUS_WORDS.get(event.from_status, event.from_status)} → {to}"
    return {"assigned": "Assigned", "updated": "Updated", "closed": "Closed"}.get(event.action,
                                                                                event.action.capitalize())


def _change_line(name: str, change: Any, people: dict[int, str], order: WorkOrder) -> str:
    label = FIELD_WORDS.get(name, name.removesuffix("_id").replace("_", " ").capitalize())
    if not isinstance(change, list):  # closing records values, updates record [before, after]
        return f"{label}: {_value_words(name, change, people, order)}"
    return f"{label}: {' → '.join(_value_words(name, value, people, order) for value in change)}"


def _value_words(name: str, value: Any, people: dict[int, str], order: WorkOrder) -> str:
    if value in (None, "", "None"):
        return "nobody" if name == "assignee_id" else "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    if name == "assignee_id":
        return people.get(int(text), f"a former member (user {text})") if text.isdigit() else text
    if name == "priority":
        return PRIORITY_WORDS.get(text, text)
    if name == "failure_mode_found":
        return metadata_mode_label(order.machine.machine_type.metadata, text)
    if name in ("due_at", "scheduled_for"):
        moment = parse_datetime(text)
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M") if moment is not None else text
    return text
