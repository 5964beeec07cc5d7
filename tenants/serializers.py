from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tenants.models import MqttCredential, Tenant


class SignupSerializer(serializers.Serializer[Any]):
    organization_name = serializers.CharField(max_length=200)
    slug = serializers.CharField(max_length=40)
    owner_email = serializers.EmailField()
    owner_password = serializers.CharField(write_only=True, trim_whitespace=False)


class TenantSerializer(serializers.ModelSerializer[Tenant]):
    plan = serializers.CharField(source="subscription.plan.code", read_only=True, default=None)
    subscription_status = serializers.CharField(source="subscription.status", read_only=True, default=None)

    class Meta:
        model = Tenant
        fields = ["name", "slug", "is_active", "created_at", "plan", "subscription_status", "time_zone"]
        read_only_fields = ["slug", "is_active", "created_at", "plan", "subscription_status"]


class TenantDeleteSerializer(serializers.Serializer[Any]):
    confirm_slug = serializers.CharField()


class MqttCredentialSerializer(serializers.ModelSerializer[MqttCredential]):
    topic = serializers.SerializerMethodField()

    class Meta:
        model = MqttCredential
        fields = ["id", "username", "topic", "created_at", "revoked_at"]
        read_only_fields = fields

    def get_topic(self, obj: Any) -> str:
        return f"pdm/{obj.tenant.slug}/readings"
