"""Browser pages of billing on a tenant host: plan, usage, invoices, upgrade."""

from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("billing/", views.billing_overview, name="overview"),
    path("billing/checkout/", views.billing_checkout, name="checkout"),
    path("billing/portal/", views.billing_portal, name="portal"),
]
