"""The model registry in the browser: every machine type's model versions with their held-out
metrics and provenance, one version's full record, and (admins) promotion and rollback.

Promotion and rollback call `predictions.services.registry` with the same arguments as the API
(`predictions/api.py`). Everything else here only shapes stored JSON for display
(`predictions/views/model_display.py` shapes a version's).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.roles import Scope
from machines.models import MachineType
from machines.selectors import machine_list, machine_type_list
from pdm_saas.errors import ServiceError
from pdm_saas.page_actions import run_action
from pdm_saas.web_access import member_view, page_actor
from predictions.models import DriftReport, ModelVersion
from predictions.selectors import (
    drift_report_latest,
    model_events,
    model_version_former_champions,
    model_version_list,
    model_version_records,
    model_version_siblings,
)
from predictions.services import drift, registry
from predictions.services.challenger import deciding, monitor, retraining
from predictions.services.outcomes import outcome_series
from predictions.views.model_display import (
    KIND_LABELS,
    KIND_PURPOSE,
    K,
    confusion_of,
    feature_words,
    flatten,
    importance_bars,
    key_metrics,
    metric_rows,
    number,
    plain_summary,
    search_context,
    version_time_unit,
)
from predictions.views.model_plots import global_context
from predictions.wording import signal_text

# --- the list ---------------------------------------------------------------------------------


class ModelFilterForm(forms.Form):
    machine_type = forms.ModelChoiceField(queryset=machine_type_list(), required=False,
                                          empty_label="All machine types")
    status = forms.ChoiceField(choices=[("", "Any status"), *ModelVersion.Status.choices], required=False)


@dataclass
class TypeModels:
    machine_type: MachineType
    versions: list[ModelVersion]


def versions_describe(versions: list[ModelVersion]) -> None:
    """Each version's kind as people name it, what it does and how well, in words (the pages'
    default view; the metrics are for Advanced)."""
    for version in versions:
        version.kind_label = KIND_LABELS.get(version.kind, version.kind)  # type: ignore[attr-defined]
        version.purpose = KIND_PURPOSE.get(version.kind, "")  # type: ignore[attr-defined]
        version.summary = plain_summary(version)  # type: ignore[attr-defined]


def _annotate(versions: list[ModelVersion]) -> None:
    """Each version's kind label and key metrics, and whether to offer "Roll back" on it: a
    champion with a former champion to return to, as `model_version_rollback` checks (the
    service still decides)."""
    earlier = model_version_former_champions()
    versions_describe(versions)
    for version in versions:
        version.key_metrics = key_metrics(version)  # type: ignore[attr-defined]
        version.can_roll_back = (version.status == ModelVersion.Status.CHAMPION  # type: ignore[attr-defined]
                                 and (version.machine_type_id, version.machine_id, version.kind) in earlier)


@member_view()
def model_list(request: HttpRequest) -> HttpResponse:
    filters = ModelFilterForm(request.GET or None)
    valid = filters.is_valid()
    machine_type: MachineType | None = filters.cleaned_data["machine_type"] if valid else None
    versions = list(model_version_list(machine_type_id=machine_type.id if machine_type else None,
                                       status=filters.cleaned_data["status"] if valid else ""))
    _annotate(versions)
    types = [TypeModels(group[0].machine_type, group)
             for group in (list(g) for _, g in groupby(versions, key=lambda v: v.machine_type_id))]
    return render(request, "predictions/models.html", {"filters": filters, "types": types})


# --- one version ------------------------------------------------------------------------------


@member_view()
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(model_version_records(), pk=pk)
    _annotate([version])
    return render(request, "predictions/model_detail.html", {
        "version": version,
        "unit": version_time_unit(version),  # hours or cycles: the horizon, cap and RUL errors
        "metrics": metric_rows(version),
        "confusion": confusion_of(version.metrics or {}) if version.kind == K.FAILURE_CLASSIFIER else None,
        "importance": importance_bars(version),
        **global_context(version),
        "search": search_context(version),
        "params": [(name, number(value)) for name, value in flatten(version.params or {})],
        "events": model_events(version_id=version.id),
        "siblings": model_version_siblings(version=version),
        **drift_context(version),
        **challenger_context(version),
    })


# --- admin actions ----------------------------------------------------------------------------


class NoteForm(forms.Form):
    note = forms.CharField(required=False, max_length=2000)


class RollbackForm(NoteForm):
    machine_type = forms.ModelChoiceField(queryset=machine_type_list())
    kind = forms.ChoiceField(choices=ModelVersion.Kind.choices)
    machine = forms.ModelChoiceField(queryset=machine_list(), required=False)


@member_view(write=Scope.ADMIN)
@require_POST
def model_promote_page(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(model_version_records(), pk=pk)
    form = NoteForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    return run_action(
        request, lambda: registry.model_version_promote(version_id=pk, actor_id=page_actor(request).user_id, note=note),
        success=lambda version: f"v{version.number} is now the champion; the previous one is archived.",
        redirect_to=reverse("predictions:model-detail", args=[pk]))


@member_view(write=Scope.ADMIN)
@require_POST
def model_rollback_page(request: HttpRequest) -> HttpResponse:
    form = RollbackForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the machine type and kind to roll back.")
        return HttpResponseRedirect(reverse("predictions:models"))
    data = form.cleaned_data
    try:
        version = registry.model_version_rollback(
            machine_type_id=data["machine_type"].id, kind=data["kind"],
            machine_id=data["machine"].id if data["machine"] else None,
            actor_id=page_actor(request).user_id, note=data["note"],
        )
    except ServiceError as exc:
        messages.error(request, exc.message)
        return HttpResponseRedirect(f"{reverse('predictions:models')}?machine_type={data['machine_type'].id}")
    messages.success(request, f"Rolled back: v{version.number} is the champion again.")
    return HttpResponseRedirect(reverse("predictions:model-detail", args=[version.id]))


# --- drift and outcomes -----------------------------------------------------------------------

DRIFT_BARS = 12


def drift_bars(report: DriftReport, version: ModelVersion) -> list[dict[str, Any]]:
    """The most shifted features by PSI, scaled so that the larger of the strongest and 0.5 fills
    the track (a PSI of 0.2, the drift line, then never looks like nothing)."""
    items = [f for f in report.features if isinstance(f.get("psi"), int | float)][:DRIFT_BARS]
    scale = max([0.5, *(f["psi"] for f in items)])
    return [{"name": feature_words(version, f["feature"]), "feature": f["feature"],
             "psi": number(float(f["psi"])), "ks_p": number(f.get("ks_p")), "drifted": f.get("drifted"),
             "width": round(100 * min(f["psi"], scale) / scale, 1)} for f in items]


def drift_context(version: ModelVersion) -> dict[str, Any]:
    """The drift section of a model page: latest report and its bars; a classifier's outcomes."""
    report = drift_report_latest(version_id=version.id)
    badge = {"ok": "ok", "warning": "warning", "drifted": "bad"}.get(report.status, "none") if report else "none"
    return {"drift_enabled": True, "drift_report": report, "drift_badge": badge,
            "drift_bars": drift_bars(report, version) if report else [],
            "drift_quality": [{**q, "label": signal_text(str(q.get("signal", "")), version.machine_type.metadata)}
                              for q in (report.data_quality if report else []) if (q.get("change") or 0) > 0.01],
            "outcomes_enabled": version.kind == K.FAILURE_CLASSIFIER,
            "outcomes": outcome_series(version=version) if version.kind == K.FAILURE_CLASSIFIER else []}


@member_view(write=Scope.WRITE)
@require_POST
def model_drift_check_page(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(model_version_records(), pk=pk)
    return run_action(
        request, lambda: drift.drift_check_start(version=version, created_by_id=page_actor(request).user_id),
        success=lambda job: f"Drift check started (job {job.id}); the report appears here in a minute.",
        redirect_to=reverse("predictions:model-detail", args=[pk]))


# --- champion and challenger ------------------------------------------------------------------


def challenger_context(version: ModelVersion) -> dict[str, Any]:
    """The challenger section of a failure classifier's page (services/challenger/)."""
    if version.kind != K.FAILURE_CLASSIFIER or version.machine_id is not None:
        return {"challenger_enabled": False}
    found = monitor.challenger_status(version=version)
    comparison = found.get("comparison")
    rows = []
    if comparison:
        for name, key in (("Resolved", "resolved"), ("F1", "f1"), ("Precision", "precision"), ("Recall", "recall"),
                          ("FPR", "fpr"), ("TP / FP / TN / FN", None), ("Pending", "pending")):
            if key is None:
                cells = ["{tp} / {fp} / {tn} / {fn}".format(**comparison[side]) for side in ("champion", "challenger")]
            else:
                cells = [number(comparison[side][key]) for side in ("champion", "challenger")]
            rows.append((name, *cells))
    return {"challenger_enabled": True, "challenger": found["challenger"], "challenger_rows": rows,
            "challenger_decisions": found.get("decisions", [])}


@member_view(write=Scope.WRITE)
@require_POST
def model_retrain_page(request: HttpRequest, pk: int) -> HttpResponse:
    version = get_object_or_404(model_version_records(), pk=pk)
    return run_action(
        request,
        lambda: retraining.challenger_start(machine_type=version.machine_type,
                                            created_by_id=page_actor(request).user_id),
        success=lambda job: f"Retraining (job {job.id}); the challenger appears here and shadows the champion.",
        redirect_to=reverse("predictions:model-detail", args=[pk]))


@member_view(write=Scope.WRITE)
@require_POST
def model_decide_page(request: HttpRequest, pk: int) -> HttpResponse:
    get_object_or_404(model_version_records(), pk=pk)
    return run_action(
        request, lambda: deciding.challenger_decide(challenger_id=pk, actor_id=page_actor(request).user_id),
        success=lambda decision: f"Decision: {decision['decision']} ({decision['reason']}).",
        redirect_to=reverse("predictions:model-detail", args=[pk]))
