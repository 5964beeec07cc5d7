from __future__ import annotations

from typing import Any

from rest_framework import mixins

from jobs.models import Job
from jobs.serializers import JobDetailSerializer, JobSerializer
from pdm_saas.api.base import TenantViewSet


class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    """Long jobs of this organization: status, progress, message and errors."""

    queryset = Job.objects.all()
    filterset_fields = ["status", "kind"]
    ordering_fields = ["created_at", "finished_at"]

    def get_serializer_class(self) -> Any:
        return JobDetailSerializer if self.action == "retrieve" else JobSerializer
