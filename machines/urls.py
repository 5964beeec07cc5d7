"""Browser pages of the machines app: the machine-type library, metadata import and editing,
machines, and sensor-data uploads."""

from django.urls import path

from machines import views

app_name = "machines"

urlpatterns = [
    path("machine-types/", views.type_list, name="types"),
    path("machine-types/import/", views.type_import, name="type-import"),
    path("machine-types/adopt/", views.type_adopt, name="type-adopt"),
    path("machine-types/library/<str:key>/", views.library_type_detail, name="library-type"),
    path("machine-types/<int:pk>/", views.type_detail, name="type-detail"),
    path("machine-types/<int:pk>/edit/", views.type_edit, name="type-edit"),
    path("machine-types/<int:pk>/export/", views.type_export, name="type-export"),
    path("uploads/", views.upload_start, name="upload"),
    path("uploads/new/<str:token>/", views.upload_map, name="upload-map"),
    path("uploads/<int:pk>/", views.upload_detail, name="upload-detail"),
    path("uploads/<int:pk>/delete/", views.upload_delete, name="upload-delete"),
    path("uploads/<int:pk>/rejected.csv", views.upload_rejected, name="upload-rejected"),
]
