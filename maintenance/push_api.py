"""Web Push through the API: a person's subscribed browsers (an app registering its own), their
choices per kind, and the key to subscribe with. Personal: every member, and every key with
`read` acting for the person who created it, manages their own and sees nobody else's."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.roles import Scope
from maintenance.push import vapid_public_key
from maintenance.push_models import PushKind, PushSubscription
from maintenance.push_selectors import push_preferences_of
from maintenance.services import push as push_services
from pdm_saas.api.base import TenantAPIView, TenantViewSet
from pdm_saas.api.principals import request_actor
from pdm_saas.errors import InvalidInput


class PushKeysSerializer(serializers.Serializer[Any]):
    p256dh = serializers.CharField(max_length=100)
    auth = serializers.CharField(max_length=40)


class PushSubscriptionSerializer(serializers.ModelSerializer[PushSubscription]):
    """A browser's PushSubscription as `toJSON()` gives it: endpoint and keys."""

    keys = PushKeysSerializer(write_only=True)

    class Meta:
        model = PushSubscription
        fields = ["id", "endpoint", "keys", "device", "created_at", "last_delivered_at"]
        read_only_fields = ["id", "created_at", "last_delivered_at"]
        extra_kwargs: dict[str, Any] = {"endpoint": {"validators": []}}  # the service refreshes a known endpoint


def caller_user_id(request: Request) -> int:
    """The person behind the call: the member, or the key's creator."""
    user_id = request_actor(request).user_id
    if user_id is None:
        raise InvalidInput("This API key has no person behind it to send notifications to.")
    return user_id


class PushSubscriptionViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin,
                              TenantViewSet):
    serializer_class = PushSubscriptionSerializer
    queryset = PushSubscription.objects.all()
    # Personal settings: reading the organization is enough to manage one's own browsers.
    scope_map = {"list": Scope.READ, "create": Scope.READ, "destroy": Scope.READ}
    pagination_class = None

    def dangerously_get_unscoped_queryset(self) -> QuerySet[PushSubscription]:
        # Narrowed to the caller: the schema already isolates the organization.
        user_id = request_actor(self.request).user_id
        return PushSubscription.objects.filter(user_id=user_id) if user_id else PushSubscription.objects.none()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = PushSubscriptionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        saved = push_services.push_subscription_save(
            user_id=caller_user_id(request), endpoint=data["endpoint"], p256dh=data["keys"]["p256dh"],
            auth=data["keys"]["auth"], device=data.get("device", ""))
        return Response(PushSubscriptionSerializer(saved).data, status=status.HTTP_201_CREATED)

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        subscription = self.get_object()
        push_services.push_subscription_delete(user_id=subscription.user_id, subscription_id=subscription.id)
        return Response(status=status.HTTP_204_NO_CONTENT)


PREFERENCES = inline_serializer("PushPreferences", fields={
    kind.replace(".", "_"): serializers.BooleanField(required=False, help_text=label)
    for kind, label in PushKind.choices})


def _preferences_out(choices: dict[str, bool]) -> dict[str, bool]:
    return {kind.replace(".", "_"): enabled for kind, enabled in choices.items()}


class PushPreferencesView(TenantAPIView):
    """Which kinds are pushed to you: `alert_opened` (new alert on my machines), `alert_escalated`,
    `work_order_assigned` (to me). All on until switched off."""

    scope_map = {"get": Scope.READ, "put": Scope.READ}

    @extend_schema(responses=PREFERENCES)
    def get(self, request: Request) -> Response:
        return Response(_preferences_out(push_preferences_of(user_id=caller_user_id(request))))

    @extend_schema(request=PREFERENCES, responses=PREFERENCES)
    def put(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput("Send an object of kinds to true or false.")
        by_name = {kind.replace(".", "_"): kind for kind in PushKind.values}
        unknown = sorted(set(request.data) - set(by_name))
        wrong = sorted(name for name, value in request.data.items() if not isinstance(value, bool))
        if unknown or wrong:
            raise InvalidInput(f"Give true or false for any of: {', '.join(by_name)}.",
                               details={"unknown": unknown, "not_boolean": wrong})
        choices = {by_name[name]: value for name, value in request.data.items()}
        saved = push_services.push_preferences_set(user_id=caller_user_id(request), choices=choices)
        return Response(_preferences_out(saved))


class PushKeyView(TenantAPIView):
    """The application server key to pass to `PushManager.subscribe` (base64url); empty when
    this server has no VAPID key, and push is off."""

    @extend_schema(responses=inline_serializer("PushKey", fields={
        "public_key": serializers.CharField(), "enabled": serializers.BooleanField()}))
    def get(self, request: Request) -> Response:
        key = vapid_public_key()
        return Response({"public_key": key, "enabled": bool(key)})
