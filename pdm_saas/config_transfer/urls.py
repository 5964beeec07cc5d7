"""The Configuration page (organization settings) and its API."""

from django.urls import path

from pdm_saas.config_transfer import api, views

urlpatterns = [
    path("organization/configuration/", views.config_transfer, name="config-transfer"),
    path("organization/configuration/export/", views.config_download, name="config-download"),
    path("api/v1/config/export/", api.ConfigExportView.as_view(), name="config-export"),
    path("api/v1/config/import/", api.ConfigImportView.as_view(), name="config-import"),
]
