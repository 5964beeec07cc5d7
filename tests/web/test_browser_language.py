"""Maintenance language first, model details behind "Advanced" (issue 16), in a real headless
Chromium against a real ASGI server.

One pump (P-101) with a stored verdict whose explanation, in the issue-18 contract, carries
everything a new user would stumble on: a raw window-feature name (`flow_m3_h__std_12`), raw SHAP
values in log-odds, the local rule's method and coverage, a raw failure mode key and an unrounded
reading; and a model registry with `roc_auc`. A second pump (P-102) keeps an explanation stored
before issue 18 (a global rule worded in model steps, a z-score, SHAP wording). By default the
pages say it in the type's words and units (the factors' shares, the rule in sensor units, the
"When it happened" heatmap); the Advanced switch shows the raw parts, is remembered in the browser
across pages, and turns off again. On a phone the fleet shows each machine as a card with its
failure mode, readings and alerts, and the heatmap scrolls inside its card.

The tests run in file order and share one signed-in browser session.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from machines.services import machine_create, machine_type_adopt
from maintenance.models import Alert
from predictions.models import ModelVersion, Prediction
from tenants.models import Tenant
from tenants.services import tenant_signup
from tests.live import free_port, web_stack

pytestmark = pytest.mark.live
SLUG = "plainwords"
EMAIL = "engineer@plainwords.test"
PASSWORD = "Correct-Horse-42"
PHONE = {"width": 390, "height": 844}
SCORED_AT = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # the window the stored verdict read
STEPS = 24  # of 2 h: the heatmap's columns


def _factor(signal: str, label: str, value: float, unit: str, zone: str, share: float, shap: float,
            direction: str, feature: str) -> dict[str, Any]:
    return {"feature": signal, "signal": signal, "label": label, "value": value, "unit": unit, "zone": zone,
            "contribution": share, "shap": shap, "direction": direction, "window_feature": feature,
            "feature_label": feature.replace("__std_12", " spread over 12 steps"), "feature_value": 3.2}


def _ramp(peak: float) -> list[float]:
    """Attributions over the window's steps, oldest first: nothing until the last 6 steps."""
    return [0.0] * (STEPS - 6) + [peak * k / 6 for k in range(1, 7)]


EXPLANATION = {  # the issue-18 contract (engine/explanation.py)
    "top_factors": [
        _factor("flow_m3_h", "Flow rate", 141.2324, "m³/h", "warning", 0.4513, 1.4213, "raises risk",
                "flow_m3_h__std_12"),
        _factor("bearing_temp_c", "Pump bearing temperature", 61.04, "°C", "normal", 0.2, -0.63, "lowers risk",
                "bearing_temp_c__mean_24")],
    "other_signals_share": 0.3487, "shap_base": -2.75, "shap_output": "log-odds of failure within the horizon",
    "recommendation": "Replace the mechanical seal cartridge.",
    "failure_mode_label": "",  # stored before labels were: the page must look the key up
    "confidence": "high", "confidence_value": 0.8,
    "similar_past_cases": 4,
    "similar_cases": [{"machine": "P-7", "failure_mode": "mechanical_seal_failure", "hours_before_failure": 30.0,
                       "similarity": 0.91, "source": "real", "failed_at": "2026-09-14T03:00:00+00:00"},
                      {"machine": "sim-17", "failure_mode": "mechanical_seal_failure", "hours_before_failure": 12.0,
                       "similarity": 0.84, "source": "simulated"}],
    "rule": {"text": "IF Flow rate > 130 m³/h THEN 85% chance of failure within 2 days",
             "conditions": [{"signal": "flow_m3_h", "label": "Flow rate", "op": ">", "value": 130.0, "unit": "m³/h",
                             "text": "Flow rate > 130 m³/h"}],
             "outcome": "failure", "probability": 0.85, "fidelity": 0.93, "coverage": 0.4,
             "method": "local surrogate (anchors)"},
    "rul_factors": [_factor("seal_leak_ml_h", "Mechanical seal leakage", 22.5, "ml/h", "warning", 0.55, -40.2,
                            "shortens the remaining life", "seal_leak_ml_h__max_12")],
    "anomaly_factors": [_factor("flow_m3_h", "Flow rate", 141.2324, "m³/h", "warning", 0.7, 3.1,
                                "makes it look unusual", "flow_m3_h__std_12")],
    "mode_factors": [],
    "temporal": {"steps_ago": list(range(STEPS - 1, -1, -1)), "hours_ago": [2.0 * k for k in range(STEPS - 1, -1, -1)],
                 "signals": [{"signal": "flow_m3_h", "label": "Flow rate", "unit": "m³/h",
                              "attribution": _ramp(0.4), "total": 1.4},
                             {"signal": "bearing_temp_c", "label": "Pump bearing temperature", "unit": "°C",
                              "attribution": _ramp(-0.18), "total": -0.63}],
                 "summary": "The last 12 h carry 100% of what drove this prediction.",
                 "output": "log-odds of failure within the horizon"},
    "time_unit": "h",
}
OLD_EXPLANATION = {  # as stored before issue 18: signed log-odds, a global rule in model steps
    "top_factors": [{"signal": "flow_m3_h", "contribution": 1.4213, "feature": "flow_m3_h__std_12",
                     "feature_label": "flow_m3_h spread over 12 steps", "value": 141.2324, "zone": "warning"}],
    "recommendation": "Replace the mechanical seal cartridge.",
    "failure_mode_label": "",
    "confidence": {"value": 0.8, "level": "high"},
    "similar_cases": [{"machine": "sim-17", "failure_mode": "mechanical_seal_failure", "hours_before_failure": 30.0,
                       "similarity": 0.91}],
    "rule": {"text": "IF flow_m3_h spread over 24 steps > 12.5 THEN failure within 48 h likely", "fidelity": 0.99},
    "unusual_signals": [{"signal": "flow_m3_h", "feature": "flow_m3_h__std_12", "z": 4.37}],
    "time_unit": "h",
}
# What a new user must not meet on the pages by default, and what Advanced shows.
RAW = ["SHAP", "log-odds", "local surrogate (anchors)", "coverage 40%", "flow_m3_h__std_12",
       "mechanical_seal_failure", "141.2324"]
OLD_RAW = ["SHAP contributions to the log-odds", "surrogate tree, fidelity 99%", "z = 4.37", "24 steps",
           "flow_m3_h__std_12", "mechanical_seal_failure", "141.2324"]


@pytest.fixture(scope="module")
def stack(world: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The pump, its models and its verdict, and a Daphne server in front of them."""
    with django_db_blocker.unblock():
        tenant = tenant_signup(organization_name="Plain Words", slug=SLUG, owner_email=EMAIL,
                               owner_password=PASSWORD).tenant
        with tenant_context(tenant):
            _seed()
    logs = tmp_path_factory.mktemp("browser-language")
    port = free_port()
    with django_db_blocker.unblock(), web_stack(port=port, logs=logs / "servers"):
        yield port


def _seed() -> None:
    pump_type = machine_type_adopt(key="centrifugal-pump")
    pump = machine_create(machine_type_id=pump_type.id, name="P-101", site="North")

    def version(kind: str, metrics: dict[str, Any]) -> ModelVersion:
        return ModelVersion.objects.create(
            machine_type=pump_type, kind=kind, number=1, status="champion", data_source="simulated",
            data_fingerprint="f" * 64, artifact_path=f"models/x/{kind}.zip", artifact_sha256="a" * 64,
            metrics=metrics, params={"step_hours": 2.0, "horizon_h": 48},
            feature_importance=[{"feature": "flow_m3_h__std_12", "importance": 0.4}])

    classifier = version("failure_classifier", {"f1": 0.71, "roc_auc": 0.9321, "recall": 0.75, "fpr": 0.05,
                                                "rows": 200.0, "positive_rate": 0.1})
    version("rul_regressor", {"rmse": 31.5, "mae": 22.25})
    older = machine_create(machine_type_id=pump_type.id, name="P-102", site="North")
    for machine, explanation in ((pump, EXPLANATION), (older, OLD_EXPLANATION)):
        Prediction.objects.create(
            machine=machine, model_version=classifier, source="scheduled", window_end=SCORED_AT, horizon_h=48.0,
            probability=0.83, predicted_failure=True, failure_mode="mechanical_seal_failure", rul_h=141.2324,
            rul_lower_h=100.0, rul_upper_h=180.0, anomaly_score=0.995, health_score=21.0, confidence=0.8,
            explanation=explanation, state="at_risk", risk=0.83, threshold=0.4, alarm=True)
    Alert.objects.create(machine=pump, failure_mode="mechanical_seal_failure", severity="critical",
                         probability=0.83, title="Mechanical seal failure expected")


def url(port: int, path: str) -> str:
    return f"http://{SLUG}.localhost:{port}{path}"


def main_text(tab: Any) -> str:
    """What a person reads: the rendered text of the page's content (hidden elements excluded)."""
    return str(tab.locator("main").inner_text())


def machine_id(name: str = "P-101") -> int:
    with tenant_context(Tenant.objects.get(slug=SLUG)):
        return int(Prediction.objects.get(machine__name=name).machine_id)


def test_the_pages_speak_maintenance_by_default(page: Any, stack: int, shots: Path, django_db_blocker: Any) -> None:
    page.goto(url(stack, "/accounts/login/"))
    page.fill("input[name=username]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form button[type=submit]").click()
    page.wait_for_url(url(stack, "/"))
    fleet = main_text(page)
    assert "Mechanical seal failure" in fleet and "mechanical_seal_failure" not in fleet
    with django_db_blocker.unblock():
        pump = machine_id()
    page.goto(url(stack, f"/machines/{pump}/"))
    shown = main_text(page)
    for raw in RAW:
        assert raw not in shown, raw
    # The same evidence in the type's words, units and a sensible rounding: each factor's share,
    # the local rule in sensor units with how often it holds, what shortens the life, the cases.
    assert "Flow rate 141 m³/h (warning range) raises risk" in shown and "45%" in shown
    assert "All other signals together: 35%." in shown
    assert "What to check" in shown and "Replace the mechanical seal cartridge." in shown
    assert "Confidence: high" in shown
    assert "IF Flow rate > 130 m³/h THEN 85% chance of failure within 2 days" in shown
    assert "It holds for 93% of similar situations." in shown
    assert "What shortens its remaining life" in shown and "Mechanical seal leakage 22.5 ml/h" in shown
    assert "What looks unusual" in shown
    assert "4 similar past failures" in shown
    assert "P-7: Mechanical seal failure, 30.0 h before failure on your machines failed 2026-09-14" in shown
    assert "sim-17: Mechanical seal failure, 12.0 h before failure" in shown
    assert "Red bars push towards a failure" in shown
    # When it happened: one coloured cell per signal and step, the latest at the right, in hours.
    assert "When it happened" in shown and "The last 12 h carry 100% of what drove this prediction." in shown
    assert page.locator("#heatmap td.heat").count() == 2 * STEPS
    assert page.locator("#heatmap th.heat-step").last.inner_text() == "0"
    assert page.locator("#heatmap th.heat-step").first.inner_text() == "46"
    newest = page.locator("#heatmap tr[data-signal=flow_m3_h] td.heat").last
    assert newest.get_attribute("title") == (
        "Flow rate, at the latest reading: raises the risk, 20% of what drove this prediction")
    assert "heat-up-5" in str(newest.get_attribute("class"))
    red = newest.evaluate("td => getComputedStyle(td).backgroundColor")
    assert red.startswith("rgba(197, 34, 31"), red  # the stylesheet's strongest red, not a blank cell
    cooler = page.locator("#heatmap tr[data-signal=bearing_temp_c] td.heat").last
    assert cooler.evaluate("td => getComputedStyle(td).backgroundColor").startswith("rgba(30, 142, 62")
    # No readings stored: the page says where to bring them, in the product.
    page.wait_for_selector("#signal-charts a")
    assert page.locator("#signal-charts a", has_text="upload a file").get_attribute("href") == (
        "/uploads/?type=centrifugal-pump")
    assert not page.locator("[data-advanced-toggle]").is_checked()
    page.screenshot(path=str(shots / "machine-plain.png"), full_page=True)
    # An explanation stored before issue 18 still reads in plain words.
    with django_db_blocker.unblock():
        older = machine_id("P-102")
    page.goto(url(stack, f"/machines/{older}/"))
    shown = main_text(page)
    for raw in OLD_RAW:
        assert raw not in shown, raw
    assert "Flow rate 141 m³/h (warning range)" in shown and "Flow rate: well above normal" in shown
    assert "sim-17: Mechanical seal failure, 30.0 h before failure" in shown and "Confidence: high" in shown
    assert "When it happened" not in shown
    page.goto(url(stack, "/models/"))
    models = main_text(page)
    assert "Rul Regressor" not in models and "roc_auc" not in models and "ROC-AUC" not in models
    assert "RUL regressor" in models and "Estimates how long a machine has left before it fails." in models
    assert "warned in 15 of 20 readings before a failure, with 5 false alarms per 100 healthy readings" in models
    with page.expect_navigation(wait_until="load"):  # styles applied before reading what shows
        page.get_by_role("link", name="v1").first.click()  # the failure classifier's own page
    version = main_text(page)
    assert "ROC-AUC" not in version and "flow_m3_h__std_12" not in version and "Parameters" not in version
    assert "Flow rate variability (m³/h, last 24 h)" in version  # what it looks at most, 12 steps of 2 h
    page.screenshot(path=str(shots / "model-plain.png"), full_page=True)


def test_advanced_shows_the_model_details_and_is_remembered(page: Any, stack: int, shots: Path,
                                                            django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        pump = machine_id()
        older = machine_id("P-102")
    page.goto(url(stack, f"/machines/{pump}/"))
    page.locator("[data-advanced-toggle]").check()
    shown = main_text(page)
    for raw in ("SHAP 1.421", "log-odds of failure within the horizon", "local surrogate (anchors)",
                "coverage 40%", "flow_m3_h__std_12", "mechanical_seal_failure"):
        assert raw in shown, raw
    assert "Flow rate variability (m³/h, last 24 h)" in shown  # the factor's window: 12 steps of 2 h
    page.screenshot(path=str(shots / "machine-advanced.png"), full_page=True)
    page.goto(url(stack, f"/machines/{older}/"))  # the same choice on the older explanation
    shown = main_text(page)
    for raw in ("SHAP contributions to the log-odds", "surrogate tree, fidelity 99%", "z = 4.37", "flow_m3_h__std_12"):
        assert raw in shown, raw
    # The stored rule's "24 steps" reads as time even here: 24 steps of 2 h.
    assert "IF Flow rate variability (m³/h, last 2 days) > 12.5" in shown
    page.goto(url(stack, "/models/"))  # another page, the same choice
    assert page.locator("[data-advanced-toggle]").is_checked()
    assert "ROC-AUC" in main_text(page)
    page.reload()
    assert "ROC-AUC" in main_text(page)
    page.locator("[data-advanced-toggle]").uncheck()
    assert "ROC-AUC" not in main_text(page)
    page.goto(url(stack, f"/machines/{pump}/"))
    assert "flow_m3_h__std_12" not in main_text(page)


def test_the_fleet_on_a_phone_shows_each_machine_as_a_card(browser: Any, page: Any, stack: int, shots: Path) -> None:
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2,
                                storage_state=page.context.storage_state())
    try:
        tab = phone.new_page()
        tab.goto(url(stack, "/"))
        card = tab.locator("#fleet-body tr", has_text="P-101")
        assert not tab.locator("table.fleet thead").is_visible()  # cards, not a table
        for field in ("failure_mode", "anomaly", "alerts", "state", "rul"):
            assert card.locator(f"[data-field={field}]").is_visible(), field
        text = card.inner_text()
        assert "Mechanical seal failure" in text and "very unusual readings" in text
        # Each value named beside it (the column's name, drawn by CSS from data-label).
        named = card.locator("[data-field=failure_mode]").evaluate("td => getComputedStyle(td, '::before').content")
        assert named == '"Failure mode"', named
        assert "ago" not in text  # the time scored stays for the desktop table
        assert card.locator("[data-field=alerts]").inner_text().strip() == "1"
        overflow = tab.evaluate(f"document.documentElement.scrollWidth - {PHONE['width']}")
        assert overflow <= 1, f"the page is {overflow}px wider than the phone"
        tab.screenshot(path=str(shots / "fleet-phone-cards.png"), full_page=True)
        # The machine page's heatmap is wider than a phone: it scrolls inside its card, the page does not.
        tab.goto(url(stack, f"/machines/{machine_id()}/"))
        assert tab.locator("#heatmap").is_visible()
        overflow = tab.evaluate(f"document.documentElement.scrollWidth - {PHONE['width']}")
        assert overflow <= 1, f"the machine page is {overflow}px wider than the phone"
        inside = tab.locator("#when-card .heatmap-wrap").evaluate("el => el.scrollWidth - el.clientWidth")
        assert inside > 0, "the heatmap fits without scrolling: nothing to check"
        # It opens on the latest steps, where a failure's evidence builds up; the signal names stay pinned.
        newest = tab.locator("#heatmap tr[data-signal=flow_m3_h] td.heat").last.bounding_box()
        name = tab.locator("#heatmap tr[data-signal=flow_m3_h] th").bounding_box()
        assert newest and name and newest["x"] + newest["width"] <= PHONE["width"] and name["x"] >= 0, (newest, name)
    finally:
        phone.close()
