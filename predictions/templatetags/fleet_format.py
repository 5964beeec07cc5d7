"""Template filters for model output: `{{ p.health_score|health_class }}`, `{{ h|hours }}`,
`{{ p.rul_h|duration:p.time_unit }}` (hours or cycles, the data's own unit)..."""

from __future__ import annotations

from django import template

from predictions import web_format

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
