"""The alerts inbox and the work-order board with each work order's page.

Every change goes through `predictions.services.alerts` / `work_orders`, exactly as the API does
(`predictions/api.py`); these views only parse forms, call one service and render. Acknowledge
and resolve answer htmx requests with the alert's row alone, and everything else with a redirect,
so the pages work the same without JavaScript.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import Case, IntegerField, QuerySet, Value, When
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.selectors import membership_list
from machines.metadata import failure_mode_label as metadata_mode_label
from pdm_saas.errors import ServiceError
from pdm_saas.web_access import member_view, page_actor
from predictions.models import Alert, WorkOrder
from predictions.services import alerts as alert_services
from predictions.services import work_orders as work_order_services

ALERTS_PER_PAGE = 50
CLOSED_ON_BOARD = 20  # done / cancelled columns show only the latest: they grow forever
CLOSED_STATES = (WorkOrder.Status.DONE, WorkOrder.Status.CANCELLED)
# Button text of each move; "done" is not here: closing needs the close form's answers.
MOVE_LABELS: dict[str, str] = {
    WorkOrder.Status.OPEN: "Move to Open",
    WorkOrder.Status.SCHEDULED: "Move to Scheduled",
    WorkOrder.Status.IN_PROGRESS: "Move to In Progress",
    WorkOrder.Status.CANCELLED: "Cancel work order",
}


# --- alerts inbox ---------------------------------------------------------------------------


class AlertFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Alert.Status.choices], required=False)
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Alert.Severity.choices], required=False)


class ResolveForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000)


def failure_mode_label(alert: Alert) -> str:
    """The failure mode's label from the machine type's metadata, for people; else its name."""
    return metadata_mode_label(alert.machine.machine_type.metadata, alert.failure_mode)


def _inbox_alerts(status: str, severity: str) -> QuerySet[Alert]:
    """Active alerts first (they need someone), newest first within each group."""
    alerts = (Alert.objects.select_related("machine__machine_type")
              .prefetch_related("work_orders")
              .annotate(done=Case(When(status__in=Alert.ACTIVE, then=Value(0)), default=Value(1),
                                  output_field=IntegerField()))
              .order_by("done", "-opened_at", "-id"))
    if status:
        alerts = alerts.filter(status=status)
    if severity:
        alerts = alerts.filter(severity=severity)
    return alerts


def _labelled(page: Page[Alert]) -> Page[Alert]:
    for alert in page.object_list:
        alert.mode_label = failure_mode_label(alert)  # type: ignore[attr-defined]
    return page


@member_view()
def alert_inbox(request: HttpRequest) -> HttpResponse:
    filters = AlertFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {"status": "", "severity": ""}
    paginator = Paginator(_inbox_alerts(chosen["status"], chosen["severity"]), ALERTS_PER_PAGE)
    page = _labelled(paginator.get_page(request.GET.get("page")))
    query = request.GET.copy()
    query.pop("page", None)
    default = alert_services.alert_rule_for_default()
    return render(request, "predictions/alerts.html", {
        "filters": filters, "page": page, "alerts": page.object_list, "query": query.urlencode(),
        "open_count": Alert.objects.filter(status=Alert.Status.OPEN).count(),
        "rule": default, "false_alarms": alert_services.alert_rule_false_alarms(rule=default),
    })


def _alert_answer(request: HttpRequest, pk: int, change: Callable[[], Alert], done: str) -> HttpResponse:
    """Run an alert change; htmx gets the row back (with the error inside), others a redirect."""
    error = ""
    try:
        change()
    except ServiceError as exc:
        error = exc.message
    if request.headers.get("HX-Request"):
        alert = get_object_or_404(Alert.objects.select_related("machine__machine_type")
                                  .prefetch_related("work_orders"), pk=pk)
        alert.mode_label = failure_mode_label(alert)  # type: ignore[attr-defined]
        return render(request, "predictions/partials/alert_row.html",
                      {"alert": alert, "row_error": error, "row_done": "" if error else done})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return HttpResponseRedirect(_back_to_inbox(request))


def _back_to_inbox(request: HttpRequest) -> str:
    """The inbox with the filters the user was looking at (sent as `back`, only ever a query)."""
    back = request.POST.get("back", "")
    inbox = reverse("predictions:alerts")
    return f"{inbox}?{back}" if back and "/" not in back and ":" not in back else inbox


@member_view()
@require_POST
def alert_acknowledge_page(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(Alert, pk=pk)
    user_id = page_actor(request).user_id
    return _alert_answer(request, pk, lambda: alert_services.alert_acknowledge(alert_id=pk, user_id=user_id),
                         "Alert acknowledged.")


@member_view()
@require_POST
def alert_resolve_page(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(Alert, pk=pk)
    form = ResolveForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    user_id = page_actor(request).user_id
    return _alert_answer(request, pk,
                         lambda: alert_services.alert_resolve(alert_id=pk, user_id=user_id, note=note),
                         "Alert resolved.")


@member_view()
@require_POST
def alert_work_order_page(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a work order from the alert (it copies the explanation and recommendation)."""
    alert = get_object_or_404(Alert.objects.select_related("machine__machine_type"), pk=pk)
    label = failure_mode_label(alert)
    title = request.POST.get("title", "").strip()[:200] or f"{label[:1].upper()}{label[1:]} on {alert.machine.name}"
    try:
        order = work_order_services.work_order_create(machine_id=alert.machine_id, alert_id=alert.id, title=title,
                                                      actor_id=page_actor(request).user_id)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(_back_to_inbox(request))
    messages.success(request, f"Work order WO-{order.id} opened from the alert.")
    return HttpResponseRedirect(reverse("predictions:work-order-detail", args=[order.id]))


# --- work-order board -------------------------------------------------------------------------


def _board_columns(mine_user_id: int | None) -> list[dict[str, Any]]:
    orders = WorkOrder.objects.select_related("machine", "assignee").order_by("due_at", "-created_at", "-id")
    if mine_user_id is not None:
        orders = orders.filter(assignee_id=mine_user_id)
    columns, now = [], timezone.now()
    for status, label in WorkOrder.Status.choices:
        in_state = orders.filter(status=status)
        if status in CLOSED_STATES:
            in_state = in_state.order_by("-closed_at", "-id")
        tickets = list(in_state[:CLOSED_ON_BOARD]) if status in CLOSED_STATES else list(in_state)
        total = in_state.count() if status in CLOSED_STATES else len(tickets)
        for order in tickets:
            order.overdue = status not in CLOSED_STATES and order.due_at is not None and order.due_at < now  # type: ignore[attr-defined]
        columns.append({"status": status, "label": label, "tickets": tickets, "total": total,
                        "hidden": total - len(tickets)})
    return columns


@member_view()
def work_order_board(request: HttpRequest) -> HttpResponse:
    mine = request.GET.get("mine") == "1"
    return render(request, "predictions/work_orders.html", {
        "columns": _board_columns(page_actor(request).user_id if mine else None), "mine": mine,
    })


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
    return [(m.user_id, m.user.email) for m in membership_list(tenant_id=request.tenant.id)]  # type: ignore[attr-defined]


def _modes(order: WorkOrder) -> list[tuple[str, str]]:
    modes = order.machine.machine_type.metadata.get("failure_modes", [])
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
    form = CloseForm(request.POST, modes=_modes(order))
    if not form.is_valid():
        raise FormRejected(form)
    work_order_services.work_order_close(order_id=order.id, actor_id=page_actor(request).user_id,
                                         **form.cleaned_data)
    return "Work order closed." + (" The failure is recorded as a label for retraining."
                                   if form.cleaned_data["failure_found"] else "")


ACTIONS: dict[str, Callable[[HttpRequest, WorkOrder], str]] = {
    "assign": _assign, "transition": _transition, "close": _close,
}


def _order(pk: int) -> WorkOrder:
    return get_object_or_404(WorkOrder.objects.select_related("machine__machine_type", "alert", "assignee",
                                                              "created_by"), pk=pk)


@member_view()
def work_order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The work order, its history, and (POST, `action` = assign / transition / close) its forms."""
    order = _order(pk)
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
        "close_form": CloseForm(modes=_modes(order)),
    }
    if bound is not None:
        name = {AssignForm: "assign_form", TransitionForm: "transition_form", CloseForm: "close_form"}[type(bound)]
        forms_by_name[name] = bound
    closed = order.status in CLOSED_STATES
    allowed = work_order_services.TRANSITIONS.get(order.status, set())
    moves = [(to, label) for to, label in MOVE_LABELS.items() if to in allowed]  # workflow order, cancel last
    return render(request, "predictions/work_order_detail.html", {
        "order": order, "events": _history(order, dict(_members(request))), "closed": closed, "moves": moves,
        "can_close": WorkOrder.Status.DONE in allowed,
        "factors": (order.explanation or {}).get("top_factors") or [], **forms_by_name,
    }, status=status)


def _history(order: WorkOrder, emails: dict[int, str]) -> list[Any]:
    """The audit trail with each change as one readable line (assignees by email, not id)."""
    events = list(order.events.select_related("actor"))
    for event in events:
        event.change_lines = [_change_line(name, change, emails)  # type: ignore[attr-defined]
                              for name, change in (event.changes or {}).items()]
    return events


def _change_line(name: str, change: Any, emails: dict[int, str]) -> str:
    if not isinstance(change, list):  # closing records values, updates record [before, after]
        return f"{name.replace('_', ' ')}: {'yes' if change is True else 'no' if change is False else change or '—'}"
    if name == "assignee_id":
        change = [emails.get(int(v), f"user {v}") if str(v).isdigit() else "nobody" for v in change]
    return f"{name.removesuffix('_id').replace('_', ' ')}: {' → '.join(str(v) for v in change)}"
