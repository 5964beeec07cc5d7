"""The offline page (`/offline/`: the work this device keeps, drawn by static/js/offline.js from
what it stored) and the session endpoints its script calls: `/offline/bundle/` and
`/offline/sync/`, the same as the API's (maintenance/offline_api.py) for a signed-in person.

All three need the `write` scope: offline work is changing work orders without network.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from accounts.roles import Scope
from maintenance.offline import offline_sync
from maintenance.offline_selectors import offline_bundle
from maintenance.offline_serializers import operations_parse
from pdm_saas.errors import InvalidInput, ServiceError
from pdm_saas.web_access import member_view, page_actor

technician = member_view(read=Scope.WRITE, write=Scope.WRITE)


@technician
@require_GET
def offline_page(request: HttpRequest) -> HttpResponse:
    return render(request, "maintenance/offline.html")


@technician
@require_GET
def offline_bundle_page(request: HttpRequest) -> HttpResponse:
    response = JsonResponse(offline_bundle(user_id=page_actor(request).user_id or 0))
    response["Cache-Control"] = "no-store"  # the script stores it itself; no HTTP cache keeps a person's work
    return response


@technician
@require_POST
def offline_sync_page(request: HttpRequest) -> HttpResponse:
    try:
        operations = operations_parse(_body(request), request.FILES)
        outcomes = offline_sync(actor_id=page_actor(request).user_id or 0, operations=operations)
    except ServiceError as exc:
        return JsonResponse({"error": {"code": exc.code, "message": exc.message, "details": exc.details}},
                            status=exc.status_code)
    return JsonResponse({"results": [outcome.as_dict() for outcome in outcomes]})


def _body(request: HttpRequest) -> Any:
    if request.content_type == "multipart/form-data":
        return {"operations": request.POST.get("operations")}
    try:
        return json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("Send the operations as JSON.") from None
