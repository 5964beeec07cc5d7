"""`/api/v1/config/export/` and `/api/v1/config/import/`: an organization's configuration as one
JSON file, out and in. Both need the `admin` scope: the file describes the whole setup, and
importing one rewrites types, rules and plans that every member works with."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Scope
from pdm_saas.api.base import TenantAPIView
from pdm_saas.api.principals import request_actor
from pdm_saas.config_transfer.document import upload_bytes
from pdm_saas.config_transfer.export import config_export
from pdm_saas.config_transfer.importing import config_import
from pdm_saas.errors import InvalidInput

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off", "")


def dry_run_flag(value: str | None) -> bool:
    text = (value or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput("dry_run is true or false.", details={"dry_run": ["true or false"]})


class ConfigExportView(TenantAPIView):
    scope_map = {"get": Scope.ADMIN}

    @extend_schema(responses={(200, "application/json"): OpenApiResponse(
        description="The configuration file (format pdm-config, version 1): machine types, machines, alert "
                    "rules, checklist templates and PM plans")})
    def get(self, request: Request) -> Response:
        """The organization's configuration as one file, to import into another organization."""
        document = config_export(organization=request.tenant.slug, now=timezone.now())  # type: ignore[attr-defined]
        response = Response(document)
        response["Content-Disposition"] = f'attachment; filename="{request.tenant.slug}-config.json"'  # type: ignore[attr-defined]
        return response


class ConfigImportView(TenantAPIView):
    scope_map = {"post": Scope.ADMIN}

    @extend_schema(
        parameters=[OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="check and report only; "
                                     "nothing is written (default false)")],
        request={"multipart/form-data": {"type": "object", "properties": {"file": {"type": "string",
                                                                                  "format": "binary"}}},
                 "application/json": {"type": "object", "description": "the configuration file itself"}},
        responses={200: OpenApiResponse(description="per section, what was (or, dry run, would be) created, "
                                                    "updated and left unchanged"),
                   400: OpenApiResponse(description="`invalid_config`: nothing written; `details.problems` "
                                                    "lists each problem with its place in the file")})
    def post(self, request: Request) -> Response:
        """Import a configuration file (multipart `file`, or the JSON as the body): all or nothing,
        matched by natural keys; `dry_run=true` reports without writing."""
        dry_run = dry_run_flag(request.query_params.get("dry_run") or _form_value(request, "dry_run"))
        report = config_import(data=_file_bytes(request), dry_run=dry_run, actor_id=request_actor(request).user_id)
        return Response(report.as_dict())


def _multipart(request: Request) -> bool:
    return (request.content_type or "").startswith(("multipart/form-data", "application/x-www-form-urlencoded"))


def _form_value(request: Request, name: str) -> Any:
    return request.data.get(name) if _multipart(request) else None


def _file_bytes(request: Request) -> bytes:
    if _multipart(request):
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Send the configuration file as the multipart field \"file\" (or as the JSON body).",
                               details={"file": ["required"]})
        return upload_bytes(upload)
    return bytes(request.body)
