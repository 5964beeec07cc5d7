"""The Configuration page of the organization's settings: download the configuration file, and
import one with a dry run first. Admins only (like the API): the page shows nothing to others."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.roles import Scope
from pdm_saas.config_transfer.document import MAX_FILE_BYTES, SECTION_TITLES, upload_bytes
from pdm_saas.config_transfer.export import config_export
from pdm_saas.config_transfer.importing import CREATE, UNCHANGED, UPDATE, ConfigInvalid, config_import
from pdm_saas.web_access import member_view, page_actor

CARRY_BYTES = 1024 * 1024  # a checked file up to this size rides back with "Import this file"


def _page(request: HttpRequest, *, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, "tenants/config_transfer.html", {
        "max_mb": MAX_FILE_BYTES // 1024 // 1024, "titles": SECTION_TITLES, **context}, status=status)


def _sections(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's sections in the page's words, in the order they are applied."""
    return [{"title": SECTION_TITLES[name], "created": found[CREATE], "updated": found[UPDATE],
             "unchanged": found[UNCHANGED]} for name, found in report["sections"].items()]


def _posted_file(request: HttpRequest) -> tuple[bytes, str] | None:
    """The chosen file, or the one a dry run just checked (sent back by "Import this file", so a
    phone need not pick it again); None when neither came."""
    upload = request.FILES.get("file")
    if upload is not None:
        return upload_bytes(upload), str(upload.name)
    if request.POST.get("checked"):
        return request.POST["checked"].encode(), request.POST.get("file_name", "")[:200]
    return None


def _carried(data: bytes) -> str:
    """The checked file's text to carry in the report's "Import this file" form; empty (the
    file is chosen again) when it is too big to send back or not text."""
    if len(data) > CARRY_BYTES:
        return ""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ""


@member_view(read=Scope.ADMIN, write=Scope.ADMIN)
def config_transfer(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    posted = _posted_file(request)
    dry_run = request.POST.get("action") != "import"
    if posted is None:
        return _page(request, status=400, problems=[{"path": "$", "message": "Choose a configuration file."}])
    data, name = posted
    try:
        report = config_import(data=data, dry_run=dry_run, actor_id=page_actor(request).user_id)
    except ConfigInvalid as exc:
        return _page(request, status=400, problems=exc.details["problems"], file_name=name, dry_run=dry_run)
    return _page(request, report=_sections(report.as_dict()), file_name=name, dry_run=dry_run,
                 checked=_carried(data) if dry_run else "")


@member_view(read=Scope.ADMIN, write=Scope.ADMIN)
def config_download(request: HttpRequest) -> HttpResponse:
    slug = request.tenant.slug  # type: ignore[attr-defined]
    document = config_export(organization=slug, now=timezone.now())
    response = HttpResponse(json.dumps(document, indent=2, ensure_ascii=False), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{slug}-config.json"'
    return response
