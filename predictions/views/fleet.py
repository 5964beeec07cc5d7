"""The fleet dashboard (the signed-in home page) and the machine detail page.

The dashboard is server-rendered, riskiest machine first; `static/js/fleet.js` then keeps it
current from `machine.health` events on the live channel without a reload. The machine page
draws its charts from `machine_chart_data` (JSON) with uPlot.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from accounts.roles import Scope
from engine.decision import AT_RISK
from engine.frames import time_scale_for, time_unit_of
from machines.baselines import baseline_status, machine_baseline_reset, reset_reason
from machines.models import Machine
from machines.selectors import machine_list, machine_type_documents, readings_recent
from maintenance.selectors import machine_work_orders_recent
from pdm_saas.page_actions import run_action
from pdm_saas.web_access import member_view
from predictions.models import Prediction
from predictions.selectors import (
    fleet_filter_options,
    fleet_overview,
    machine_latest_forecast,
    machine_latest_prediction,
    prediction_history,
)
from predictions.services.scoring import machine_predict, machine_scale_refusal
from predictions.web_format import evidence, finite_or_none, forecast_summary, signal_bands, verdict
from predictions.wording import signal_text

CHART_READINGS = 2_000


def _filters(request: HttpRequest) -> dict[str, Any]:
    type_id = request.GET.get("type", "")
    return {"site": request.GET.get("site", ""), "line": request.GET.get("line", ""),
            "machine_type_id": int(type_id) if type_id.isdigit() else None}


def _fleet_context(request: HttpRequest) -> dict[str, Any]:
    filters = _filters(request)
    rows = fleet_overview(**filters)
    scored = [r.prediction for r in rows if r.prediction is not None]
    health = [h for h in (verdict(p)["health"] for p in scored) if h is not None]  # none while learning
    return {
        "rows": rows,
        "filters": filters,
        "options": fleet_filter_options(),
        "summary": {
            "machines": len(rows),
            "at_risk": sum(1 for p in scored if verdict(p)["state"] == AT_RISK),
            "open_alerts": sum(r.open_alerts for r in rows),
            "mean_health": round(sum(health) / len(health)) if health else None,
        },
    }


def _mode_labels() -> dict[str, dict[str, str]]:
    """Failure mode labels per machine type id, for live updates, which carry the mode's key: of
    every type, as a filter may later bring any type's rows into the table."""
    return {str(type_id): {str(m.get("name")): str(m.get("label") or m.get("name"))
                           for m in document.get("failure_modes") or []}
            for type_id, document in machine_type_documents().items()}


@member_view()
def fleet(request: HttpRequest) -> HttpResponse:
    return render(request, "predictions/fleet.html", {**_fleet_context(request), "mode_labels": _mode_labels()})


@member_view()
def fleet_rows(request: HttpRequest) -> HttpResponse:
    """The table body alone, for htmx when a filter changes."""
    return render(request, "predictions/partials/fleet_rows.html", _fleet_context(request))


def _machine(pk: int) -> Machine:
    return get_object_or_404(machine_list(), pk=pk)


@member_view()
def machine_detail(request: HttpRequest, pk: int) -> HttpResponse:
    machine = _machine(pk)
    latest = machine_latest_prediction(machine_id=machine.id)
    explanation = (latest.explanation or {}) if latest else {}
    document = machine.machine_type.metadata
    unit = latest.time_unit if latest else "h"  # hours or cycles: every duration on the page
    context = {
        "machine": machine,
        "latest": latest,
        "verdict": verdict(latest),
        "explanation": explanation,
        "unit": unit,
        "evidence": evidence(explanation, document, step_hours=_step_hours(latest), unit=unit),
        "forecast": [{**f, "label": signal_text(f.get("signal", ""), document)}
                     for f in forecast_summary(machine_latest_forecast(machine_id=machine.id))],
        "signals": signal_bands(machine.machine_type.metadata),
        "scale_refusal": machine_scale_refusal(machine=machine),
        "work_orders": machine_work_orders_recent(machine_id=machine.id),
        "baseline": baseline_status(machine=machine),  # its own normal: learning or learned, and why
    }
    return render(request, "predictions/machine_detail.html", context)


def _step_hours(prediction: Prediction | None) -> float | None:
    """How long one model step lasts, from the scoring model's training record: what turns a
    feature window of 24 steps into "12 h". None when unknown (the window reads in readings)."""
    version = prediction.model_version if prediction is not None else None
    step = (version.params or {}).get("step_hours") if version is not None else None
    return float(step) if isinstance(step, int | float) and step > 0 else None


@member_view()
def machine_relearn_normal(request: HttpRequest, pk: int) -> HttpResponse:
    """The "Relearn normal" button: a new baseline from the readings after the latest one."""
    machine = _machine(pk)
    actor_id = request.user.id
    return run_action(request, lambda: machine_baseline_reset(
        machine_id=machine.id, actor_id=actor_id, reason=reset_reason(actor_id=actor_id)),
        success=f"{machine.name} is relearning its normal from its next readings.",
        redirect_to=reverse("predictions:machine-detail", kwargs={"pk": machine.id}))


@member_view()
def machine_chart_data(request: HttpRequest, pk: int) -> JsonResponse:
    """Readings per signal, the prediction history and the forecast paths, as columns for uPlot
    (times in epoch seconds, or cycles for cycle-indexed data; None where a signal has no value
    at that time)."""
    machine = _machine(pk)
    readings = readings_recent(machine=machine, limit=CHART_READINGS)
    names = [s["name"] for s in signal_bands(machine.machine_type.metadata)]
    history = prediction_history(machine_id=machine.id)
    times = [ts.timestamp() for ts, _ in readings]
    scale = time_scale_for(np.asarray(times))
    return JsonResponse({
        # Seconds of stored time per model hour: cycle-indexed data stores one cycle per second.
        "seconds_per_hour": 3600.0 / scale,
        "time_unit": time_unit_of(scale),  # of rul_h, the forecast's steps and, for cycles, the time axis
        "readings": {
            "t": times,
            "signals": {name: [values.get(name) for _, values in readings] for name in names},
        },
        "predictions": {
            # On the readings' axis: a cycle model's step (cycle x 1 h) back to its stored cycle.
            "t": [row["window_end"].timestamp() / scale for row in history],
            **{key: [finite_or_none(row[key]) for row in history]
               for key in ("probability", "health_score", "rul_h", "rul_lower_h", "rul_upper_h", "anomaly_score")},
        },
        "forecast": machine_latest_forecast(machine_id=machine.id),
    })


@member_view(write=Scope.PREDICT)
def machine_score(request: HttpRequest, pk: int) -> HttpResponse:
    """Score the machine now from its latest stored window, forecast included."""
    machine = _machine(pk)
    return run_action(request, lambda: machine_predict(machine=machine, forecast=True),
                      success=f"{machine.name} scored just now.",
                      redirect_to=reverse("predictions:machine-detail", kwargs={"pk": machine.id}))
