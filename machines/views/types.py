"""The machine-type pages: the built-in library, metadata import, a type's page, its editing
(fields or JSON) and export.

Views authorize (`member_view`), shape input with `machines.forms`, call one service and
render; service errors are shown with their message.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.roles import Scope
from engine.metadata_checks import MetadataInvalid
from machines import services
from machines.forms import (
    MetadataImportForm,
    MetadataJsonForm,
    TypeEditForm,
    problems_attach,
    problems_of,
)
from machines.library import library_get, library_list, metadata_export, metadata_import
from machines.models import MachineType
from machines.selectors import (
    machine_list,
    machine_type_by_key,
    machine_type_keys,
    machine_type_list,
    machine_type_list_with_counts,
    upload_list,
)
from pdm_saas.errors import ServiceError
from pdm_saas.web_access import member_view

# --- machine types ----------------------------------------------------------------------------


@member_view()
def type_list(request: HttpRequest) -> HttpResponse:
    return render(request, "machines/type_list.html", {
        "types": machine_type_list_with_counts(), "library": library_list(), "adopted": machine_type_keys()})


@member_view()
@require_POST
def type_adopt(request: HttpRequest) -> HttpResponse:
    try:
        machine_type = services.machine_type_adopt(key=request.POST.get("key", ""))
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("machines:types")
    messages.success(request, f"{machine_type.name} was added to your machine types.")
    return redirect("machines:type-detail", pk=machine_type.pk)


@member_view()
def library_type_detail(request: HttpRequest, key: str) -> HttpResponse:
    try:
        document = library_get(key)
    except KeyError as exc:
        raise Http404("No such built-in machine type") from exc
    return render(request, "machines/library_type.html",
                  {"document": document, "adopted": machine_type_by_key(key=key)})


@member_view(read=Scope.WRITE)
def type_import(request: HttpRequest) -> HttpResponse:
    form = MetadataImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            machine_type = services.machine_type_import(document=form.cleaned_data["text"])
        except ServiceError as exc:
            _refused(form, exc, text=form.cleaned_data["text"])
        else:
            messages.success(request, f"{machine_type.name} was imported.")
            return redirect("machines:type-detail", pk=machine_type.pk)
    return render(request, "machines/type_import.html", {"form": form}, status=form_status(request, form))


def _refused(form: MetadataImportForm | MetadataJsonForm, exc: ServiceError, *, text: str | bytes) -> None:
    """Put the service's problems on the form, and an uploaded file's text in the textarea so
    the user can correct it there."""
    if isinstance(text, bytes):
        form.data = {**dict(form.data.items()), "document": text.decode("utf-8", errors="replace")}
    problems = problems_of(exc.details)
    if problems:
        form.add_error("document", [f"{p['path']}: {p['message']}" for p in problems])
    else:
        form.add_error(None, exc.message)


def form_status(request: HttpRequest, form: Any) -> int:
    return 400 if request.method == "POST" and form.errors else 200


@member_view()
def type_detail(request: HttpRequest, pk: int) -> HttpResponse:
    machine_type = get_object_or_404(machine_type_list(), pk=pk)
    return render(request, "machines/type_detail.html", {
        "machine_type": machine_type, "document": machine_type.metadata,
        "machines": machine_list(machine_type_id=machine_type.id),
        "uploads": upload_list(machine_type_id=machine_type.id)[:5],
    })


@member_view()
def type_export(request: HttpRequest, pk: int) -> HttpResponse:
    machine_type = get_object_or_404(machine_type_list(), pk=pk)
    response = HttpResponse(metadata_export(machine_type.metadata), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{machine_type.key}.json"'
    return response


@member_view(read=Scope.WRITE)
def type_edit(request: HttpRequest, pk: int) -> HttpResponse:
    machine_type = get_object_or_404(machine_type_list(), pk=pk)
    as_json = request.method == "POST" and request.POST.get("mode") == "json"
    fields_data = request.POST if request.method == "POST" and not as_json else None
    form = TypeEditForm(fields_data, document=machine_type.metadata)
    json_form = MetadataJsonForm(request.POST if as_json else None,
                                 initial={"document": metadata_export(machine_type.metadata)})
    if request.method == "POST":
        saved = _json_save(json_form, machine_type) if as_json else _fields_save(form, machine_type)
        if saved:
            messages.success(request, f"{machine_type.name} was saved (version {machine_type.version + 1}).")
            return redirect("machines:type-detail", pk=machine_type.pk)
    status = 400 if form.errors or json_form.errors else 200
    return render(request, "machines/type_edit.html", {
        "machine_type": machine_type, "form": form, "json_form": json_form, "json_open": as_json}, status=status)


def _fields_save(form: TypeEditForm, machine_type: MachineType) -> bool:
    if not form.is_valid():
        return False
    try:
        services.machine_type_update(type_id=machine_type.pk, document=form.document())
    except ServiceError as exc:
        problems = problems_of(exc.details)
        if problems:
            problems_attach(form, problems)
        else:
            form.add_error(None, exc.message)
        return False
    return True


def _json_save(form: MetadataJsonForm, machine_type: MachineType) -> bool:
    if not form.is_valid():
        return False
    try:
        # Parsing the text is the library's (paths for JSON syntax errors too); the update
        # service validates the document again and keeps the key.
        document = metadata_import(form.cleaned_data["document"])
        services.machine_type_update(type_id=machine_type.pk, document=document)
    except MetadataInvalid as exc:
        form.add_error("document", [str(problem) for problem in exc.problems])
        return False
    except ServiceError as exc:
        _refused(form, exc, text=form.cleaned_data["document"])
        return False
    return True
