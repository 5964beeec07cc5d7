"""The sensor-file upload pages. A sensor file is uploaded in two steps: the file is stored and
previewed (`upload_stage`), then its columns are mapped and the upload is created
(`upload_create_staged`). Between the two, the staged file is remembered in the member's session,
so no path ever comes from the browser.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.roles import Scope
from accounts.selectors import user_display_name
from jobs.selectors import job_get
from machines import uploads
from machines.forms import MappingForm, UploadStartForm
from machines.ingest.doubts import MappingDoubtful
from machines.ingest.mapping import ReadingOptions
from machines.models import MachineType, MappingPreset, Upload
from machines.selectors import (
    machine_type_list,
    mapping_preset_get,
    mapping_preset_latest,
    mapping_preset_list,
    upload_deletion_get,
    upload_list,
    upload_readings_by_machine,
)
from machines.textfiles import ENCODINGS
from machines.upload_removal import upload_delete as upload_readings_delete
from machines.views.types import form_status
from pdm_saas.errors import ServiceError
from pdm_saas.web_access import member_view, page_actor
from tenants.db import connection
from tenants.selectors import tenant_time_zone
from tenants.services import tenant_time_zone_set

RECENT_UPLOADS = 20
# How a CSV file can be read: the choices of the mapping page (machines/ingest/reader.py detects).
READING_CHOICES: dict[str, list[tuple[str, str]]] = {
    "encoding": [(name, name) for name in ENCODINGS],
    "delimiter": [(",", "comma (,)"), (";", "semicolon (;)"), ("\t", "tab"), ("|", "pipe (|)")],
    "decimal_mark": [(".", "point (60.5)"), (",", "comma (60,5)")],
}
STAGED_KEY = "machines.staged_uploads"
STAGED_KEEP = 5  # staged files remembered per session; older ones are deleted
# The rejection codes of machines/ingest (parse.py, fleet.py), in words.
REJECTION_REASONS = {
    "bad_time": "Time missing or unreadable",
    "non_numeric": "A sensor value is not a number",
    "unknown_category": "Unknown category of a categorical sensor",
    "missing_machine": "No machine name",
    "unknown_machine": "Machine unknown (and not created)",
    "plan_limit": "Machine over the plan's limit (not created)",
    "negative_cycle": "Negative cycle number",
    "ragged_row": "Wrong number of fields",
}


# --- sensor-file uploads ----------------------------------------------------------------------


@member_view()
def upload_start(request: HttpRequest) -> HttpResponse:
    """Step 1: the machine type and the file; stored and previewed, then on to the mapping."""
    form = UploadStartForm(request.POST or None, request.FILES or None,
                           initial={"machine_type": request.GET.get("type", "")})
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            staged, _ = uploads.upload_stage(chunks=upload.chunks(uploads.CHUNK), original_name=upload.name)
        except ServiceError as exc:
            form.add_error("file", exc.message)
        else:
            token = _stage_remember(request, staged, form.cleaned_data["machine_type"].key)
            return redirect("machines:upload-map", token=token)
    return render(request, "machines/upload_start.html", {"form": form, "uploads": upload_list()[:RECENT_UPLOADS]},
                  status=form_status(request, form))


@member_view(read=Scope.WRITE)
def upload_map(request: HttpRequest, token: str) -> HttpResponse:
    """Step 2: a preview of the first rows and a select per column; Import creates the upload."""
    staged, type_key = _stage_get(request, token)
    machine_type = get_object_or_404(machine_type_list(), key=type_key)
    chosen = _reading_chosen(request)
    try:
        preview = uploads.upload_stage_preview(relative=staged.relative, **chosen)
    except (ServiceError, OSError) as exc:
        message = getattr(exc, "message", "The file can no longer be read; upload it again.")
        messages.error(request, message)
        if any(chosen.values()):  # read as the person chose, the file fails: back to what was detected
            return redirect("machines:upload-map", token=token)
        _stage_forget(request, token)
        return redirect("machines:upload")
    preset, unfit = _preset_chosen(request, machine_type, preview.columns)
    naive = uploads.preview_has_naive_times(preview)
    zone = tenant_time_zone(tenant_id=connection.tenant.id)
    form = MappingForm(request.POST or None, columns=preview.columns, machine_type=machine_type,
                       mapping=preset.mapping if preset else None, ask_time_zone=naive and not zone)
    doubts: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data.get("time_zone"):  # asked once: the organization's from now on
                tenant_time_zone_set(tenant=connection.tenant, time_zone=form.cleaned_data["time_zone"])
            upload = uploads.upload_create_staged(
                staged=staged, machine_type_key=machine_type.key,
                mapping=form.mapping() | {name: value for name, value in chosen.items() if value},
                save_preset_as=form.cleaned_data.get("save_preset_as") or None,
                created_by_id=page_actor(request).user_id, preset=preset.name if preset else None,
                confirm_mapping=form.cleaned_data["confirm_mapping"])
        except MappingDoubtful as exc:
            doubts = list(exc.details.get("problems", []))
            form.add_error(None, "The import is stopped: check the columns below.")
        except ServiceError as exc:
            _mapping_refused(form, exc)
        else:
            _stage_forget(request, token, keep_file=True)
            messages.success(request, f"{staged.original_name} is being imported.")
            return redirect("machines:upload-detail", pk=upload.pk)
    return render(request, "machines/upload_map.html", {
        "form": form, "preview": preview, "staged": staged, "machine_type": machine_type, "preset": preset,
        "presets": mapping_preset_list(machine_type_id=machine_type.id), "token": token,
        "reading": _reading_choices(preview, chosen), "doubts": doubts, "unfit_preset": unfit,
        "naive_times": naive, "time_zone": tenant_time_zone(tenant_id=connection.tenant.id),
    }, status=form_status(request, form))


def _reading_chosen(request: HttpRequest) -> ReadingOptions:
    """How the person asked to read the file (`?encoding=&delimiter=&decimal_mark=`); values
    not offered are ignored (detected instead). Only these go into the mapping: what was
    detected is detected again by the job (the same file, the same answer), and a saved mapping
    does not pin the next file to this one's encoding."""
    def offered(name: str) -> str | None:
        value = request.GET.get(name)
        return value if value in dict(READING_CHOICES[name]) else None

    return ReadingOptions(encoding=offered("encoding"), delimiter=offered("delimiter"),
                          decimal_mark=offered("decimal_mark"))


def _reading_choices(preview: uploads.FilePreview, chosen: ReadingOptions) -> list[dict[str, Any]]:
    """The selects of "How the file is read", each with the value in use and whether it was chosen."""
    if preview.kind != "csv":
        return []
    labels = {"encoding": "Encoding", "delimiter": "Delimiter", "decimal_mark": "Decimal mark"}
    return [{"name": name, "label": labels[name], "choices": choices, "value": getattr(preview, name),
             "shown": dict(choices).get(getattr(preview, name), getattr(preview, name)),
             "chosen": chosen.get(name) is not None} for name, choices in READING_CHOICES.items()]


def _preset_chosen(request: HttpRequest, machine_type: MachineType,
                   columns: list[str]) -> tuple[MappingPreset | None, MappingPreset | None]:
    """(the preset that fills the columns, a saved one left out because it does not fit). The
    preset named in `?preset=` fills them whatever its header (the import then asks to confirm a
    misfit); without one, the latest saved for this type only if it was saved from a file with
    these very columns: a mapping made for another layout once filed three pumps under one."""
    name = request.GET.get("preset")
    if name is not None:
        return mapping_preset_get(machine_type_id=machine_type.id, name=name), None
    latest = mapping_preset_latest(machine_type_id=machine_type.id)
    if latest is None or list(latest.header) == columns:
        return latest, None
    return None, latest


def _mapping_refused(form: MappingForm, exc: ServiceError) -> None:
    form.add_error(None, exc.message)
    details = exc.details if isinstance(exc.details, dict) else {}
    for problem in details.get("problems", [])[1:]:  # the message already names the first
        form.add_error(None, str(problem))


@member_view()
def upload_detail(request: HttpRequest, pk: int) -> HttpResponse:
    upload = get_object_or_404(upload_list(), pk=pk)
    return render(request, "machines/upload_detail.html", {
        "upload": upload, "job": job_get(job_id=upload.job_id), **_deletion_context(upload),
        "report": _report_view(upload.report) if upload.report else None,
        "has_rejected_file": uploads.upload_path(upload).with_name("rejected.csv").is_file(),
    })


@member_view(read=Scope.WRITE)
def upload_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """A confirmation page listing what goes (readings per machine); POST deletes."""
    upload = get_object_or_404(upload_list(), pk=pk)
    if request.method == "POST":
        try:
            deletion = upload_readings_delete(upload_id=upload.pk, actor_id=page_actor(request).user_id)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{deletion.readings_removed:,} readings of {upload.original_name} removed; "
                                      "the machines are being scored again.")
        return redirect("machines:upload-detail", pk=upload.pk)
    return render(request, "machines/upload_delete.html", {
        "upload": upload, "machines": upload_readings_by_machine(upload_id=upload.pk)})


def _deletion_context(upload: Upload) -> dict[str, Any]:
    deletion = upload_deletion_get(upload_id=upload.id)
    return {"deletion": deletion, "deletion_by": user_display_name(user_id=deletion.deleted_by_id) if deletion else ""}


# FileResponse streams (it is no HttpResponse subclass), which member_view's type does not name.
@member_view()  # type: ignore[type-var]
def upload_rejected(request: HttpRequest, pk: int) -> FileResponse:
    upload = get_object_or_404(upload_list(), pk=pk)
    path = uploads.upload_path(upload).with_name("rejected.csv")
    if not path.is_file():
        raise Http404("This upload has not been processed yet.")
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"upload-{pk}-rejected.csv",
                        content_type="text/csv")


def _report_view(report: dict[str, Any]) -> dict[str, Any]:
    """The stored quality report with the shares the page draws as bars."""
    rows = report.get("rows", {})
    read = rows.get("read") or 0

    def share(count: int) -> float:
        return round(100 * count / read, 1) if read else 0.0

    outcome = [(label, rows.get(key, 0), share(rows.get(key, 0)))
               for key, label in (("stored", "Stored"), ("duplicates", "Already stored"), ("rejected", "Rejected"))]
    reasons = sorted(((REJECTION_REASONS.get(code, code), count)
                      for code, count in (rows.get("rejected_by_reason") or {}).items()), key=lambda item: -item[1])
    sensors = [{"name": name, **stats} for name, stats in (report.get("sensors") or {}).items()]
    return {**report, "rows": rows, "outcome": outcome, "reasons": reasons, "sensor_list": sensors}


# --- staged files in the session ----------------------------------------------------------------


def _stage_remember(request: HttpRequest, staged: uploads.StagedFile, type_key: str) -> str:
    token = staged.relative.split("/")[1]  # the file's own random folder name
    entries: dict[str, Any] = dict(request.session.get(STAGED_KEY, {}))
    entries[token] = {"schema": connection.schema_name, "type": type_key, "relative": staged.relative,
                      "size": staged.size, "sha256": staged.sha256, "original_name": staged.original_name}
    for old in list(entries)[:-STAGED_KEEP]:  # dicts keep insertion order: the oldest first
        _stage_drop(entries.pop(old))
    request.session[STAGED_KEY] = entries
    return token


def _stage_get(request: HttpRequest, token: str) -> tuple[uploads.StagedFile, str]:
    entry = request.session.get(STAGED_KEY, {}).get(token)
    # A token of another organization (same browser session, other host) is not found here.
    if entry is None or entry["schema"] != connection.schema_name:
        raise Http404("No such file waiting for its mapping")
    staged = uploads.StagedFile(relative=entry["relative"], size=entry["size"], sha256=entry["sha256"],
                                original_name=entry["original_name"])
    return staged, entry["type"]


def _stage_forget(request: HttpRequest, token: str, *, keep_file: bool = False) -> None:
    entries: dict[str, Any] = dict(request.session.get(STAGED_KEY, {}))
    entry = entries.pop(token, None)
    if entry is not None and not keep_file:
        _stage_drop(entry)
    request.session[STAGED_KEY] = entries


def _stage_drop(entry: dict[str, Any]) -> None:
    if entry["schema"] == connection.schema_name:  # another organization's file is not ours to touch
        uploads.upload_stage_discard(relative=entry["relative"])
