"""Photos on work orders and alerts through the API: real images made with Pillow, checked from
their content, stored without EXIF (GPS above all) and upright, thumbnailed, under random names in
the tenant's folder, served only to the tenant's members; a damage assessment naming a failure
mode becomes a failure label."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context
from PIL import ExifTags, Image

from machines.models import FailureEvent
from machines.services import machine_delete
from maintenance.models import Photo, WorkOrder
from maintenance.photos import photo_file_path
from maintenance.services.alerts import alert_raise
from maintenance.services.work_orders import work_order_close, work_order_create, work_order_transition

PHOTOS = "/api/v1/photos/"
JSON = "application/json"
GPS_TAG = ExifTags.IFD.GPSInfo


@pytest.fixture(autouse=True)
def _media(settings, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def order(world, motor) -> WorkOrder:
    with tenant_context(world.acme):
        return work_order_create(machine_id=motor.id, title="Check the DE bearing", actor_id=world.engineer.id)


def jpeg_with_gps(size: tuple[int, int] = (400, 200), orientation: int = 6) -> bytes:
    """A phone-like JPEG: maker, orientation (6: turn 90° clockwise to view) and a GPS position."""
    image = Image.new("RGB", size, "red")
    image.paste(Image.new("RGB", (size[0] // 2, size[1]), "blue"))  # left half blue: the turn shows
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Make] = "Acme Phone"
    gps = exif.get_ifd(GPS_TAG)
    gps.update({1: "N", 2: (48.0, 8.0, 30.0), 3: "E", 4: (11.0, 34.0, 12.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def png(size: tuple[int, int], noise: bool = False) -> bytes:
    image = Image.effect_noise(size, 64).convert("RGB") if noise else Image.new("RGB", size, "green")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def bomb_png(width: int = 40_000, height: int = 40_000) -> bytes:
    """A few hundred bytes whose header claims 1.6 gigapixels: must be refused before decoding."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + chunk(b"IEND", b""))


def upload(client, data: bytes, *, name: str = "photo.jpg", content_type: str = "image/jpeg", **target):
    return client.post(PHOTOS, {"file": SimpleUploadedFile(name, data, content_type=content_type),
                                **target})


def photo_files(media: Path) -> list[Path]:
    return sorted(p for p in media.rglob("*") if p.is_file())


def test_gps_exif_is_stripped_orientation_applied_and_a_thumbnail_made(client_for, world, order, _media):
    response = upload(client_for("engineer"), jpeg_with_gps(), work_order=order.id, caption="DE side")
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["format"], body["width"], body["height"]) == ("JPEG", 200, 400)  # turned upright
    assert body["machine"] == "Motor-001" and body["work_order"] == order.id and body["caption"] == "DE side"
    with tenant_context(world.acme):
        photo = Photo.objects.get(id=body["id"])
        stored = photo_file_path(photo).read_bytes()
        thumb = Image.open(photo_file_path(photo, thumb=True))
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif() and image.getexif().get_ifd(GPS_TAG) == {}
    assert b"Acme Phone" not in stored and b"Exif" not in stored
    # Orientation applied to the pixels: the blue left half is now on top.
    assert image.convert("RGB").getpixel((100, 50))[2] > 200 and image.convert("RGB").getpixel((100, 350))[0] > 200
    assert (thumb.format, thumb.size) == ("JPEG", (160, 320))


def test_thumbnail_long_side_is_the_setting(client_for, order, world, settings):
    settings.PDM_PHOTO_THUMB_PX = 200
    body = upload(client_for("engineer"), png((2000, 1000)), name="wide.png", content_type="image/png",
                  work_order=order.id).json()
    assert (body["format"], body["width"], body["height"]) == ("PNG", 2000, 1000)
    thumb = client_for("viewer").get(body["thumb_url"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert Image.open(io.BytesIO(b"".join(thumb.streaming_content))).size == (200, 100)
    full = client_for("viewer").get(body["image_url"])
    assert full["Content-Type"] == "image/png" and "private" in full["Cache-Control"]


def test_a_non_image_named_jpg_is_refused_from_its_content(client_for, order, world, _media):
    response = upload(client_for("engineer"), b"%PDF-1.7\n" + b"x" * 2000, name="bearing.jpg", work_order=order.id)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "not_an_image" and "its content was checked" in error["message"]
    with tenant_context(world.acme):
        assert not Photo.objects.exists()
    assert photo_files(_media) == []


def test_an_oversized_photo_is_refused_and_nothing_is_left_on_disk(client_for, order, world, settings, _media):
    settings.PDM_PHOTO_MAX_BYTES = 50_000
    data = png((300, 300), noise=True)
    assert len(data) > 50_000
    response = upload(client_for("engineer"), data, name="big.png", content_type="image/png", work_order=order.id)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "file_too_large" and "limit" in response.json()["error"]["message"]
    with tenant_context(world.acme):
        assert not Photo.objects.exists()
    assert photo_files(_media) == []


@pytest.mark.parametrize(("width", "height", "words"), [
    (9_000, 8_000, "9000 × 8000 pixels, more than the 60 megapixels"),  # past our limit, below Pillow's
    (40_000, 40_000, "more pixels than the 60 megapixels"),  # Pillow's own bomb check answers first
])
def test_a_decompression_bomb_is_refused_before_decoding(client_for, order, _media, width, height, words):
    data = bomb_png(width, height)
    assert len(data) < 200
    response = upload(client_for("engineer"), data, name="tiny.png", content_type="image/png", work_order=order.id)
    assert response.status_code == 400 and words in response.json()["error"]["message"]
    assert photo_files(_media) == []


def test_stored_paths_are_random_never_the_users_name(client_for, order, world, _media):
    body = upload(client_for("engineer"), png((50, 50)), name="../../etc/evil name.png", content_type="image/png",
                  work_order=order.id).json()
    files = photo_files(_media)
    assert len(files) == 2 and all("evil" not in str(path) and "etc" not in path.parts for path in files)
    relative = [str(path.relative_to(_media)) for path in files]
    assert all(re.fullmatch(r"tenants/t_acme/photos/[0-9a-f]{32}(-thumb\.jpg|\.png)", name) for name in relative)
    assert body["image_url"] == f"{PHOTOS}{body['id']}/image/"


def test_roles_and_tenants(client_for, key_client, order, world):
    refused = upload(client_for("viewer"), png((20, 20)), content_type="image/png", work_order=order.id)
    assert refused.status_code == 403
    body = upload(client_for("engineer"), png((20, 20)), content_type="image/png", work_order=order.id).json()
    assert client_for("viewer").get(body["image_url"]).status_code == 200  # viewers may look
    assert client_for("viewer").post(f"{PHOTOS}{body['id']}/assessment/", {}, content_type=JSON).status_code == 403
    assert client_for("viewer").delete(f"{PHOTOS}{body['id']}/").status_code == 403
    # Another tenant: by its member on acme's host, or by its key (its own schema has no such photo).
    assert client_for("globex_owner").get(body["image_url"]).status_code == 404
    assert key_client(["read"], tenant=world.globex).get(body["image_url"]).status_code == 404
    assert key_client(["read", "write"], tenant=world.globex).post(PHOTOS, {
        "file": SimpleUploadedFile("a.png", png((20, 20)), content_type="image/png"),
        "work_order": order.id}).status_code == 404
    assert client_for("outsider").get(body["image_url"]).status_code == 404
    assert client_for(None).get(body["image_url"]).status_code == 401


def test_a_photo_on_an_alert_and_its_target_is_checked(client_for, motor, world):
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9).alert
    engineer = client_for("engineer")
    body = upload(engineer, png((30, 30)), content_type="image/png", alert=alert.id).json()
    assert body["alert"] == alert.id and body["work_order"] is None
    listed = engineer.get(PHOTOS, {"alert": alert.id}).json()
    assert [p["id"] for p in listed["results"]] == [body["id"]]
    neither = upload(engineer, png((30, 30)), content_type="image/png")
    assert neither.status_code == 400 and "work order or to an alert" in neither.json()["error"]["message"]
    unknown = upload(engineer, png((30, 30)), content_type="image/png", alert=987654)
    assert unknown.status_code == 404


def _assess(client, photo_id: int, **fields):
    body = {"component": "Drive-end bearing", "damage_kind": "wear", "severity": "severe", **fields}
    return client.post(f"{PHOTOS}{photo_id}/assessment/", body, content_type=JSON)


def test_an_assessment_naming_a_failure_mode_becomes_a_label(client_for, order, world):
    engineer = client_for("engineer")
    photo = upload(engineer, png((30, 30)), content_type="image/png", work_order=order.id).json()
    assessed = _assess(engineer, photo["id"], failure_mode="Drive-end bearing wear")  # by its label
    assert assessed.status_code == 200, assessed.content
    body = assessed.json()
    assert (body["severity"], body["severity_label"], body["failure_mode"]) == (3, "Severe", "bearing_wear")
    with tenant_context(world.acme):
        label = FailureEvent.objects.get(id=body["failure_event"])
        assert (label.source, label.failure_mode, label.machine.name) == ("photo_assessment", "bearing_wear",
                                                                          "Motor-001")
        assert label.occurred_at == Photo.objects.get(id=photo["id"]).uploaded_at
        assert "wear or abrasion of Drive-end bearing, severe" in label.notes
    # Assessed again without a mode: the label it made goes.
    again = _assess(engineer, photo["id"], severity=2).json()
    assert again["failure_event"] is None and again["severity_label"] == "Moderate"
    with tenant_context(world.acme):
        assert not FailureEvent.objects.exists()


def test_closing_the_work_order_on_the_same_mode_keeps_one_label(client_for, order, world):
    engineer = client_for("engineer")
    photos = [upload(engineer, png((30, 30)), content_type="image/png", work_order=order.id).json()
              for _ in range(2)]
    for photo in photos:
        _assess(engineer, photo["id"], failure_mode="bearing_wear")
    with tenant_context(world.acme):
        shared = FailureEvent.objects.get(source="photo_assessment")  # two photos of one failure: one label
        assert set(Photo.objects.values_list("failure_event_id", flat=True)) == {shared.id}
        work_order_transition(order_id=order.id, to_status="in_progress", actor_id=None)
        work_order_close(order_id=order.id, actor_id=None, failure_found=True, failure_mode_found="bearing_wear",
                         action_taken="Replaced the bearing")
        only = FailureEvent.objects.get()
        assert only.source == "work_order" and only.work_order_id == order.id
        assert set(Photo.objects.values_list("failure_event_id", flat=True)) == {only.id}
    # A photo assessed after the close joins the work order's label instead of adding one.
    late = upload(engineer, png((30, 30)), content_type="image/png", work_order=order.id).json()
    assert _assess(engineer, late["id"], failure_mode="bearing_wear").json()["failure_event"] == only.id
    with tenant_context(world.acme):
        assert FailureEvent.objects.count() == 1


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"severity": "7"}, "severity", "not 1-4"),
    ({"damage_kind": "gremlins"}, "damage_kind", "valid choice"),
    ({"failure_mode": "flux capacitor"}, "failure_mode", "Unknown failure mode"),
    ({"component": "   "}, "component", "component"),
])
def test_bad_assessments_are_refused_with_a_clear_message(client_for, order, world, fields, field, words):
    engineer = client_for("engineer")
    photo = upload(engineer, png((30, 30)), content_type="image/png", work_order=order.id).json()
    response = _assess(engineer, photo["id"], **fields)
    assert response.status_code == 400
    error = response.json()["error"]
    assert field in error["details"] and words in (error["message"] + str(error["details"]))
    with tenant_context(world.acme):
        assert not Photo.objects.get(id=photo["id"]).assessed and not FailureEvent.objects.exists()


def test_deleting_removes_the_files_after_commit(client_for, order, world, _media,
                                                  django_capture_on_commit_callbacks):
    engineer = client_for("engineer")
    photo = upload(engineer, png((30, 30)), content_type="image/png", work_order=order.id).json()
    _assess(engineer, photo["id"], failure_mode="bearing_wear")
    assert len(photo_files(_media)) == 2
    with django_capture_on_commit_callbacks(execute=False) as pending:
        assert engineer.delete(f"{PHOTOS}{photo['id']}/").status_code == 204
    assert len(photo_files(_media)) == 2  # not before the commit
    for callback in pending:
        callback()
    assert photo_files(_media) == []
    with tenant_context(world.acme):
        assert not Photo.objects.exists() and not FailureEvent.objects.exists()  # its own label went too


def test_a_deleted_machine_takes_its_photos_files_along(client_for, order, motor, world, _media,
                                                         django_capture_on_commit_callbacks):
    upload(client_for("engineer"), png((30, 30)), content_type="image/png", work_order=order.id)
    with django_capture_on_commit_callbacks(execute=True), tenant_context(world.acme):
        machine_delete(machine_id=motor.id)
    assert photo_files(_media) == []


def test_photos_of_one_alert_share_a_label_until_the_last_one_goes(client_for, motor, world,
                                                                    django_capture_on_commit_callbacks):
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.9).alert
    engineer = client_for("engineer")
    first, second = (upload(engineer, png((30, 30)), content_type="image/png", alert=alert.id).json()
                     for _ in range(2))
    label = _assess(engineer, first["id"], failure_mode="bearing_wear").json()["failure_event"]
    assert _assess(engineer, second["id"], failure_mode="bearing_wear").json()["failure_event"] == label
    moved = _assess(engineer, second["id"], failure_mode="misalignment").json()["failure_event"]
    assert moved != label
    with django_capture_on_commit_callbacks(execute=True):
        engineer.delete(f"{PHOTOS}{first['id']}/")
    with tenant_context(world.acme):
        assert list(FailureEvent.objects.values_list("id", "failure_mode")) == [(moved, "misalignment")]
