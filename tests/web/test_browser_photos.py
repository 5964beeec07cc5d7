"""Photos on a work order from a phone, in a real headless Chromium against the served stack
(HAProxy, granian, daphne as `make run` serves them): the camera field, a photo with a GPS position
uploaded, its thumbnail shown through the authenticated image URL (no public /media/), the
stored file without EXIF, the damage assessment saved into a failure label, all on a 390 px wide
phone without sideways scrolling.

One organization of its own (slug prefixed `photos`), committed for the servers. Screenshots go
to PDM_SCREENSHOTS_DIR, as in test_browser_flow.py.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import tenant_context
from PIL import ExifTags, Image

from accounts.models import User
from accounts.roles import Role
from accounts.services import membership_add
from machines.models import FailureEvent
from machines.services import machine_create, machine_type_adopt
from maintenance.models import Photo, WorkOrder
from maintenance.photos import photo_file_path
from maintenance.services.work_orders import work_order_create
from tenants.services import tenant_signup
from tests.conftest import MOTOR, PASSWORD, committed_tenant_drop
from tests.live import module_stack

pytestmark = pytest.mark.live
SLUG = "photosplant"
OWNER, ENGINEER = "owner@photosplant.test", "engineer@photosplant.test"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


stack = module_stack("photos")  # the served stack, on a port of its own


@pytest.fixture(scope="module")
def plant(world: Any, django_db_blocker: Any) -> Iterator[tuple[Any, WorkOrder]]:
    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="Photos Plant", slug=SLUG, owner_email=OWNER,
                               owner_password=PASSWORD)
        engineer = User.objects.create_user(ENGINEER, PASSWORD)
        membership_add(user=engineer, tenant=signup.tenant, role=Role.ENGINEER)
        with tenant_context(signup.tenant):
            motor_type = machine_type_adopt(key=MOTOR)
            motor = machine_create(machine_type_id=motor_type.id, name="M-12", site="Plant B")
            order = work_order_create(machine_id=motor.id, title="Noisy drive end", actor_id=engineer.id)
    yield signup.tenant, order
    with django_db_blocker.unblock():
        committed_tenant_drop(signup.tenant, emails=[OWNER, ENGINEER])


def phone_jpeg() -> bytes:
    """A 1200 × 900 photo as a phone stores it: sideways pixels, orientation 6, a GPS position."""
    image = Image.new("RGB", (1200, 900), (90, 110, 130))
    image.paste(Image.new("RGB", (300, 900), (200, 60, 40)))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif.get_ifd(ExifTags.IFD.GPSInfo).update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=85)
    return out.getvalue()


def test_a_photo_from_the_phone_camera_is_shown_cleaned_and_assessed(
        browser: Any, stack: int, plant: tuple[Any, WorkOrder], django_db_blocker: Any, shots: Path) -> None:
    tenant, order = plant
    path = f"/work-orders/{order.id}/"
    phone = browser.new_context(**PHONE).new_page()
    phone.context.set_default_timeout(20_000)
    try:
        phone.goto(f"http://{SLUG}.localhost:{stack}/accounts/login/?next={path}")
        phone.fill("input[name=username]", ENGINEER)
        phone.fill("input[name=password]", PASSWORD)
        phone.locator("form button[type=submit]").click()
        phone.wait_for_url(f"**{path}")
        field = phone.locator("#photo-file")
        assert field.get_attribute("capture") == "environment" and "image/*" in (field.get_attribute("accept") or "")
        field.set_input_files({"name": "IMG_2041.JPG", "mimeType": "image/jpeg", "buffer": phone_jpeg()})
        phone.fill("#photo-caption", "Grease leaking at the DE seal")
        phone.get_by_role("button", name="Add photo").click()
        phone.wait_for_url(f"**{path}#photos")
        thumb = phone.locator("img.photo-thumb").first
        thumb.wait_for()
        # Drawn from the authenticated thumbnail URL: upright (portrait) and loaded under the CSP.
        phone.wait_for_function("() => document.querySelector('img.photo-thumb').naturalWidth > 0")
        size = thumb.evaluate("img => [img.naturalWidth, img.naturalHeight, img.src]")
        assert size[:2] == [240, 320] and "/thumb/" in size[2] and "/media/" not in size[2]
        assert "No image model looks at these photos" in phone.locator("#photos").inner_text()
        with django_db_blocker.unblock(), tenant_context(tenant):
            photo = Photo.objects.get()
            stored = Image.open(photo_file_path(photo))
            assert (stored.size, dict(stored.getexif())) == ((900, 1200), {})
        phone.fill(f"#id_p{photo.id}-component", "Drive-end bearing seal")
        phone.select_option(f"#id_p{photo.id}-damage_kind", label="Leak (oil, water, air)")
        phone.select_option(f"#id_p{photo.id}-severity", label="Severe")
        phone.select_option(f"#id_p{photo.id}-failure_mode", label="Drive-end bearing wear")
        phone.get_by_role("button", name="Save assessment").click()
        phone.wait_for_load_state()
        assert "recorded as a failure label" in phone.locator("body").inner_text()
        assessment = phone.locator(".photo-assessment").inner_text()
        assert "Leak (oil, water, air) of Drive-end bearing seal" in assessment and "Severe" in assessment
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scrolling
        phone.locator("#photos").screenshot(path=str(shots / "work-order-photos-phone.png"))
        with django_db_blocker.unblock(), tenant_context(tenant):
            label = FailureEvent.objects.get()
            assert (label.source, label.failure_mode) == ("photo_assessment", "bearing_wear")
    finally:
        phone.context.close()
