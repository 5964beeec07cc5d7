"""Signup (public host) and the tenant's own settings, export and deletion (tenant hosts)."""

from __future__ import annotations

from typing import Any

from django.http import FileResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts.roles import Scope
from jobs.models import Job
from jobs.serializers import JobSerializer
from pdm_saas.api.base import TenantAPIView, TenantViewSet
from pdm_saas.api.principals import request_actor
from pdm_saas.errors import NotFound
from tenants import mqtt, services
from tenants.models import MqttCredential
from tenants.schema_names import tenant_url
from tenants.serializers import (
    MqttCredentialSerializer,
    SignupSerializer,
    TenantDeleteSerializer,
    TenantSerializer,
)


class SignupView(APIView):
    """Create an organization with its owner. Served on the public host."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "signup"

    @extend_schema(request=SignupSerializer, responses={201: inline_serializer("SignupDone", fields={
        "tenant": serializers.DictField(), "host": serializers.CharField(), "login_url": serializers.CharField(),
    })})
    def post(self, request: Request) -> Response:
        body = SignupSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        signup = services.tenant_signup(**body.validated_data)
        return Response(
            {
                "tenant": {"name": signup.tenant.name, "slug": signup.tenant.slug},
                "host": signup.host,
                "login_url": tenant_url(signup.host, "/accounts/login/"),
            },
            status=status.HTTP_201_CREATED,
        )


class TenantView(TenantAPIView):
    serializer_class = TenantSerializer
    scope_map = {"get": Scope.READ, "patch": Scope.ADMIN, "delete": Scope.OWNER}

    def get(self, request: Request) -> Response:
        return Response(TenantSerializer(request.tenant).data)

    def patch(self, request: Request) -> Response:
        body = TenantSerializer(request.tenant, data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        tenant = request.tenant
        if "name" in body.validated_data:
            tenant = services.tenant_rename(tenant=tenant, name=body.validated_data["name"])
        if "time_zone" in body.validated_data:
            tenant = services.tenant_time_zone_set(tenant=tenant, time_zone=body.validated_data["time_zone"])
        return Response(TenantSerializer(tenant).data)

    @extend_schema(request=TenantDeleteSerializer, responses={204: OpenApiResponse(description="Deleted")})
    def delete(self, request: Request) -> Response:
        body = TenantDeleteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.tenant_delete(tenant=request.tenant, confirm_slug=body.validated_data["confirm_slug"])
        return Response(status=status.HTTP_204_NO_CONTENT)


class TenantDeactivateView(TenantAPIView):
    scope_map = {"post": Scope.OWNER}

    @extend_schema(request=None, responses=TenantSerializer)
    def post(self, request: Request) -> Response:
        tenant = services.tenant_deactivate(tenant=request.tenant)
        return Response(TenantSerializer(tenant).data)


class TenantExportViewSet(mixins.ListModelMixin, TenantViewSet):
    """Exports of everything the organization owns, as JSON files made by a background job."""

    queryset = Job.objects.filter(kind=services.EXPORT_KIND)
    serializer_class = JobSerializer
    scope_map = {"list": Scope.ADMIN, "create": Scope.ADMIN, "download": Scope.ADMIN}

    @extend_schema(request=None, responses={202: JobSerializer})
    def create(self, request: Request) -> Response:
        job = services.tenant_export_start(created_by_id=request_actor(request).user_id)
        return Response(JobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={(200, "application/json"): OpenApiResponse(description="The export file")})
    @action(detail=True, methods=["get"])
    def download(self, request: Request, pk: str) -> FileResponse:
        job = self.get_queryset().filter(id=pk).first()
        path = services.tenant_export_file(tenant=request.tenant, job=job) if job else None
        if path is None:
            raise NotFound("No finished export with this id.")
        return FileResponse(path.open("rb"), as_attachment=True, filename=f"{request.tenant.slug}-{path.name}")


class MqttCredentialViewSet(mixins.ListModelMixin, TenantViewSet):
    """Broker logins for publishing readings over MQTT (docs/ingest.md). The password is shown
    once; a new or revoked login takes effect at the operator's next `mqtt_sync`."""

    queryset = MqttCredential.objects.select_related("tenant")
    serializer_class = MqttCredentialSerializer
    scope_map = {"list": Scope.ADMIN, "create": Scope.ADMIN, "revoke": Scope.ADMIN}

    @extend_schema(request=None, responses={201: inline_serializer("MqttCredentialIssued", fields={
        "credential": MqttCredentialSerializer(), "password": serializers.CharField()})})
    def create(self, request: Request) -> Response:
        credential, password = mqtt.mqtt_credential_create(tenant=request.tenant)
        return Response({"credential": MqttCredentialSerializer(credential).data, "password": password},
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=MqttCredentialSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        credential = mqtt.mqtt_credential_revoke(tenant=request.tenant, credential_id=int(pk))
        return Response(MqttCredentialSerializer(credential).data)
