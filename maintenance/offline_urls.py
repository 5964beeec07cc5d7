"""Offline pages and their session endpoints, in the `predictions` namespace beside the other
maintenance pages (maintenance/urls.py appends these)."""

from django.urls import path

from maintenance.views import offline

urlpatterns = [
    path("offline/", offline.offline_page, name="offline"),
    path("offline/bundle/", offline.offline_bundle_page, name="offline-bundle"),
    path("offline/sync/", offline.offline_sync_page, name="offline-sync"),
]
