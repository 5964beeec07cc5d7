"""URLs of the public host (`localhost`): landing, signup, sign-in, health, API docs."""

from django.urls import include, path

from billing import views as billing_views
from pdm_saas import health
from pdm_saas.monitoring.web import metrics_view
from tenants import views as tenant_views
from tenants.api import SignupView

handler404 = "pdm_saas.api.errors.handler404"
handler500 = "pdm_saas.api.errors.handler500"

urlpatterns = [
    path("", tenant_views.landing, name="landing"),
    path("signup/", tenant_views.signup, name="signup"),
    # Organizations sign in on their own host; these ask which one and send the browser there.
    path("login/", tenant_views.public_sign_in, name="sign-in"),
    path("accounts/login/", tenant_views.public_sign_in),  # where a tenant's sign-in would be
    path("healthz", health.healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),  # Prometheus; docs/monitoring.md
    path("stripe/webhook/", billing_views.stripe_webhook, name="stripe-webhook"),
    path("api/v1/signup/", SignupView.as_view(), name="api-signup"),
    path("", include("pdm_saas.urls_api_docs")),
]
