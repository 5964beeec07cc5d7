"""Pages under /planning/ and the API under /api/v1/planning/ (included once from
pdm_saas/urls_tenant.py)."""

from django.urls import include, path, re_path
from rest_framework.routers import SimpleRouter

from planning import api, preventive_api, preventive_views, stock_views, views

app_name = "planning"

router = SimpleRouter(trailing_slash=True)
router.register("technicians", api.TechnicianViewSet, basename="api-technician")
router.register("parts", api.SparePartViewSet, basename="api-part")
router.register("part-needs", api.PartNeedViewSet, basename="api-part-need")
router.register("windows", api.ProductionWindowViewSet, basename="api-window")
router.register("plans", api.PlanViewSet, basename="api-plan")
router.register("stock-movements", api.StockMovementViewSet, basename="api-stock-movement")
router.register("part-uses", api.PartUseViewSet, basename="api-part-use")
router.register("pm-plans", preventive_api.PreventivePlanViewSet, basename="api-pm-plan")

KINDS = "|".join(views.REFERENCES)  # technicians|parts|needs|windows

urlpatterns = [
    path("planning/", views.planning_index, name="index"),
    path("planning/plans/", views.plan_create, name="plan-create"),
    path("planning/plans/<int:pk>/", views.plan_detail, name="plan-detail"),
    path("planning/plans/<int:pk>/accept/", views.plan_accept_page, name="plan-accept"),
    # Every cost a plan prices, in one place (GET), saved a machine type at a time (POST).
    path("planning/costs/", views.costs_edit, name="costs"),
    path("planning/costs/<int:type_id>/", views.costs_edit, name="costs-save"),
    # Technicians, spare parts, part needs and production windows: add, edit, delete.
    re_path(rf"^planning/(?P<kind>{KINDS})/$", views.reference_create, name="reference-create"),
    re_path(rf"^planning/(?P<kind>{KINDS})/(?P<pk>[0-9]+)/$", views.reference_edit, name="reference-edit"),
    re_path(rf"^planning/(?P<kind>{KINDS})/(?P<pk>[0-9]+)/delete/$", views.reference_delete,
            name="reference-delete"),
    # Spare parts that move: a part's ledger and receiving; parts used on a work order.
    path("planning/parts/<int:pk>/stock/", stock_views.part_stock, name="part-stock"),
    path("planning/work-orders/<int:pk>/parts/", stock_views.work_order_part_set, name="work-order-parts"),
    path("planning/work-orders/<int:pk>/parts/unrecorded/", stock_views.work_order_unrecorded,
         name="work-order-parts-unrecorded"),
    path("planning/part-uses/<int:pk>/return/", stock_views.part_use_return_page, name="part-use-return"),
    # Preventive (PM) plans: all of them or one machine's (?machine=<id>), one plan, "Generate now".
    path("planning/pm-plans/", preventive_views.pm_plan_list, name="pm-plans"),
    path("planning/pm-plans/<int:pk>/", preventive_views.pm_plan_edit, name="pm-plan-edit"),
    path("planning/pm-plans/<int:pk>/generate/", preventive_views.pm_plan_generate, name="pm-plan-generate"),
    path("planning/pm-plans/<int:pk>/delete/", preventive_views.pm_plan_delete, name="pm-plan-delete"),
    path("api/v1/planning/", include(router.urls)),
]
