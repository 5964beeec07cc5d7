"""Tenant API for members, invitations and API keys. Thin: validate, call a service, render."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.lockout import client_address
from accounts.models import ApiKey, Invitation, Membership
from accounts.roles import Scope
from accounts.serializers import (
    ApiKeyCreateSerializer,
    ApiKeySerializer,
    ApiKeyWithPasswordSerializer,
    InvitationAcceptSerializer,
    InvitationCreateSerializer,
    InvitationSerializer,
    MemberSerializer,
    RoleSerializer,
)
from pdm_saas.api.base import TenantAPIView, TenantViewSet
from pdm_saas.api.principals import ApiKeyPrincipal, request_actor, request_membership, request_scopes


class MeView(TenantAPIView):
    """Who is calling, in which organization, with which scopes."""

    @extend_schema(responses=inline_serializer("Me", fields={
        "tenant": serializers.DictField(), "user": serializers.DictField(allow_null=True),
        "api_key": serializers.DictField(allow_null=True), "role": serializers.CharField(allow_null=True),
        "scopes": serializers.ListField(child=serializers.CharField()),
    }))
    def get(self, request: Request) -> Response:
        membership = request_membership(request)
        key = request.user.api_key if isinstance(request.user, ApiKeyPrincipal) else None
        return Response({
            "tenant": {"name": request.tenant.name, "slug": request.tenant.slug},
            "user": {"email": request.user.email} if key is None else None,
            "api_key": {"name": key.name, "prefix": key.prefix} if key else None,
            "role": membership.role if membership else None,
            "scopes": sorted(request_scopes(request)),
        })


class MemberViewSet(mixins.ListModelMixin, TenantViewSet):
    queryset = Membership.objects.select_related("user")
    serializer_class = MemberSerializer
    scope_map = {"list": Scope.READ, "partial_update": Scope.ADMIN, "destroy": Scope.ADMIN}
    filterset_fields = ["role"]

    @extend_schema(request=RoleSerializer, responses=MemberSerializer)
    def partial_update(self, request: Request, pk: str) -> Response:
        body = RoleSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = services.member_role_change(
            actor=request_actor(request), membership_id=int(pk), role=body.validated_data["role"]
        )
        return Response(MemberSerializer(membership).data)

    def destroy(self, request: Request, pk: str) -> Response:
        services.member_remove(actor=request_actor(request), membership_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationViewSet(mixins.ListModelMixin, TenantViewSet):
    queryset = Invitation.objects.all()
    serializer_class = InvitationSerializer
    scope_map = {"list": Scope.ADMIN, "create": Scope.ADMIN, "destroy": Scope.ADMIN}

    @extend_schema(request=InvitationCreateSerializer, responses={201: inline_serializer("InvitationIssued", fields={
        "invitation": InvitationSerializer(), "token": serializers.CharField(), "accept_url": serializers.CharField(),
    })})
    def create(self, request: Request) -> Response:
        body = InvitationCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = services.invitation_create(actor=request_actor(request), **body.validated_data)
        return Response(
            {
                "invitation": InvitationSerializer(issued.invitation).data,
                "token": issued.token,
                "accept_url": services.invitation_accept_url(invitation=issued.invitation, token=issued.token),
            },
            status=status.HTTP_201_CREATED,
        )

    def destroy(self, request: Request, pk: str) -> Response:
        services.invitation_revoke(tenant_id=request.tenant.id, invitation_id=int(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationAcceptView(APIView):
    """Anyone holding an invitation token may accept it: it is the credential."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(request=InvitationAcceptSerializer, responses={201: MemberSerializer})
    def post(self, request: Request) -> Response:
        body = InvitationAcceptSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        membership = services.invitation_accept(tenant_id=request.tenant.id, **body.validated_data)
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class ApiKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    queryset = ApiKey.objects.all()
    serializer_class = ApiKeySerializer
    scope_map = {"list": Scope.ADMIN, "retrieve": Scope.ADMIN, "create": Scope.ADMIN, "revoke": Scope.ADMIN}

    def get_queryset(self) -> QuerySet[ApiKey]:
        queryset = selectors.api_keys_with_creator_role(super().get_queryset())
        if self.request.query_params.get("include_revoked") not in ("1", "true"):
            queryset = queryset.filter(revoked_at__isnull=True)
        return queryset

    @extend_schema(request=ApiKeyCreateSerializer, responses={201: inline_serializer("ApiKeyIssued", fields={
        "api_key": ApiKeySerializer(), "key": serializers.CharField(help_text="Shown once; store it now."),
    })})
    def create(self, request: Request) -> Response:
        body = ApiKeyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        actor = request_actor(request)
        issued = services.api_key_create(
            tenant=request.tenant, created_by_id=actor.user_id, holder_scopes=request_scopes(request),
            **body.validated_data,
        )
        return Response(
            {"api_key": ApiKeySerializer(issued.key).data, "key": issued.raw}, status=status.HTTP_201_CREATED
        )

    @extend_schema(request=None, responses=ApiKeySerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request: Request, pk: str) -> Response:
        key = services.api_key_revoke(tenant_id=request.tenant.id, key_id=int(pk))
        return Response(ApiKeySerializer(key).data)


class ApiKeyWithPasswordView(APIView):
    """A first API key from an admin's email and password, for scripts: no session, so no CSRF
    cookie. The password in the body is the credential; a session or key is never accepted here
    (no authentication classes, so DRF skips its CSRF check, which only session auth enforces, and
    a forged cross-site form cannot borrow a visitor's cookie). Throttled with the sign-in page's
    counters (accounts/lockout.py)."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list[Any] = []

    @extend_schema(request=ApiKeyWithPasswordSerializer, auth=[], responses={201: inline_serializer(
        "ApiKeyIssuedForPassword", fields={
            "api_key": ApiKeySerializer(), "key": serializers.CharField(help_text="Shown once; store it now.")})})
    def post(self, request: Request) -> Response:
        body = ApiKeyWithPasswordSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = services.api_key_create_with_password(
            tenant=request.tenant, address=client_address(request), **body.validated_data)
        return Response({"api_key": ApiKeySerializer(issued.key).data, "key": issued.raw},
                        status=status.HTTP_201_CREATED)
