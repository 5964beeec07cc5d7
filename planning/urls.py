"""Pages under /planning/ and the API under /api/v1/planning/ (included once from
pdm_saas/urls_tenant.py)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from planning import api, views

app_name = "planning"

router = SimpleRouter(trailing_slash=True)
router.register("technicians", api.TechnicianViewSet, basename="api-technician")
router.register("parts", api.SparePartViewSet, basename="api-part")
router.register("part-needs", api.PartNeedViewSet, basename="api-part-need")
router.register("windows", api.ProductionWindowViewSet, basename="api-window")
router.register("plans", api.PlanViewSet, basename="api-plan")

urlpatterns = [
    path("planning/", views.planning_index, name="index"),
    path("planning/plans/", views.plan_create, name="plan-create"),
    path("planning/plans/<int:pk>/", views.plan_detail, name="plan-detail"),
    path("planning/plans/<int:pk>/accept/", views.plan_accept_page, name="plan-accept"),
    path("api/v1/planning/", include(router.urls)),
]
