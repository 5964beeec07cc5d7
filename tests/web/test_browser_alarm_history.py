"""The alarm history in a real headless Chromium against the served stack (HAProxy, granian): from
the inbox to the history, filtering a period across Berlin's autumn clock change, both downloads
(the CSV streamed through the proxy) read back, and on a 390 px phone the table as cards without
sideways scrolling, the machine page's alerts card leading to its history.

One organization of its own (`alarms-works`), committed for the servers; the tests run in file
order. Screenshots go to PDM_SCREENSHOTS_DIR (`alarm-history.png`, `alarm-history-phone.png`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import tenant_context
from openpyxl import load_workbook

from accounts.models import User
from accounts.roles import Role
from accounts.services import membership_add
from machines.models import Machine
from machines.services import machine_create, machine_type_adopt
from tenants.models import Tenant
from tenants.services import tenant_signup
from tests.conftest import MOTOR, PASSWORD, committed_tenant_drop
from tests.live import module_stack
from tests.maintenance.alarm_helpers import History, alert_at, berlin_history, utc

pytestmark = pytest.mark.live
SLUG = "alarms-works"
OWNER, VIEWER = "owner@alarms-works.test", "viewer@alarms-works.test"
PHONE = {"width": 390, "height": 844}
# What sticks out past the right edge, to name it when the page scrolls sideways.
WIDER_THAN_THE_SCREEN = ("[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > "
                         "innerWidth + 1).map(e => `${e.tagName}#${e.id}.${e.className}`).slice(0, 8)")
LATER = 12  # alerts in November beside the three around the clock change


stack = module_stack("alarm-history")  # the served stack, on a port of its own


@pytest.fixture(scope="module")
def works(world: Any, django_db_blocker: Any) -> Iterator[tuple[Tenant, History]]:
    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="Alarms Works", slug=SLUG, owner_email=OWNER,
                               owner_password=PASSWORD)
        viewer = User.objects.create_user(VIEWER, PASSWORD)
        membership_add(user=viewer, tenant=signup.tenant, role=Role.VIEWER)
        with tenant_context(signup.tenant):
            motor = machine_create(machine_type_id=machine_type_adopt(key=MOTOR).id, name="Motor-001",
                                   site="Plant A")
        history = berlin_history(signup.tenant, motor, engineer=signup.owner)
        for n in range(LATER):
            alert_at(signup.tenant, motor, utc(2026, 11, 2, 6) + timedelta(days=n), mode="misalignment",
                     severity="critical" if n % 3 == 0 else "warning", resolution_note=f"Realigned, shim {n} mm")
    yield signup.tenant, history
    with django_db_blocker.unblock():
        committed_tenant_drop(signup.tenant, emails=[OWNER, VIEWER])


def url(port: int, path: str = "/") -> str:
    return f"http://{SLUG}.localhost:{port}{path}"


def signed_in(browser: Any, port: int, email: str, path: str, **context: Any) -> Any:
    tab = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, "accept_downloads": True,
                                 **context}).new_page()
    tab.context.set_default_timeout(20_000)
    tab.goto(url(port, f"/accounts/login/?next={path}"))
    tab.fill("input[name=username]", email)
    tab.fill("input[name=password]", PASSWORD)
    tab.locator("form button[type=submit]").click()
    tab.wait_for_url(url(port, path))
    return tab


@pytest.fixture(scope="module")
def owner_tab(browser: Any, stack: int, works: tuple[Tenant, History]) -> Iterator[Any]:
    tab = signed_in(browser, stack, OWNER, "/alerts/")
    yield tab
    tab.context.close()


def _downloaded(tab: Any, link: str) -> bytes:
    with tab.expect_download() as started:
        tab.locator("#alarm-export").get_by_role("link", name=link).click()
    return Path(started.value.path()).read_bytes()


def test_filtering_a_period_across_the_clock_change(owner_tab: Any, stack: int, works: tuple[Tenant, History],
                                                    shots: Path) -> None:
    tab, (_, history) = owner_tab, works
    tab.get_by_role("link", name="History and export").click()
    tab.wait_for_url(url(stack, "/alerts/history/"))
    assert tab.locator("#alarm-count").inner_text() == f"{LATER + 3} alerts"
    tab.select_option("#f-machine", label="Motor-001")
    tab.fill("#f-from", "2026-10-25")
    tab.fill("#f-to", "2026-10-26")
    tab.get_by_role("button", name="Filter").click()
    tab.wait_for_url("**/alerts/history/?*from=2026-10-25*")
    rows = tab.locator("table.alarm-history tbody tr")
    assert rows.count() == 2
    autumn = tab.locator(f"#alarm-{history.autumn.id}").inner_text()
    assert "Drive-end bearing wear" in autumn and "2026-10-25 02:30" in autumn and "Resolved" in autumn
    assert "Unusual readings" in tab.locator(f"#alarm-{history.anomaly.id}").inner_text()
    # Every column fits a desktop window: the note without spaces breaks inside its cell.
    assert tab.evaluate("(w => w.scrollWidth - w.clientWidth)(document.querySelector('.table-wrap'))") <= 0
    tab.screenshot(path=str(shots / "alarm-history.png"), full_page=True)


def test_both_downloads_hold_the_rows_on_the_page(owner_tab: Any, works: tuple[Tenant, History]) -> None:
    tab, (_, history) = owner_tab, works
    lines = list(csv.reader(io.StringIO(_downloaded(tab, "CSV").decode("utf-8-sig"))))
    assert lines[0][:3] == ["Alert", "Machine", "Site"] and "Opened (Europe/Berlin)" in lines[0]
    assert [int(line[0]) for line in lines[1:]] == [history.anomaly.id, history.autumn.id]
    sheet = load_workbook(io.BytesIO(_downloaded(tab, "Excel")))["Alarm history"]
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == [history.anomaly.id, history.autumn.id]


def test_on_a_phone_the_history_reads_as_cards(browser: Any, stack: int, works: tuple[Tenant, History],
                                               shots: Path) -> None:
    tenant, _ = works
    with tenant_context(tenant):
        motor_id = Machine.objects.get(name="Motor-001").id
    phone = signed_in(browser, stack, VIEWER, f"/machines/{motor_id}/", viewport=PHONE, is_mobile=True,
                      has_touch=True)
    try:
        card = phone.locator("#machine-alarm-history")
        assert card.locator("tbody tr").count() == 10
        card.get_by_role("link", name=f"All {LATER + 2} in the history").click()  # Motor-002's is not its own
        phone.wait_for_url(url(stack, "/alerts/history/?machine=Motor-001"))
        assert phone.locator("#alarm-count").inner_text() == f"{LATER + 2} alerts"
        assert not phone.locator("table.alarm-history thead").is_visible()  # each alert a card, labels beside values
        overflow = phone.evaluate(f"document.documentElement.scrollWidth - {PHONE['width']}")
        assert overflow <= 0, phone.evaluate(WIDER_THAN_THE_SCREEN)
        phone.screenshot(path=str(shots / "alarm-history-phone.png"))
    finally:
        phone.context.close()
