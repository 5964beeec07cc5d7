"""Browser pages of the machines app: the machine-type library, metadata import and editing,
machines, and sensor-data uploads."""

from django.urls import path

from machines.views import types, uploads

app_name = "machines"

urlpatterns = [
    path("machine-types/", types.type_list, name="types"),
    path("machine-types/import/", types.type_import, name="type-import"),
    path("machine-types/adopt/", types.type_adopt, name="type-adopt"),
    path("machine-types/library/<str:key>/", types.library_type_detail, name="library-type"),
    path("machine-types/<int:pk>/", types.type_detail, name="type-detail"),
    path("machine-types/<int:pk>/edit/", types.type_edit, name="type-edit"),
    path("machine-types/<int:pk>/export/", types.type_export, name="type-export"),
    path("uploads/", uploads.upload_start, name="upload"),
    path("uploads/new/<str:token>/", uploads.upload_map, name="upload-map"),
    path("uploads/<int:pk>/", uploads.upload_detail, name="upload-detail"),
    path("uploads/<int:pk>/delete/", uploads.upload_delete, name="upload-delete"),
    path("uploads/<int:pk>/rejected.csv", uploads.upload_rejected, name="upload-rejected"),
]
