"""The demo organization as `make run` serves it, in a real headless Chromium: four healthy machines
and one at risk (issue 15).

The demo is filled as `manage.py demo_seed` fills it (`pdm_saas.demo.demo_fill`), and each demo type
is onboarded as the worker onboards it after `make run` (`onboard_machine_type` with the onboarding
defaults, run in this process: the synthesizer stage is left out, the models never read its
output), which scores the fleet. Then the fleet dashboard is read in the browser, row by row.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from machines.models import MachineType
from pdm_saas.demo import AT_RISK, FLEET, demo_fill
from predictions.services.training import onboard_machine_type
from tenants.services import tenant_signup
from tests.live import free_port, web_stack

pytestmark = pytest.mark.live
SLUG = "demoplant"
EMAIL = "demo@demoplant.test"
PASSWORD = "Correct-Horse-42"
HEALTHY = ["Motor-001", "Motor-002", "Pump-001", "Pump-002"]


@pytest.fixture(scope="module")
def stack(world: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The demo tenant filled and its types onboarded, and a Daphne server in front of it."""
    with django_db_blocker.unblock():
        tenant = tenant_signup(organization_name="Demo Plant", slug=SLUG, owner_email=EMAIL,
                               owner_password=PASSWORD).tenant
        assert demo_fill(tenant=tenant)
        with tenant_context(tenant):
            for machine_type in MachineType.objects.filter(key__in=[key for key, *_ in FLEET]):
                onboard_machine_type(machine_type=machine_type, synthesizer=None)
    logs = tmp_path_factory.mktemp("browser-demo")
    port = free_port()
    with django_db_blocker.unblock(), web_stack(port=port, logs=logs):
        yield port


def verdict(row: Any) -> str:
    """What a person reads off a fleet row. With issue 15's decision rules the row states its
    verdict (`data-state`: healthy, watch, at_risk, learning). Before them: "at risk" for a machine
    predicted to fail (a failure mode named, or health in the red), "healthy" for health in the
    green, no failure predicted and a normal anomaly state, "unclear" for anything between."""
    state = row.get_attribute("data-state")
    if state:
        return {"at_risk": "at risk"}.get(state, state)
    health = row.locator("[data-field=health] .health").get_attribute("class") or ""
    mode = row.locator("[data-field=failure_mode]").inner_text().strip()
    anomaly = row.locator("[data-field=anomaly]").inner_text().strip()
    if mode not in ("", "—") or "bad" in health.split():
        return "at risk"
    if "ok" in health.split() and anomaly == "normal":
        return "healthy"
    return f"unclear (health {health!r}, anomaly {anomaly!r})"


# Known to fail (2026-12-06, with parts A, B and C on main): Motor-003 reads at risk and Pump-002
# healthy, but the other healthy machines read "watch": their anomaly score saturates once their
# readings are moved to the type's reference by `engine.baselines.relative_frame`, which uses
# the level averaged over the regimes rather than the row's own regime (reported to part C).
# strict: once it passes, the mark must go.
def test_the_demo_shows_four_healthy_machines_and_one_at_risk(page: Any, stack: int, shots: Any) -> None:
    page.goto(f"http://{SLUG}.localhost:{stack}/accounts/login/")
    page.fill("input[name=username]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(f"http://{SLUG}.localhost:{stack}/")
    page.screenshot(path=str(shots / "demo-fleet.png"), full_page=True)
    rows = {name: page.locator("#fleet-body tr", has_text=name) for name in [*HEALTHY, AT_RISK]}
    seen = {name: verdict(row) for name, row in rows.items()}
    assert seen == {**dict.fromkeys(HEALTHY, "healthy"), AT_RISK: "at risk"}
