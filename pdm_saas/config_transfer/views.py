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


def _page(request: HttpRequest, *, status: int = 200, **context: Any) -> HttpResponse:
    return render(request, "tenants/config_transfer.html", {
        "max_mb": MAX_FILE_BYTES // 1024 // 1024, "titles": SECTION_TITLES, **context}, status=status)


def _sections(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's sections in the page's words, in the order they are applied."""
    return [{"title": SECTION_TITLES[name], "created": found[CREATE], "updated": found[UPDATE],
             "unchanged": found[UNCHANGED]} for name, found in report["sections"].items()]


@member_view(read=Scope.ADMIN, write=Scope.ADMIN)
def config_transfer(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _page(request)
    upload = request.FILES.get("file")
    dry_run = request.POST.get("action") != "import"
    if upload is None:
        return _page(request, status=400, problems=[{"path": "$", "message": "Choose a configuration file."}])
    try:
        report = config_import(data=upload_bytes(upload), dry_run=dry_run, actor_id=page_actor(request).user_id)
    except ConfigInvalid as exc:
        return _page(request, status=400, problems=exc.details["problems"], file_name=upload.name, dry_run=dry_run)
    return _page(request, report=_sections(report.as_dict()), file_name=upload.name, dry_run=dry_run)


@member_view(read=Scope.ADMIN, write=Scope.ADMIN)
def config_download(request: HttpRequest) -> HttpResponse:
    slug = request.tenant.slug  # type: ignore[attr-defined]
    document = config_export(organization=slug, now=timezone.now())
    response = HttpResponse(json.dumps(document, indent=2, ensure_ascii=False), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{slug}-config.json"'
    return response
