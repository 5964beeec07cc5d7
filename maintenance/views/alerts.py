"""The alerts inbox: filters, acknowledge, resolve, and a work order from an alert.

Every change goes through `maintenance.services.alerts` / `work_orders`, exactly as the API does
(`maintenance/api.py`), and every read through `maintenance.selectors`; these views only parse
forms, call one service and render. Acknowledge and resolve answer htmx requests with the alert's
row alone, and everything else with a redirect, so the pages work the same without JavaScript.
The work-order pages: `maintenance.views.work_orders`.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from engine.metadata import failure_mode_label as metadata_mode_label
from maintenance import selectors
from maintenance.models import Alert
from maintenance.services import alerts as alert_services
from maintenance.services import work_orders as work_order_services
from pdm_saas.errors import ServiceError
from pdm_saas.web_access import member_view, page_actor
from predictions.selectors import alert_rule_false_alarms

ALERTS_PER_PAGE = 50


# --- alerts inbox ---------------------------------------------------------------------------


class AlertFilterForm(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Alert.Status.choices], required=False)
    severity = forms.ChoiceField(choices=[("", "Any severity"), *Alert.Severity.choices], required=False)


class ResolveForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000)


def failure_mode_label(alert: Alert) -> str:
    """The failure mode's label from the machine type's metadata, for people; else its name. An
    anomaly alert names no mode: its readings are unlike the machine's normal."""
    if alert.kind == Alert.Kind.ANOMALY:
        return "Unusual readings"
    return metadata_mode_label(alert.machine.machine_type.metadata, alert.failure_mode)


def _labelled(page: Page[Alert]) -> Page[Alert]:
    for alert in page.object_list:
        _label(alert)
    return page


def _label(alert: Alert) -> None:
    """What the row shows beside the stored fields: the mode's label, and for an anomaly alert
    how unusual the readings are, as a share of the machine's normal ones."""
    alert.mode_label = failure_mode_label(alert)  # type: ignore[attr-defined]
    if alert.kind == Alert.Kind.ANOMALY:
        share = f"{100 * alert.probability:.2f}".rstrip("0").rstrip(".")
        alert.unusual_text = (  # type: ignore[attr-defined]
            "More unusual than any of its normal readings" if alert.probability >= 1
            else f"More unusual than {share}% of its normal readings")


@member_view()
def alert_inbox(request: HttpRequest) -> HttpResponse:
    filters = AlertFilterForm(request.GET or None)
    chosen = filters.cleaned_data if filters.is_valid() else {"status": "", "severity": ""}
    paginator = Paginator(selectors.alert_inbox(status=chosen["status"], severity=chosen["severity"]),
                          ALERTS_PER_PAGE)
    page = _labelled(paginator.get_page(request.GET.get("page")))
    query = request.GET.copy()
    query.pop("page", None)
    default = alert_services.alert_rule_for_default()
    return render(request, "maintenance/alerts.html", {
        "filters": filters, "page": page, "alerts": page.object_list, "query": query.urlencode(),
        **selectors.alert_inbox_counts(),
        "rule": default, "false_alarms": alert_rule_false_alarms(rule=default),
    })


def _alert_answer(request: HttpRequest, pk: int, change: Callable[[], Alert], done: str) -> HttpResponse:
    """Run an alert change; htmx gets the row back (with the error inside), others a redirect."""
    error = ""
    try:
        change()
    except ServiceError as exc:
        error = exc.message
    if request.headers.get("HX-Request"):
        alert = selectors.alert_with_work_orders(alert_id=pk)
        _label(alert)
        return render(request, "maintenance/partials/alert_row.html",
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
    selectors.alert_or_404(alert_id=pk)
    user_id = page_actor(request).user_id
    return _alert_answer(request, pk, lambda: alert_services.alert_acknowledge(alert_id=pk, user_id=user_id),
                         "Alert acknowledged.")


@member_view()
@require_POST
def alert_resolve_page(request: HttpRequest, pk: int) -> HttpResponse:
    selectors.alert_or_404(alert_id=pk)
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
    alert = selectors.alert_with_work_orders(alert_id=pk)
    handling = alert.handling_order()
    if handling is not None:  # a second click, or a page older than the work order: show that one
        messages.info(request, f"WO-{handling.id} already handles this alert.")
        return HttpResponseRedirect(reverse("predictions:work-order-detail", args=[handling.id]))
    label = failure_mode_label(alert)
    title = request.POST.get("title", "").strip()[:200] or f"{label[:1].upper()}{label[1:]} on {alert.machine.name}"
    try:
        order = work_order_services.work_order_create(machine_id=alert.machine_id, alert_id=alert.id, title=title,
                                                      actor_id=page_actor(request).user_id, refuse_handled_alert=True)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(_back_to_inbox(request))
    messages.success(request, f"Work order WO-{order.id} opened from the alert.")
    return HttpResponseRedirect(reverse("predictions:work-order-detail", args=[order.id]))
