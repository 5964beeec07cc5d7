"""The insights page: model performance, prediction analytics, business KPIs, data quality and the
member's weekly-summary setting. Read for every member; the email setting needs admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.roles import Scope
from insights import selectors, services
from machines.selectors import machine_type_documents
from pdm_saas.web_access import can, member_view
from predictions.wording import signals_of

PERIOD_CHOICES = [(7, "Last 7 days"), (30, "Last 30 days"), (90, "Last 90 days"), (365, "Last 365 days")]


class PeriodForm(forms.Form):
    days = forms.TypedChoiceField(choices=PERIOD_CHOICES, coerce=int, initial=selectors.DEFAULT_DAYS,
                                  required=False)


class EmailForm(forms.Form):
    weekly_email = forms.BooleanField(required=False)


def _chart_data(models: list[dict[str, object]]) -> list[dict[str, object]]:
    """uPlot's columns per model: epoch seconds, precision, recall, FPR (null where undefined)."""
    charts = []
    for model in models:
        series = model["series"]
        assert isinstance(series, list)
        charts.append({"id": model["id"], "name": model["name"],
                       "x": [int(s["at"].timestamp()) for s in series],
                       "precision": [s["precision"] for s in series], "recall": [s["recall"] for s in series],
                       "fpr": [s["fpr"] for s in series]})
    return charts


def _worded_quality(quality: dict[str, Any]) -> dict[str, Any]:
    """The data-quality section with signals by their labels ("Stator winding temperature", not
    `winding_temp_c`): the tenant's types name their signals alike, so one lookup serves all."""
    labels: dict[str, str] = {}
    for document in machine_type_documents().values():
        labels.update({name: label for name, (label, _) in signals_of(document).items()})
    for upload in quality["uploads"]:
        upload["missing"] = [{**s, "label": labels.get(s["signal"], s["signal"])} for s in upload["missing"]]
        upload["stuck"] = [labels.get(name, name) for name in upload["stuck"]]
    for point in quality["drift_trend"]:
        point["worst_signal"] = labels.get(point["worst_signal"], point["worst_signal"])
    return quality


def _user_id(request: HttpRequest) -> int:
    user_id = request.user.pk  # pages are for signed-in members only
    assert isinstance(user_id, int)
    return user_id


@member_view()
def insights_index(request: HttpRequest) -> HttpResponse:
    form = PeriodForm(request.GET or None)
    days = (form.cleaned_data.get("days") if form.is_valid() else None) or selectors.DEFAULT_DAYS
    period = selectors.period_of(days)
    models = selectors.model_performance(period)
    user_id = _user_id(request)
    return render(request, "insights/index.html", {
        "form": form if form.is_bound else PeriodForm(initial={"days": days}), "period": period,
        "models": models, "charts": _chart_data(models),
        "analytics": selectors.prediction_analytics(period), "kpis": selectors.business_kpis(period),
        "quality": _worded_quality(selectors.data_quality()), "formulas": selectors.FORMULAS,
        "preceding_days": selectors.PRECEDING_DAYS,
        "can_admin": can(request, Scope.ADMIN), "weekly_email": selectors.summary_weekly_email(user_id=user_id),
    })


@require_POST
@member_view(write=Scope.ADMIN)
def insights_email(request: HttpRequest) -> HttpResponse:
    form = EmailForm(request.POST)
    form.is_valid()  # a missing checkbox is False
    enabled = bool(form.cleaned_data.get("weekly_email"))
    services.summary_preference_set(user_id=_user_id(request), weekly_email=enabled)
    messages.success(request, "You will get the weekly summary by email." if enabled
                     else "You will no longer get the weekly summary by email.")
    return HttpResponseRedirect(reverse("insights:index"))
