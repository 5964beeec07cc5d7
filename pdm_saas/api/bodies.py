"""Request bodies several apps' APIs take alike."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class NoteSerializer(serializers.Serializer[Any]):
    note = serializers.CharField(required=False, allow_blank=True, default="")
