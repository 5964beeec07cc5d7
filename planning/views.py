"""The planning page: inputs, "Make a plan", a plan with its schedule, savings and what binds, and
"Accept plan". Every change goes through `planning.services`, as the API does."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from jobs.models import Job
from pdm_saas.errors import ServiceError
from pdm_saas.web_access import can, member_view, page_actor
from planning import selectors, services
from planning.models import MaintenancePlan


class PlanForm(forms.Form):
    horizon_days = forms.IntegerField(min_value=1, max_value=services.MAX_HORIZON_DAYS, initial=14)
    budget = forms.DecimalField(min_value=Decimal(0), max_digits=14, decimal_places=2, required=False)


@member_view()
def planning_index(request: HttpRequest) -> HttpResponse:
    return render(request, "planning/index.html", {
        **selectors.inputs_summary(), "form": PlanForm(), "plans": selectors.plan_list()[:10],
        "can_write": can(request, "write"),
    })


@require_POST
@member_view()
def plan_create(request: HttpRequest) -> HttpResponse:
    form = PlanForm(request.POST)
    if not form.is_valid():
        return render(request, "planning/index.html", {
            **selectors.inputs_summary(), "form": form, "plans": selectors.plan_list()[:10], "can_write": True,
        }, status=400)
    plan = services.plan_start(horizon_days=form.cleaned_data["horizon_days"], budget=form.cleaned_data["budget"],
                               actor_id=page_actor(request).user_id)
    return HttpResponseRedirect(reverse("planning:plan-detail", args=[plan.id]))


@member_view()
def plan_detail(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(MaintenancePlan, pk=pk)
    return render(request, "planning/plan_detail.html", {
        "plan": plan, "job": Job.objects.filter(id=plan.job_id).first() if plan.job_id else None,
        "result": plan.result or {},
        "days": selectors.plan_days(plan), "can_write": can(request, "write"),
    })


@require_POST
@member_view()
def plan_accept_page(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_object_or_404(MaintenancePlan, pk=pk)
    try:
        plan = services.plan_accept(plan_id=plan.id, actor_id=page_actor(request).user_id)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        counts = plan.result.get("accepted", {})
        messages.success(request, f"Plan accepted: {counts.get('created', 0)} work orders created, "
                                  f"{counts.get('updated', 0)} updated.")
    return HttpResponseRedirect(reverse("planning:plan-detail", args=[plan.id]))
