from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import ApiKey, Invitation, Membership
from accounts.roles import KEY_SCOPES, Role
from accounts.selectors import api_key_scopes


class MemberSerializer(serializers.ModelSerializer[Membership]):
    email = serializers.EmailField(source="user.email", read_only=True)
    full_name = serializers.CharField(source="user.full_name", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "email", "full_name", "role", "created_at"]
        read_only_fields = fields


class RoleSerializer(serializers.Serializer[Any]):
    role = serializers.ChoiceField(choices=Role.choices)


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "created_at", "expires_at", "accepted_at", "revoked_at"]
        read_only_fields = fields


class InvitationCreateSerializer(serializers.Serializer[Any]):
    email = serializers.EmailField()
    role = serializers.ChoiceField(choices=Role.choices, default=Role.VIEWER)


class InvitationAcceptSerializer(serializers.Serializer[Any]):
    token = serializers.CharField()
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    full_name = serializers.CharField(required=False, allow_blank=True, default="")


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True, default=None)
    effective_scopes = serializers.SerializerMethodField(
        help_text="What the key may do now: its scopes capped by its creator's current role."
    )

    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_by", "scopes", "effective_scopes", "created_at",
                  "expires_at", "last_used_at", "revoked_at"]
        read_only_fields = fields

    def get_effective_scopes(self, key: ApiKey) -> list[str]:
        return sorted(api_key_scopes(key)) if key.revoked_at is None else []


class ApiKeyCreateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=sorted(KEY_SCOPES)), min_length=1, max_length=4
    )
    expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ApiKeyWithPasswordSerializer(ApiKeyCreateSerializer):
    email = serializers.EmailField()
    password = serializers.CharField(max_length=4096, trim_whitespace=False, style={"input_type": "password"})
