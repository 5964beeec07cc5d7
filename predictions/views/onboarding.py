"""The onboarding wizard: pick or import a machine type -> add machines -> generate synthetic data
and train -> ready, with the job's progress live over the WebSocket and, at the end, the
synthetic data's quality report and the new models' held-out metrics.

The wizard keeps no state of its own: the chosen type travels in the URL (`?type=<id>`), the
machines are rows, and the training run is a Job the progress page follows.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from engine.frames import time_unit_of
from jobs.models import Job
from jobs.selectors import job_latest, job_list
from machines.library import library_list
from machines.models import MachineType
from machines.selectors import machine_list, machine_names, machine_type_get, machine_type_keys, machine_type_list
from machines.services import machine_type_adopt, machines_create_named, machines_import_file
from pdm_saas.errors import InvalidInput, ServiceError
from pdm_saas.web_access import member_view, page_actor
from predictions.models import Dataset
from predictions.selectors import dataset_get, model_versions_by_id
from predictions.services.samples import MAX_SAMPLE_MACHINES, sample_readings_csv
from predictions.services.training import ONBOARD_KIND, onboarding_start
from predictions.views.models import versions_describe
from predictions.wording import feature_text

MACHINE_FILE_LIMIT = 5_000_000  # a machine list, not readings: thousands of rows at most


def _chosen_type(request: HttpRequest) -> MachineType | None:
    raw = request.GET.get("type") or request.POST.get("type") or ""
    return machine_type_get(type_id=int(raw)) if raw.isdigit() else None


def _step_url(machine_type: MachineType) -> str:
    return f"{reverse('predictions:onboard')}?type={machine_type.id}"


@member_view()
def onboard_start(request: HttpRequest) -> HttpResponse:
    machine_type = _chosen_type(request)
    if request.method == "POST":
        return _act(request, machine_type)
    context: dict[str, Any] = {"machine_type": machine_type, "step": 2 if machine_type else 1}
    if machine_type is None:
        context["own_types"] = machine_type_list()
        adopted = machine_type_keys()
        context["library"] = [t for t in library_list() if t["key"] not in adopted]
    else:
        context["machines"] = machine_list(machine_type_id=machine_type.id)
        context["last_job"] = job_latest(kind=ONBOARD_KIND, machine_type_id=machine_type.id)
    return render(request, "predictions/onboard.html", context)


def _act(request: HttpRequest, machine_type: MachineType | None) -> HttpResponse:
    action = request.POST.get("action", "")
    try:
        if action == "adopt":
            adopted = machine_type_adopt(key=request.POST.get("key", ""))
            messages.success(request, f"{adopted.name} added to your machine types.")
            return redirect(_step_url(adopted))
        if machine_type is None:
            raise Http404("Choose a machine type first")
        if action == "add_machines":
            names = request.POST.get("names", "").replace(",", "\n").splitlines()
            created = machines_create_named(machine_type_id=machine_type.id, names=names,
                                            site=request.POST.get("site", "").strip(),
                                            line=request.POST.get("line", "").strip())
            messages.success(request, f"Added {len(created)} machine{'s' if len(created) != 1 else ''}.")
            return redirect(_step_url(machine_type))
        if action == "import_machines":
            upload = request.FILES.get("file")
            if upload is None:
                raise InvalidInput("Choose a CSV file of machines to import.")
            if upload.size and upload.size > MACHINE_FILE_LIMIT:
                raise InvalidInput(f"A machine file holds at most {MACHINE_FILE_LIMIT // 1_000_000} MB.")
            created = machines_import_file(data=upload.read())
            messages.success(request, f"Imported {len(created)} machines.")
            return redirect(_step_url(machine_type))
        if action == "train":
            job = onboarding_start(machine_type=machine_type, created_by_id=page_actor(request).user_id,
                                   **_training_options(request))
            return redirect("predictions:onboard-progress", job_id=job.id)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(_step_url(machine_type) if machine_type else reverse("predictions:onboard"))
    raise Http404("Unknown wizard action")


def _training_options(request: HttpRequest) -> dict[str, Any]:
    """The wizard's "advanced" fields; blank means the defaults (the service checks ranges)."""
    options: dict[str, Any] = {}
    machines = request.POST.get("machines", "").strip()
    if machines:
        if not machines.isdigit():
            raise InvalidInput("Simulated machines must be a whole number.")
        options["machines"] = int(machines)
    return options


@member_view()
def onboard_progress(request: HttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(job_list(kind=ONBOARD_KIND), id=job_id)
    machine_type = machine_type_get(type_id=job.params.get("machine_type_id"))
    context: dict[str, Any] = {"job": job, "machine_type": machine_type, "step": 4 if job.is_finished else 3}
    result = job.result or {}
    if job.status == Job.Status.SUCCEEDED:
        context["summary"] = result
        synthetic = result.get("synthetic") or {}
        context["quality"] = _quality_bars(dataset_get(dataset_id=synthetic.get("dataset")))
        models = model_versions_by_id(ids=[m["id"] for m in result.get("models", [])])
        versions_describe(models)
        context["models"] = models
    return render(request, "predictions/onboard_progress.html", context)


def _quality_bars(dataset: Dataset | None) -> dict[str, Any] | None:
    """The SDMetrics report as headline scores plus the worst-matched columns as bars."""
    if dataset is None or not dataset.quality_report:
        return None
    report = dataset.quality_report
    columns = sorted((report.get("columns") or {}).items(), key=lambda item: (item[1] is None, item[1] or 0.0))
    return {"overall": report.get("overall"), "column_shapes": report.get("column_shapes"),
            "column_pair_trends": report.get("column_pair_trends"), "level": report.get("level"),
            "rows_real": report.get("rows_real"), "rows_synthetic": report.get("rows_synthetic"),
            "worst": [{"name": name, "label": _column_words(dataset, name), "score": score,
                       "width": round(100 * (score or 0.0), 1)} for name, score in columns[:12]],
            "dataset": dataset}


def _column_words(dataset: Dataset, name: str) -> str:
    """A column of the synthetic data (a signal, or a window feature at window level) in the
    type's words: "Torque average (N·m, last 12 h)"."""
    params = dataset.params or {}
    step = params.get("step_hours")
    return feature_text(name, dataset.machine_type.metadata,
                        step_hours=float(step) if isinstance(step, int | float) and step > 0 else None,
                        unit=time_unit_of(float(params.get("time_scale", 1.0))))


@member_view()
def onboard_sample(request: HttpRequest, type_id: int) -> HttpResponse:
    """A simulated sensor file for this type's machines, to try the upload on day one."""
    machine_type = get_object_or_404(machine_type_list(), id=type_id)
    names = machine_names(machine_type_id=machine_type.id, limit=MAX_SAMPLE_MACHINES)
    try:
        data = sample_readings_csv(machine_type=machine_type, machine_names=names)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(_step_url(machine_type))
    response = HttpResponse(data, content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="sample-{machine_type.key}.csv"'
    return response
