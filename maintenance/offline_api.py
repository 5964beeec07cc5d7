"""`/api/v1/offline/bundle/` (what a device keeps for working offline) and
`/api/v1/offline/sync/` (applying what it queued), both for those who may change work orders
(the `write` scope): offline work is the technician's (docs/web.md, "Offline")."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Scope
from maintenance.offline import offline_sync
from maintenance.offline_selectors import offline_bundle
from maintenance.offline_serializers import SyncSerializer, operations_parse
from pdm_saas.api.base import TenantAPIView
from pdm_saas.api.principals import request_actor
from pdm_saas.errors import NotAllowed


class OutcomeSerializer(serializers.Serializer[Any]):
    op_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["applied", "already_applied", "conflict", "refused"])
    message = serializers.CharField(help_text="what happened, in words a technician reads")
    work_order = serializers.IntegerField(allow_null=True)
    version = serializers.CharField(help_text="an applied answer: the item's new version")


class SyncResultSerializer(serializers.Serializer[Any]):
    results = OutcomeSerializer(many=True)


class OfflineBundleView(TenantAPIView):
    scope_map = {"get": Scope.WRITE}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        """The caller's live work orders (and the unassigned live ones) with their checklists, their
        machines' latest health, and the URLs to cache."""
        return Response(offline_bundle(user_id=_person(request)))


class OfflineSyncView(TenantAPIView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(request=SyncSerializer, responses={200: SyncResultSerializer})
    def post(self, request: Request) -> Response:
        """Apply queued operations in order; each answered applied, already_applied, conflict or
        refused with a message. Safe to send again: an operation's id is applied once."""
        operations = operations_parse(_body(request), request.FILES)  # type: ignore[arg-type]
        outcomes = offline_sync(actor_id=_person(request), operations=operations)
        return Response({"results": [outcome.as_dict() for outcome in outcomes]})


def _person(request: Request) -> int:
    user_id = request_actor(request).user_id
    if user_id is None:  # a key nobody made: offline work is a person's, with their name in the history
        raise NotAllowed("Offline work is a person's: use an API key made by a member.")
    return user_id


def _body(request: Request) -> Any:
    data = request.data
    # A multipart body's QueryDict: only its `operations` text counts.
    return {"operations": data.get("operations")} if hasattr(data, "getlist") else data
