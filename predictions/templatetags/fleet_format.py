"""Template filters for model output: `{{ p.health_score|health_class }}`, `{{ h|hours }}`,
`{{ p.rul_h|duration:p.time_unit }}` (hours or cycles, the data's own unit), `{{ value|reading:unit }}`,
`{{ p.failure_mode|mode_label:machine_type.metadata }}`..."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import template

from predictions import web_format
from predictions.wording import number_text

register = template.Library()

register.filter("health_class", web_format.health_class)
register.filter("anomaly_state", web_format.anomaly_state)
register.filter("anomaly_words", web_format.anomaly_words)
register.filter("verdict", web_format.verdict)
register.filter("alert_risk", web_format.alert_risk)
register.filter("hours", web_format.hours_text)
register.filter("duration", web_format.duration_text)
register.filter("headline_metrics", web_format.headline_metrics)


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{100.0 * value:.0f}%"


@register.filter
def mode_label(name: str | None, document: Mapping[str, Any] | None) -> str:
    """`{{ p.failure_mode|mode_label:machine.machine_type.metadata }}`: the mode's label."""
    return web_format.mode_label(name, document)


register.filter("reading", web_format.reading_text)  # {{ value|reading:unit }}: rounded, with its unit
register.filter("number", number_text)  # {{ value|number }}: rounded to three significant digits


@register.filter
def work_order_why(explanation: Mapping[str, Any] | None, document: Mapping[str, Any] | None) -> dict[str, Any]:
    """`{{ order.explanation|work_order_why:order.machine.machine_type.metadata }}`: its factors and rule worded."""
    return web_format.work_order_why(explanation, document or {})
