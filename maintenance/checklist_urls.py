"""Checklist pages (`/checklists/`, a work order's items) and their API (included once from
pdm_saas/urls_tenant.py, like planning's)."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from maintenance import checklist_api
from maintenance.views import checklists

app_name = "checklists"

router = SimpleRouter(trailing_slash=True)
router.register("checklist-templates", checklist_api.ChecklistTemplateViewSet, basename="api-template")

order_items = checklist_api.WorkOrderChecklistViewSet

urlpatterns = [
    path("checklists/", checklists.checklist_index, name="index"),
    path("checklists/new/", checklists.checklist_template_new, name="template-new"),
    path("checklists/<int:pk>/", checklists.checklist_template_edit, name="template-edit"),
    path("checklists/<int:pk>/delete/", checklists.checklist_template_delete_page, name="template-delete"),
    path("checklists/seed/<int:type_id>/", checklists.checklist_seed_page, name="seed"),
    path("work-orders/<int:order_pk>/checklist/<int:pk>/", checklists.checklist_item_page, name="item"),
    path("api/v1/work-orders/<int:order_pk>/checklist/", order_items.as_view({"get": "list"}), name="api-items"),
    path("api/v1/work-orders/<int:order_pk>/checklist/<int:pk>/",
         order_items.as_view({"get": "retrieve", "patch": "partial_update"}), name="api-item"),
    path("api/v1/", include(router.urls)),
]
