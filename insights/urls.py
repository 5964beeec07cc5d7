"""Pages under /insights/ and GET /api/v1/insights/ (included once from pdm_saas/urls_tenant.py)."""

from django.urls import path

from insights import api, views

app_name = "insights"

urlpatterns = [
    path("insights/", views.insights_index, name="index"),
    path("insights/email/", views.insights_email, name="email"),
    path("api/v1/insights/", api.InsightsView.as_view(), name="api"),
]
