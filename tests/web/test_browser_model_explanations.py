"""A model's global explanation as an engineer meets it in a real headless Chromium against a real
ASGI server (issue 18): the Siemens motor onboarded for real (a simulated fleet, the failure
classifier and the RUL regressor trained, their global views computed by interventional SHAP at
training), then its classifier's page: the signals it looks at as bars, the summary (beeswarm) and
the dependence plots drawn as inline SVG with axes in the signal's units, feature names and
log-odds only with Advanced on. The tests run in file order and share one browser session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from engine.bundles import FAILURE, RUL
from machines.services import machine_type_adopt
from predictions.models import ModelVersion
from tenants.models import Tenant
from tenants.services import tenant_signup
from tests.conftest import committed_tenant_drop
from tests.live import free_port, web_stack

pytestmark = pytest.mark.live
SLUG = "global-views"  # a name no other module commits
EMAIL = "engineer@global-views.test"
PASSWORD = "Correct-Horse-42"
MOTOR = "induction-motor-siemens-1la7"


@pytest.fixture(scope="module")
def onboarded(world: Any, django_db_blocker: Any) -> Iterator[tuple[Tenant, int]]:
    """The organization with the motor type's classifier and RUL models trained (committed)."""
    from predictions.services.training import onboard_machine_type

    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="Global Views", slug=SLUG, owner_email=EMAIL,
                               owner_password=PASSWORD)
        with tenant_context(signup.tenant):
            motor = machine_type_adopt(key=MOTOR)
            onboard_machine_type(machine_type=motor, machines=40, seed=2, kinds=[FAILURE, RUL], synthesizer=None)
            classifier = ModelVersion.objects.get(kind=FAILURE, status="champion")
    yield signup.tenant, classifier.id
    with django_db_blocker.unblock():
        committed_tenant_drop(signup.tenant, emails=[EMAIL])


@pytest.fixture(scope="module")
def stack(onboarded: tuple[Tenant, int], django_db_blocker: Any,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    with django_db_blocker.unblock(), web_stack(port=port, logs=tmp_path_factory.mktemp("global-views")):
        yield port


def url(port: int, path: str) -> str:
    return f"http://{SLUG}.localhost:{port}{path}"


def main_text(tab: Any) -> str:
    return str(tab.locator("main").inner_text())


def test_the_model_page_shows_what_the_model_looks_at_in_the_types_words(
        page: Any, stack: int, onboarded: tuple[Tenant, int], shots: Path) -> None:
    version = onboarded[1]
    page.goto(url(stack, f"/models/{version}/"))
    page.fill("input[name=username]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation(wait_until="load"):  # styles applied before reading what shows
        page.locator("form button[type=submit]").click()
    assert page.url == url(stack, f"/models/{version}/")
    shown = main_text(page)
    assert "What the model looks at" in shown
    bars = page.locator("#signal-importance li")
    assert bars.count() >= 5
    first_bar = bars.first.inner_text()
    assert "%" in first_bar and "__" not in first_bar  # a signal by its label, with its share
    # Summary: a row per top signal, a coloured dot per explained window.
    summary = page.locator("#global-summary svg")
    assert summary.is_visible() and summary.bounding_box()["width"] > 600
    rows = page.locator("#global-summary g.dots")
    assert rows.count() == 8 and page.locator("#global-summary circle").count() == 8 * 200
    fill = page.locator("#global-summary circle").first.evaluate("c => getComputedStyle(c).fill")
    assert fill not in ("rgb(0, 0, 0)", "none"), fill  # coloured by the stylesheet's rank classes
    # Dependence: one plot per top signal, titled and labelled in the signal's own unit.
    figures = page.locator("#global-dependence figure")
    assert figures.count() == 4
    titles = [figures.nth(i).locator("figcaption").inner_text() for i in range(4)]
    assert all(t.startswith("How failure risk changes with ") and t.endswith(")") for t in titles), titles
    assert any(unit in " ".join(titles) for unit in ("°C", "mm/s", "K", "rpm", "A", "V"))
    x_label = figures.first.locator("text.axis-label").first.text_content()
    assert "(" in x_label and "last" in x_label and "__" not in x_label  # "... highest (°C, last 12 h)"
    for raw in ("__", "log-odds", "SHAP", "TreeSHAP"):
        assert raw not in shown, raw
    page.locator("#global-summary").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "model-global-explanations.png"), full_page=True)


def test_advanced_shows_the_features_and_the_log_odds(page: Any, stack: int, onboarded: tuple[Tenant, int]) -> None:
    page.locator("[data-advanced-toggle]").check()
    shown = main_text(page)
    assert "log-odds of failure within the horizon" in shown and "interventional TreeSHAP" in shown
    assert "__" in page.locator("#signal-importance").inner_text()  # each signal's representative feature
    ticks = page.locator("#global-summary g.ticks text")
    assert ticks.count() >= 3 and ticks.first.is_visible()  # the log-odds scale, for those who read it
    page.locator("[data-advanced-toggle]").uncheck()
    assert not ticks.first.is_visible()


def test_on_a_phone_the_summary_scrolls_inside_its_card(browser: Any, page: Any, stack: int,
                                                        onboarded: tuple[Tenant, int]) -> None:
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                storage_state=page.context.storage_state())
    try:
        tab = phone.new_page()
        with tab.expect_navigation(wait_until="load"):
            tab.goto(url(stack, f"/models/{onboarded[1]}/"))
        overflow = tab.evaluate("document.documentElement.scrollWidth - 390")
        assert overflow <= 1, f"the page is {overflow}px wider than the phone"
        wrap = tab.locator("#global-summary .plot-wrap")
        assert wrap.evaluate("w => w.scrollWidth > w.clientWidth")  # the labels keep a legible size
        assert tab.locator("#global-dependence figure").first.is_visible()
    finally:
        phone.close()
