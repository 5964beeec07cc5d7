"""The model registry in the browser: every machine type's model versions with their held-out
metrics and provenance, one version's full record, and (admins) promotion and rollback.

Promotion and rollback call `predictions.services.registry` with the same arguments as the API
(`predictions/api.py`). Everything else here only shapes stored JSON for display.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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
from engine.frames import time_unit_of
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
from predictions.web_format import duration_text
from predictions.wording import feature_text, share_text, signal_text

K = ModelVersion.Kind
# The few held-out numbers that tell versions of a kind apart, in the order people compare them.
KEY_METRICS: dict[str, list[tuple[str, str]]] = {
    K.FAILURE_CLASSIFIER: [("f1", "F1"), ("precision", "Precision"), ("recall", "Recall"), ("fpr", "FPR"),
                           ("roc_auc", "ROC-AUC")],
    K.RUL_REGRESSOR: [("rmse", "RMSE h"), ("mae", "MAE h"), ("r2", "R²"), ("coverage", "Coverage")],
    K.ANOMALY_DETECTOR: [("roc_auc", "ROC-AUC"), ("fpr", "FPR"), ("detection_rate", "Detection")],
}
TOP_FEATURES = 15
# Django derives "Rul Regressor" from the enum name; people read these.
KIND_LABELS: dict[str, str] = {K.FAILURE_CLASSIFIER: "Failure classifier", K.RUL_REGRESSOR: "RUL regressor",
               K.ANOMALY_DETECTOR: "Anomaly detector", K.SENSOR_FORECASTER: "Sensor forecaster",
               K.OBSERVATION_CLASSIFIER: "Observation classifier"}
# Names of the metrics people know by another spelling; the rest show as stored.
METRIC_LABELS = {name: label for metrics in KEY_METRICS.values() for name, label in metrics} | {
    "pr_auc": "PR-AUC", "rows": "Held-out rows", "positive_rate": "Positive rate", "threshold": "Threshold",
    "horizon_h": "Horizon h", "interval_width_h": "Interval width h", "cap_h": "Cap h",
}


@dataclass(frozen=True)
class Confusion:
    """Held-out counts; `derived` when rebuilt from the stored rates rather than stored as counts."""

    tp: int
    fp: int
    tn: int
    fn: int
    derived: bool

    @property
    def rows(self) -> int:
        return self.tp + self.fp + self.tn + self.fn


def number(value: Any) -> str:
    """A metric for display: three decimals for fractions, plain integers, a dash for unknown."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):  # rates and scores need three decimals, hours and counts fewer
        if abs(value) >= 10:
            return f"{value:.0f}" if value.is_integer() else f"{value:.1f}"
        return f"{value:.3f}"
    if isinstance(value, list):
        return ", ".join(number(item) for item in value)
    return str(value)


def version_time_unit(version: ModelVersion) -> str:
    """"cycles" for a version trained on cycle-indexed data (its dataset's `time_scale`), else
    "h": the unit of its horizon, cap and RUL errors."""
    params = (version.dataset.params or {}) if version.dataset_id and version.dataset else {}
    return time_unit_of(float(params.get("time_scale", 1.0)))


def in_unit(label: str, unit: str) -> str:
    """A metric label in the version's unit: "Cap h" reads "Cap cycles" for cycle-indexed data."""
    return label.removesuffix(" h") + " cycles" if unit == "cycles" and label.endswith(" h") else label


# What each kind of model does for the plant, as the pages say it before any metric.
KIND_PURPOSE: dict[str, str] = {
    K.FAILURE_CLASSIFIER: "Warns of a failure within the horizon and names the likely failure mode.",
    K.RUL_REGRESSOR: "Estimates how long a machine has left before it fails.",
    K.ANOMALY_DETECTOR: "Flags readings unlike the machine's normal operation.",
    K.SENSOR_FORECASTER: "Projects each signal ahead to say when it leaves its normal range.",
    K.OBSERVATION_CLASSIFIER: "Labels each run or inspection from its readings.",
}


def plain_summary(version: ModelVersion) -> str:
    """How well a version does, in words a maintenance engineer weighs (held-out machines): the
    failures it warned of and its false alarms, or how far off its remaining life typically is."""
    metrics = version.metrics or {}
    if version.kind == K.FAILURE_CLASSIFIER:
        caught = _catches(metrics)
        if caught is None or not caught["positives"]:
            return ""
        false_alarms = f"{caught['false_alarms']:.1f}".removesuffix(".0")
        return (f"On machines it never saw it warned in {caught['caught']} of {caught['positives']} readings "
                f"before a failure, with {false_alarms} false alarms per 100 healthy readings.")
    if version.kind == K.RUL_REGRESSOR and isinstance(metrics.get("mae"), int | float):
        off_by = duration_text(metrics["mae"], version_time_unit(version))
        return f"On machines it never saw its remaining life was off by {off_by} on average."
    if version.kind == K.ANOMALY_DETECTOR and isinstance(metrics.get("fpr"), int | float):
        found = metrics.get("detection_rate")
        share = f"flags {share_text(found)} of the readings before a failure and " if isinstance(
            found, int | float) else ""
        return f"On machines it never saw it {share}flags {share_text(metrics['fpr'])} of normal readings."
    return ""


def key_metrics(version: ModelVersion) -> list[tuple[str, str]]:
    metrics = version.metrics or {}
    unit = version_time_unit(version)
    if version.kind == K.SENSOR_FORECASTER:
        return _forecaster_metrics(metrics, unit)
    if version.kind == K.OBSERVATION_CLASSIFIER:  # one classifier per label: its out-of-fold macro-F1
        return [(f"{label} macro-F1", number(found["macro_f1"])) for label, found in metrics.items()
                if isinstance(found, Mapping) and "macro_f1" in found]
    return [(in_unit(label, unit), number(metrics.get(name))) for name, label in KEY_METRICS.get(version.kind, [])
            if name in metrics]


def _forecaster_metrics(metrics: Mapping[str, Any], unit: str) -> list[tuple[str, str]]:
    """The learned forecaster's MAE (in normal-range widths) at each horizon."""
    horizons = metrics.get("horizons_h") or []
    errors = (metrics.get("learned") or {}).get("mae_all") or []
    return [(in_unit(f"MAE {number(h)} h", unit), number(e)) for h, e in zip(horizons, errors, strict=False)]


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested metric documents as dotted names (`validation.f1`, `learned.mae_all`)."""
    for name, value in data.items():
        if isinstance(value, Mapping):
            yield from flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def metric_rows(version: ModelVersion) -> list[tuple[str, str, str]]:
    """(name, held-out value, trivial baseline's value) for every stored metric, the kind's key
    metrics first (Postgres' jsonb does not keep the order they were written in)."""
    baseline = dict(flatten(version.baseline or {}))
    first = [name for name, _ in KEY_METRICS.get(version.kind, [])]
    measured = {k: v for k, v in (version.metrics or {}).items() if k != "search"}  # search_context shows it
    ordered = sorted(flatten(measured),
                     key=lambda item: (first.index(item[0]) if item[0] in first else len(first), item[0]))
    unit = version_time_unit(version)
    return [(in_unit(METRIC_LABELS.get(name, name), unit), number(value),
             number(baseline[name]) if name in baseline else "") for name, value in ordered]


def search_context(version: ModelVersion) -> dict[str, Any] | None:
    """How a searched model was chosen: the winner beside XGBoost with its defaults on the same
    features and split, the cap, and every candidate (for the Advanced view)."""
    search = (version.metrics or {}).get("search")
    if not search:
        return None
    plain = search.get("plain_baseline") or {}
    leaderboard = [{**row, "params": ", ".join(f"{k} {number(v)}" for k, v in (row.get("params") or {}).items())}
                   for row in search.get("leaderboard", [])]
    return {"winner": search.get("winner", ""), "learner": search.get("learner", ""),
            "trials": search.get("trials"), "seconds": search.get("seconds"), "stopped_by": search.get("stopped_by"),
            "budget_s": search.get("budget_s"), "cap": search.get("cap"), "cap_scores": search.get("cap_scores", []),
            "rmse": (version.metrics or {}).get("rmse"), "plain_rmse": plain.get("rmse"), "leaderboard": leaderboard,
            "classifier": version.kind == K.FAILURE_CLASSIFIER, "max_fpr": search.get("max_fpr"),
            "ours": _catches(version.metrics or {}), "plain": _catches(plain)}


def _catches(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """A classifier's held-out figures in words' numbers: positive rows caught of all, and false
    alarms per 100 healthy rows."""
    confusion = confusion_of(metrics)
    if confusion is None:
        return None
    healthy = confusion.fp + confusion.tn
    return {"caught": confusion.tp, "positives": confusion.tp + confusion.fn,
            "false_alarms": 100 * confusion.fp / healthy if healthy else 0.0}


def confusion_of(metrics: Mapping[str, Any]) -> Confusion | None:
    """The held-out confusion matrix: stored counts if any, else rebuilt exactly from the
    classifier's rows, positive rate, recall and FPR (each is a ratio of these counts)."""
    if all(isinstance(metrics.get(k), int | float) for k in ("tp", "fp", "tn", "fn")):
        tp, fp, tn, fn = (round(metrics[k]) for k in ("tp", "fp", "tn", "fn"))
        return Confusion(tp=tp, fp=fp, tn=tn, fn=fn, derived=False)
    parts = [metrics.get(k) for k in ("rows", "positive_rate", "recall", "fpr")]
    if not all(isinstance(p, int | float) for p in parts):
        return None
    rows, positive_rate, recall, fpr = (float(p) for p in parts)  # type: ignore[arg-type]
    positives = round(rows * positive_rate)
    negatives = round(rows) - positives
    tp, fp = round(recall * positives), round(fpr * negatives)
    return Confusion(tp=tp, fp=fp, tn=negatives - fp, fn=positives - tp, derived=True)


def version_step_hours(version: ModelVersion) -> float | None:
    """How long one model step lasts (its training record), for feature windows as time."""
    step = (version.params or {}).get("step_hours")
    return float(step) if isinstance(step, int | float) and step > 0 else None


def feature_words(version: ModelVersion, feature: str) -> str:
    """A feature of this version as `predictions.wording.feature_text` says it, in its type's terms."""
    return feature_text(feature, version.machine_type.metadata, step_hours=version_step_hours(version),
                        unit=version_time_unit(version))


def importance_bars(version: ModelVersion) -> list[dict[str, Any]]:
    """The top features by share of total gain, scaled so the strongest fills its track."""
    items = [i for i in (version.feature_importance or []) if isinstance(i.get("importance"), int | float)]
    items = sorted(items, key=lambda i: -i["importance"])[:TOP_FEATURES]
    strongest = max((i["importance"] for i in items), default=0) or 1
    return [{"name": feature_words(version, str(i.get("feature") or "")) if i.get("feature") else i.get("label"),
             "feature": i.get("feature"),
             "share": f"{i['importance']:.1%}", "width": round(100 * i["importance"] / strongest, 1)}
            for i in items]


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
