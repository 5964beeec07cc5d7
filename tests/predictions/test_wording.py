"""The pages' maintenance wording (predictions.wording and the fleet_format filters): feature
names, failure modes and numbers in the machine type's own labels and units, rounded."""

from __future__ import annotations

import math

import pytest
from django.template import Context, Template

from predictions.web_format import failed_text
from predictions.wording import (
    deviation_text,
    feature_text,
    number_text,
    share_text,
    stored_label_text,
    window_text,
)

PUMP = {
    "sensors": [{"name": "flow_m3_h", "label": "Flow", "unit": "m³/h"},
                {"name": "grade", "label": "Grade", "kind": "categorical"}],
    "derived_signals": [{"name": "efficiency_pct", "label": "Efficiency", "unit": "%"}],
    "failure_modes": [{"name": "mechanical_seal_failure", "label": "Mechanical seal leak"}],
}


@pytest.mark.parametrize(("value", "unit", "shown"), [
    (141.2324, "", "141"), (14.127, "", "14.1"), (3.14159, "bar", "3.14 bar"), (0.012345, "", "0.0123"),
    (1234.5, "rpm", "1,234 rpm"), (44.0, "°C", "44 °C"), (0, "", "0"), (-2.5, "", "-2.5"), (97.26, "%", "97.3%"),
    (None, "bar", "—"), (math.nan, "", "—"), (math.inf, "", "—"),
])
def test_numbers_are_rounded_to_what_they_can_mean(value: float | None, unit: str, shown: str) -> None:
    assert number_text(value, unit) == shown


def test_shares_are_percentages_with_as_many_digits_as_matter() -> None:
    assert [share_text(f) for f in (0.906, 0.0174, 0.00174, 0.00004, 0.0, 0.05, None)] == [
        "91%", "1.7%", "0.2%", "under 0.1%", "0%", "5%", "—"]


def test_a_feature_reads_as_its_signal_statistic_unit_and_window_in_time() -> None:
    assert feature_text("flow_m3_h__std_12", PUMP) == "Flow variability (m³/h, last 12 readings)"
    assert feature_text("flow_m3_h__std_24", PUMP, step_hours=0.5) == "Flow variability (m³/h, last 12 h)"
    assert feature_text("flow_m3_h__slope_96", PUMP, step_hours=1.0) == "Flow trend (last 4 days)"
    cycles = feature_text("flow_m3_h__mean_24", PUMP, step_hours=1.0, unit="cycles")
    assert cycles == "Flow average (m³/h, last 24 cycles)"
    assert feature_text("efficiency_pct__last_6", PUMP, step_hours=1 / 60) == "Efficiency latest (%, last 6 min)"
    assert feature_text("grade__H", PUMP) == "Grade = H"
    assert feature_text("flow_m3_h__change", PUMP) == "Flow change since the last repair (m³/h)"
    assert feature_text("time_since_maintenance_h", PUMP) == "Time since the last maintenance"
    assert feature_text("unknown_signal__max_3", PUMP) == "Unknown signal highest (last 3 readings)"


def test_windows_and_stored_rule_texts_are_worded_in_time() -> None:
    assert window_text(1, None) == "1 reading" and window_text(1, None, "cycles") == "1 cycle"
    assert window_text(24, 12.0) == "12 days"
    rule = "IF flow_m3_h spread over 24 steps > 3.1 AND grade = H THEN failure within 24 h likely"
    assert stored_label_text(rule, PUMP, step_hours=0.5) == (
        "IF Flow variability (m³/h, last 12 h) > 3.1 AND grade = H THEN failure within 24 h likely")


def test_a_robust_z_score_reads_as_a_distance_from_normal() -> None:
    assert [deviation_text(z) for z in (1.2, -4.0, 7.5, None)] == [
        "above normal", "well below normal", "far above normal", "unusual"]


def _render(text: str, **context: object) -> str:
    return Template("{% load fleet_format %}" + text).render(Context(context))


def test_template_filters_word_modes_readings_and_numbers() -> None:
    assert _render("{{ m|mode_label:doc }}", m="mechanical_seal_failure", doc=PUMP) == "Mechanical seal leak"
    assert _render("{{ m|mode_label:doc }}", m="impeller_wear", doc=PUMP) == "impeller wear"  # not in the type
    assert _render("{{ m|mode_label:doc }}", m="", doc=PUMP) == "—"
    assert _render("{{ v|reading:'m³/h' }}", v=141.2324) == "141 m³/h"
    assert _render("{{ v|reading:'' }}", v="open") == "open"  # a categorical reading as it is
    assert _render("{{ v|number }}", v=0.98765) == "0.988"


def test_a_real_past_failure_reads_as_a_date_or_a_cycle() -> None:
    assert failed_text("2026-03-14T08:00:00+00:00", "h") == "failed 2026-03-14"
    assert failed_text("1970-01-08T19:00:00+00:00", "cycles") == "failed at cycle 187"  # 187 x 3600 s after 1970
    assert failed_text(None, "h") == ""
