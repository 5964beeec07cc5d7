"""Small things that erode trust, in a real Chromium against a real Daphne (issue 16):

- the landing page's "Sign in" asks for the organization and sends the browser to its sign-in page;
- signup fills the address from the name, shows the password rules, and ends signed in on the
  new organization's host;
- "5 minutes ago" keeps moving while the page stays open (a pinned browser clock, `page.clock`);
- on a phone the navigation folds behind a Menu button that says whether it is open.

The tests run in file order and share one signed-in tab, as one person would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from accounts.models import ApiKey
from accounts.services import api_key_create
from tests.conftest import PASSWORD
from tests.live import free_port, web_stack

pytestmark = pytest.mark.live
PHONE = {"width": 390, "height": 844}
KEY_LAST_USED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # when the SCADA gateway's key last called
NEW_SLUG = "trusty-works"


@pytest.fixture(scope="module")
def stack(world: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A Daphne server against the test database; its links say its own port."""
    port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PDM_SITE_URL", f"http://{settings.BASE_DOMAIN}:{port}")
        with django_db_blocker.unblock(), web_stack(port=port, logs=tmp_path_factory.mktemp("trust")):
            yield port


@pytest.fixture(scope="module")
def used_key(world: Any, django_db_blocker: Any) -> Iterator[ApiKey]:
    """A key of acme that was last used at KEY_LAST_USED (committed: the server must see it)."""
    with django_db_blocker.unblock():
        key = api_key_create(tenant=world.acme, name="SCADA gateway", scopes=["read"], created_by_id=None).key
        ApiKey.objects.filter(id=key.id).update(last_used_at=KEY_LAST_USED)
    yield key
    with django_db_blocker.unblock():
        ApiKey.objects.filter(id=key.id).delete()


def test_landing_sign_in_finds_the_organization(page: Any, stack: int, shots: Path) -> None:
    page.goto(f"http://localhost:{stack}/")
    page.get_by_role("link", name="Sign in").first.click()
    page.wait_for_url(f"http://localhost:{stack}/login/")
    page.fill("input[name=address]", "no-such-plant")
    page.get_by_role("button", name="Continue").click()
    assert "No organization has this address" in page.locator("#sign-in").inner_text()
    page.fill("input[name=address]", "acme")
    page.screenshot(path=str(shots / "sign-in.png"), full_page=True)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"http://acme.localhost:{stack}/accounts/login/")
    page.fill("input[name=username]", "owner@acme.test")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"http://acme.localhost:{stack}/")


def test_signup_fills_the_address_shows_the_rules_and_signs_in(browser: Any, stack: int, shots: Path) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        tab = context.new_page()
        tab.goto(f"http://localhost:{stack}/signup/")
        tab.fill("input[name=organization_name]", "Trusty Works & Söhne")
        assert tab.input_value("input[name=slug]") == "trusty-works-sohne"
        assert tab.locator("#slug-preview").inner_text() == "trusty-works-sohne"
        tab.fill("input[name=slug]", NEW_SLUG)  # their own choice now: the name no longer moves it
        tab.fill("input[name=organization_name]", "Trusty Works")
        assert tab.input_value("input[name=slug]") == NEW_SLUG
        assert "at least 8 characters" in tab.locator("#password-rules").inner_text()
        tab.fill("input[name=owner_email]", "boss@trusty.test")
        tab.fill("input[name=owner_password]", "12345")
        tab.locator("form button[type=submit]").click()
        tab.wait_for_load_state()
        refusal = tab.locator("#password-rules + .errorlist").inner_text()
        assert "too short" in refusal and "entirely numeric" in refusal
        tab.screenshot(path=str(shots / "signup-password-rules.png"), full_page=True)
        tab.fill("input[name=owner_password]", PASSWORD)
        tab.locator("form button[type=submit]").click()
        # Straight onto the new organization's fleet, signed in: no second password.
        tab.wait_for_url(f"http://{NEW_SLUG}.localhost:{stack}/")
        assert "Welcome to Trusty Works" in tab.locator(".messages").inner_text()
        assert "boss@trusty.test" in tab.locator(".who").inner_text()
    finally:
        context.close()


def test_relative_times_keep_moving_on_a_pinned_clock(browser: Any, page: Any, stack: int, used_key: ApiKey) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, storage_state=page.context.storage_state())
    try:
        tab = context.new_page()
        # The browser's clock, not the real one: five minutes after the key's last call, and it
        # moves only when the test moves it.
        tab.clock.install(time=KEY_LAST_USED + timedelta(minutes=5))
        tab.goto(f"http://acme.localhost:{stack}/accounts/api-keys/")
        used = tab.locator("tr", has_text="SCADA gateway").locator("time[data-relative]")
        assert used.get_attribute("datetime") == KEY_LAST_USED.isoformat()
        assert used.inner_text() == "5 minutes ago"
        tab.clock.run_for("10:00")
        assert used.inner_text() == "15 minutes ago"
        tab.clock.run_for("03:00:00")
        assert used.inner_text() == "3 hours ago"
    finally:
        context.close()


def test_phone_navigation_opens_from_a_menu_button(browser: Any, page: Any, stack: int, shots: Path) -> None:
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                                storage_state=page.context.storage_state())
    try:
        tab = phone.new_page()
        tab.goto(f"http://acme.localhost:{stack}/")
        menu = tab.get_by_role("button", name="Menu")
        alerts = tab.locator("nav.appnav").get_by_role("link", name="Alerts")
        assert menu.is_visible() and menu.get_attribute("aria-expanded") == "false"
        assert menu.get_attribute("aria-controls") == "appnav-links"
        assert not alerts.is_visible()
        menu.tap()
        assert menu.get_attribute("aria-expanded") == "true" and alerts.is_visible()
        assert tab.locator("nav.appnav a").count() == 11
        overflow = tab.evaluate(f"document.documentElement.scrollWidth - {PHONE['width']}")
        assert overflow <= 1, f"the page is {overflow}px wider than the phone"
        tab.screenshot(path=str(shots / "menu-phone.png"), full_page=True)
        tab.keyboard.press("Escape")
        assert menu.get_attribute("aria-expanded") == "false" and not alerts.is_visible()
        menu.tap()
        alerts.tap()
        tab.wait_for_url(f"http://acme.localhost:{stack}/alerts/")
        assert tab.get_by_role("button", name="Menu").get_attribute("aria-expanded") == "false"
    finally:
        phone.close()


def test_desktop_navigation_has_no_menu_button(page: Any, stack: int) -> None:
    page.goto(f"http://acme.localhost:{stack}/")
    assert not page.get_by_role("button", name="Menu").is_visible()
    assert page.locator("nav.appnav").get_by_role("link", name="Alerts").is_visible()
