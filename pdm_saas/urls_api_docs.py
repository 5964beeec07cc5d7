"""OpenAPI schema and interactive docs, served on public and tenant hosts alike; each host
describes the API of its own URL conf. Swagger UI comes from drf-spectacular-sidecar (no CDN)."""

from typing import Any

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response


class HostSchemaView(SpectacularAPIView):
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # django-tenants sets request.urlconf for the public host; the tenant conf is the default.
        self.urlconf = getattr(request._request, "urlconf", None)
        return super().get(request, *args, **kwargs)


urlpatterns = [
    path("api/v1/schema/", HostSchemaView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the Content-Security-Policy allows no inline script.
    path("api/v1/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]
