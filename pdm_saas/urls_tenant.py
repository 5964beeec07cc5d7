"""URLs of a tenant host (`acme.localhost`) and of API-key requests routed to a tenant."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from accounts import api as accounts_api
from billing import api as billing_api
from jobs.api import JobViewSet
from machines.api import (
    FailureEventViewSet,
    MachineLabelsView,
    MachineReadingsView,
    MachineTypeViewSet,
    MachineViewSet,
    MappingPresetViewSet,
    ReadingsPushView,
    UploadViewSet,
)
from maintenance import api as maintenance_api
from maintenance import offline_api, photo_api, push_api
from maintenance import urls as maintenance_urls
from maintenance.views import push as push_views
from pdm_saas import health
from predictions import api as predictions_api
from predictions import urls as predictions_urls
from predictions.views import fleet as fleet_views
from tenants import api as tenants_api
from tenants import views as tenant_views

handler404 = "pdm_saas.api.errors.handler404"
handler500 = "pdm_saas.api.errors.handler500"

router = SimpleRouter(trailing_slash=True)
router.register("members", accounts_api.MemberViewSet, basename="member")
router.register("invitations", accounts_api.InvitationViewSet, basename="invitation")
router.register("api-keys", accounts_api.ApiKeyViewSet, basename="api-key")
router.register("jobs", JobViewSet, basename="job")
router.register("machine-types", MachineTypeViewSet, basename="machine-type")
router.register("machines", MachineViewSet, basename="machine")
router.register("uploads", UploadViewSet, basename="upload")
router.register("mapping-presets", MappingPresetViewSet, basename="mapping-preset")
router.register("alerts", maintenance_api.AlertViewSet, basename="alert")
router.register("work-orders", maintenance_api.WorkOrderViewSet, basename="work-order")
router.register("failure-events", FailureEventViewSet, basename="failure-event")
router.register("alert-rules", maintenance_api.AlertRuleViewSet, basename="alert-rule")
router.register("webhooks", maintenance_api.WebhookEndpointViewSet, basename="webhook")
router.register("photos", photo_api.PhotoViewSet, basename="photo")
router.register("push/subscriptions", push_api.PushSubscriptionViewSet, basename="push-subscription")
router.register("datasets", predictions_api.DatasetViewSet, basename="dataset")
router.register("models", predictions_api.ModelVersionViewSet, basename="model-version")
router.register("predictions", predictions_api.PredictionViewSet, basename="prediction")
router.register("tenant/exports", tenants_api.TenantExportViewSet, basename="tenant-export")
router.register("mqtt-credentials", tenants_api.MqttCredentialViewSet, basename="mqtt-credential")

api_v1 = [
    path("me/", accounts_api.MeView.as_view(), name="me"),
    path("invitations/accept/", accounts_api.InvitationAcceptView.as_view(), name="invitation-accept"),
    path("auth/api-keys/", accounts_api.ApiKeyWithPasswordView.as_view(), name="api-key-with-password"),
    path("tenant/", tenants_api.TenantView.as_view(), name="tenant"),
    path("tenant/deactivate/", tenants_api.TenantDeactivateView.as_view(), name="tenant-deactivate"),
    path("machines/<int:pk>/labels/", MachineLabelsView.as_view(), name="machine-labels"),
    path("machines/<int:pk>/readings/", MachineReadingsView.as_view(), name="machine-readings"),
    path("readings/", ReadingsPushView.as_view(), name="readings-push"),
    path("billing/", billing_api.BillingView.as_view(), name="billing"),
    path("billing/checkout/", billing_api.CheckoutView.as_view(), name="billing-checkout"),
    path("billing/portal/", billing_api.PortalView.as_view(), name="billing-portal"),
    path("push/preferences/", push_api.PushPreferencesView.as_view(), name="push-preferences"),
    path("push/key/", push_api.PushKeyView.as_view(), name="push-key"),
    path("offline/bundle/", offline_api.OfflineBundleView.as_view(), name="offline-bundle"),
    path("offline/sync/", offline_api.OfflineSyncView.as_view(), name="offline-sync"),
    *router.urls,
]

urlpatterns = [
    path("", fleet_views.fleet, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("sw.js", push_views.service_worker, name="service-worker"),  # at the root: its scope is the site
    path("accounts/", include("accounts.urls")),
    path("organization/settings/", tenant_views.tenant_settings, name="tenant-settings"),
    path("", include("pdm_saas.config_transfer.urls")),  # /organization/configuration/, /api/v1/config/
    path("", include("machines.urls")),
    # One namespace, `predictions`, as before maintenance's pages moved out of predictions.
    path("", include((predictions_urls.urlpatterns + maintenance_urls.urlpatterns, "predictions"))),
    path("", include("billing.urls")),
    path("", include("planning.urls")),  # /planning/ pages and /api/v1/planning/ API
    path("", include("maintenance.checklist_urls")),  # /checklists/ pages and their API
    path("", include("insights.urls")),  # /insights/ pages and /api/v1/insights/
    path("api/v1/", include(api_v1)),
    path("", include("pdm_saas.urls_api_docs")),
]
