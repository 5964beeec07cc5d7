"""Photo pages, in the `predictions` namespace beside the other maintenance pages
(maintenance/urls.py appends these)."""

from django.urls import path

from maintenance.views import photos

urlpatterns = [
    path("work-orders/<int:pk>/photos/", photos.work_order_photo_upload, name="work-order-photo-upload"),
    path("alerts/<int:pk>/photos/", photos.alert_photos, name="alert-photos"),
    path("photos/<int:pk>/assess/", photos.photo_assess_page, name="photo-assess"),
    path("photos/<int:pk>/delete/", photos.photo_delete_page, name="photo-delete"),
    path("photos/<int:pk>/image/", photos.photo_file, {"size": "full"}, name="photo-file"),
    path("photos/<int:pk>/thumb/", photos.photo_file, {"size": "thumb"}, name="photo-thumb"),
]
