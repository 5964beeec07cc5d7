"""An admin brings another organization's configuration in from a phone, in a real headless
Chromium against the served stack: the file is checked by a dry run first (the report per
section, nothing written), then imported; the organization then has the machines and plans.

Two organizations of their own (slugs prefixed `config-`), committed for the servers: the source
exports through the same service the download calls, the target imports through the page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from machines.models import Machine
from machines.services import machine_create, machine_type_adopt
from pdm_saas.config_transfer.export import config_export
from planning.preventive_models import PreventivePlan
from tenants.models import Tenant
from tenants.services import tenant_signup
from tests.conftest import MOTOR, PASSWORD, committed_tenant_drop
from tests.live import module_stack

pytestmark = pytest.mark.live
SOURCE, TARGET = "config-source", "config-target"
SOURCE_OWNER, TARGET_OWNER = "owner@config-source.test", "owner@config-target.test"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
EXPORTED_AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


stack = module_stack("config")  # the served stack, on a port of its own


@pytest.fixture(scope="module")
def organizations(world: Any, django_db_blocker: Any) -> Iterator[tuple[Tenant, bytes]]:
    """The target organization and the source's configuration file."""
    with django_db_blocker.unblock():
        source = tenant_signup(organization_name="Config Source", slug=SOURCE, owner_email=SOURCE_OWNER,
                               owner_password=PASSWORD).tenant
        target = tenant_signup(organization_name="Config Target", slug=TARGET, owner_email=TARGET_OWNER,
                               owner_password=PASSWORD).tenant
        with tenant_context(source):
            motor_type = machine_type_adopt(key=MOTOR)
            for name in ("Line-1 motor", "Line-2 motor"):
                machine = machine_create(machine_type_id=motor_type.id, name=name, site="Plant A")
            PreventivePlan.objects.create(machine=machine, title="Grease bearings", every=3, unit="months",
                                          start_date=date(2026, 1, 31))
            document = config_export(organization=SOURCE, now=EXPORTED_AT)
    yield target, json.dumps(document, indent=2).encode()
    with django_db_blocker.unblock():
        committed_tenant_drop(source, emails=[SOURCE_OWNER])
        committed_tenant_drop(target, emails=[TARGET_OWNER])


def url(port: int, path: str = "/") -> str:
    return f"http://{TARGET}.localhost:{port}{path}"


@pytest.fixture(scope="module")
def phone(browser: Any, stack: int, organizations: tuple[Tenant, bytes]) -> Iterator[Any]:
    tab = browser.new_context(**PHONE).new_page()
    tab.context.set_default_timeout(20_000)
    path = "/organization/configuration/"
    tab.goto(url(stack, f"/accounts/login/?next={path}"))
    tab.fill("input[name=username]", TARGET_OWNER)
    tab.fill("input[name=password]", PASSWORD)
    tab.locator("form button[type=submit]").click()
    tab.wait_for_url(url(stack, path))
    yield tab
    tab.context.close()


def _machines(tenant: Tenant) -> list[str]:
    with tenant_context(tenant):
        return sorted(Machine.objects.values_list("name", flat=True))


def _choose(phone: Any, body: bytes) -> None:
    phone.get_by_label("Configuration file (JSON, at most 5 MB)").set_input_files(
        {"name": "config-source-config.json", "mimeType": "application/json", "buffer": body})


def test_a_dry_run_on_a_phone_shows_what_would_change_and_writes_nothing(
        phone: Any, organizations: tuple[Tenant, bytes], django_db_blocker: Any, shots: Path) -> None:
    target, body = organizations
    _choose(phone, body)
    phone.get_by_role("button", name="Check (dry run)").tap()
    report = phone.locator("#config-report")
    report.wait_for()
    assert "nothing was written" in report.locator("h2").inner_text()
    machines = report.locator("[data-section=Machines]")
    assert machines.locator("[data-field=created]").inner_text().startswith("2")
    assert "To create: Line-1 motor; Line-2 motor" in machines.inner_text()
    assert report.locator("[data-section='PM plans'] [data-field=created]").inner_text().startswith("1")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    with django_db_blocker.unblock():
        assert _machines(target) == []
    phone.wait_for_selector("#live-state.on")  # the header as members see it, before the screenshot
    phone.screenshot(path=str(shots / "config-import-dry-run-phone.png"), full_page=True)


def test_the_import_applies_the_file(phone: Any, organizations: tuple[Tenant, bytes], django_db_blocker: Any) -> None:
    """From the dry run's report, one tap: the checked file rides back, nothing to choose again."""
    target, _ = organizations
    phone.get_by_role("button", name="Import this file").tap()
    phone.get_by_role("heading", name="Imported config-source-config.json").wait_for()
    with django_db_blocker.unblock():
        assert _machines(target) == ["Line-1 motor", "Line-2 motor"]
        with tenant_context(target):
            assert PreventivePlan.objects.get().machine.name == "Line-2 motor"


def test_a_broken_file_is_refused_with_its_place(phone: Any, organizations: tuple[Tenant, bytes]) -> None:
    _, body = organizations
    _choose(phone, body.replace(b'"criticality": "medium"', b'"criticality": "urgent"', 1))
    phone.get_by_role("button", name="Check (dry run)").tap()
    problems = phone.locator("#config-problems")
    problems.wait_for()
    assert "$.machines[0].criticality" in problems.inner_text()
