"""Photo pages: the panel on a work order's page, an alert's photos page, upload from the phone
camera or a file, the damage assessment, deletion, and the image URLs behind the tenant and role
checks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context
from PIL import Image

from machines.models import FailureEvent
from maintenance.models import Alert, Photo, WorkOrder
from maintenance.services.alerts import alert_raise
from maintenance.services.work_orders import work_order_create


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def alert(world, motor) -> Alert:
    with tenant_context(world.acme):
        raised = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9).alert
        assert raised is not None
        return raised


@pytest.fixture
def order(world, motor) -> WorkOrder:
    with tenant_context(world.acme):
        return work_order_create(machine_id=motor.id, title="Check the DE bearing", actor_id=world.engineer.id)


def jpeg(size: tuple[int, int] = (64, 48)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, "orange").save(out, "JPEG")
    return SimpleUploadedFile("IMG_0001.JPG", out.getvalue(), content_type="image/jpeg")


def _photo(world) -> Photo:
    with tenant_context(world.acme):
        return Photo.objects.get()


def test_the_work_order_page_offers_the_camera_and_says_no_model_judges(client_for, order):
    html = client_for("engineer").get(f"/work-orders/{order.id}/").content.decode()
    panel = html[html.index('id="photos"'):]
    assert 'accept="image/jpeg,image/png,image/webp,image/*" capture="environment"' in panel
    assert 'enctype="multipart/form-data"' in panel and f'action="/work-orders/{order.id}/photos/"' in panel
    assert "No image model looks at these photos" in panel
    viewer = client_for("viewer").get(f"/work-orders/{order.id}/").content.decode()
    assert 'id="photos"' in viewer and 'type="file"' not in viewer  # viewers see, never upload


def test_upload_assess_and_delete_on_a_work_order(client_for, world, order, django_capture_on_commit_callbacks):
    engineer = client_for("engineer")
    added = engineer.post(f"/work-orders/{order.id}/photos/", {"file": jpeg(), "caption": "Grease on the DE side"},
                          follow=True)
    assert added.redirect_chain[-1][0] == f"/work-orders/{order.id}/#photos"
    html = added.content.decode()
    photo = _photo(world)
    assert "Photo added" in html and "Grease on the DE side" in html and f"/photos/{photo.id}/thumb/" in html
    assert "Not assessed yet." in html
    assessed = engineer.post(f"/photos/{photo.id}/assess/", {
        f"p{photo.id}-component": "Drive-end bearing", f"p{photo.id}-damage_kind": "leak",
        f"p{photo.id}-severity": "2", f"p{photo.id}-failure_mode": "bearing_wear"}, follow=True).content.decode()
    assert "recorded as a failure label" in assessed
    assert "<strong>Leak (oil, water, air)</strong> of Drive-end bearing" in assessed and "Moderate" in assessed
    with tenant_context(world.acme):
        assert FailureEvent.objects.get().source == "photo_assessment"
    with django_capture_on_commit_callbacks(execute=True):
        deleted = engineer.post(f"/photos/{photo.id}/delete/", follow=True).content.decode()
    assert "Photo deleted." in deleted and "No photos yet." in deleted
    with tenant_context(world.acme):
        assert not Photo.objects.exists() and not FailureEvent.objects.exists()


def test_a_bad_assessment_and_a_bad_file_are_messages(client_for, world, order):
    engineer = client_for("engineer")
    refused = engineer.post(f"/work-orders/{order.id}/photos/", {
        "file": SimpleUploadedFile("scan.jpg", b"not a picture at all", content_type="image/jpeg")}, follow=True)
    assert "not a JPEG, PNG or WebP image" in refused.content.decode()
    engineer.post(f"/work-orders/{order.id}/photos/", {"file": jpeg()})
    photo = _photo(world)
    html = engineer.post(f"/photos/{photo.id}/assess/", {f"p{photo.id}-component": "Fan",
                                                         f"p{photo.id}-damage_kind": "crack"},
                         follow=True).content.decode()
    assert "The assessment was not saved. Severity: This field is required." in html
    assert not _photo(world).assessed


def test_an_alerts_photos_page_and_the_link_from_the_inbox(client_for, world, alert):
    inbox = client_for("viewer").get("/alerts/").content.decode()
    assert f'href="/alerts/{alert.id}/photos/"' in inbox
    engineer = client_for("engineer")
    page = engineer.get(f"/alerts/{alert.id}/photos/").content.decode()
    assert "Drive-end bearing wear" in page and "Motor-001" in page and 'capture="environment"' in page
    engineer.post(f"/alerts/{alert.id}/photos/", {"file": jpeg()})
    photo = _photo(world)
    assert photo.alert_id == alert.id and photo.machine_id == alert.machine_id
    page = engineer.get(f"/alerts/{alert.id}/photos/").content.decode()
    assert f"/photos/{photo.id}/image/" in page and "64 × 48 px" in page
    # The component field suggests the type's sensors' places (its metadata lists no components).
    assert '<datalist id="components-alert-' in page


def test_images_only_for_members_of_the_tenant_and_changes_only_for_writers(client_for, world, order):
    client_for("engineer").post(f"/work-orders/{order.id}/photos/", {"file": jpeg()})
    photo = _photo(world)
    for url in (f"/photos/{photo.id}/image/", f"/photos/{photo.id}/thumb/"):
        shown = client_for("viewer").get(url)
        assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
        assert client_for("globex_owner").get(url).status_code == 404  # another tenant's member
        assert client_for("outsider").get(url).status_code == 404
        assert client_for("globex_owner", tenant=world.globex).get(url).status_code == 404  # not in their schema
        assert client_for(None).get(url).status_code == 302  # to the login page
    viewer = client_for("viewer")
    assert viewer.post(f"/work-orders/{order.id}/photos/", {"file": jpeg()}).status_code == 403
    assert viewer.post(f"/photos/{photo.id}/assess/", {}).status_code == 403
    assert viewer.post(f"/photos/{photo.id}/delete/").status_code == 403
    assert client_for("globex_owner").post(f"/work-orders/{order.id}/photos/", {"file": jpeg()}).status_code == 404
    with tenant_context(world.acme):
        assert Photo.objects.count() == 1


def test_an_alerts_photos_page_only_for_members_and_uploads_only_for_writers(client_for, world, alert):
    page = f"/alerts/{alert.id}/photos/"
    assert client_for("viewer").get(page).status_code == 200
    assert client_for("globex_owner").get(page).status_code == 404
    assert client_for("globex_owner", tenant=world.globex).get(page).status_code == 404
    assert client_for("viewer").post(page, {"file": jpeg()}).status_code == 403
    assert client_for("globex_owner").post(page, {"file": jpeg()}).status_code == 404
    assert client_for("engineer").get("/alerts/987654/photos/").status_code == 404
    with tenant_context(world.acme):
        assert not Photo.objects.exists()
