"""Shapes of model output for the browser pages: bar widths, zones, projections. Pure functions
of stored JSON, so the templates stay free of arithmetic."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from engine.decision import AT_RISK, HEALTHY, LEARNING, WATCH, risk_text
from engine.frames import CYCLE_DATA_BEFORE
from engine.metadata import failure_mode_label
from predictions.models import Prediction, metrics_headline
from predictions.wording import deviation_text, feature_text, number_text, signals_of, stored_label_text, zone_text

ANOMALOUS = 0.99  # "more unusual than 99% of normal windows" (see docs/models.md)
UNUSUAL = 0.95


def finite_or_none(value: float | None) -> float | None:
    """A number a chart can carry in JSON: NaN and +-inf are not JSON, so they become a gap."""
    return value if value is None or math.isfinite(value) else None


def health_class(health: float | None) -> str:
    if health is None:
        return ""
    return "ok" if health >= 70 else "warn" if health >= 40 else "bad"


STATE_WORDS = {HEALTHY: "healthy", WATCH: "watch", AT_RISK: "at risk", LEARNING: "learning its normal"}
STATE_CLASS = {HEALTHY: "ok", WATCH: "warn", AT_RISK: "bad", LEARNING: ""}
ANOMALY_WORDS = {"normal": "usual readings", "warning": "unusual readings", "anomalous": "very unusual readings",
                 "none": "—"}


def verdict(prediction: Prediction | None) -> dict[str, Any]:
    """What the fleet row, the machine page and the live event show for a prediction, all read
    from the verdict stored with it (engine.decision). A prediction stored before verdicts
    were has none: its classifier's answer stands in."""
    if prediction is None:
        return {"state": "", "label": "not scored", "css": "", "health": None}
    state = prediction.state or (AT_RISK if prediction.predicted_failure else HEALTHY)
    label = STATE_WORDS.get(state, state)
    if state == LEARNING and prediction.learning is not None:
        label = f"{label} ({prediction.learning:.0%})"
    risk = prediction.risk if prediction.risk is not None else prediction.probability
    threshold = getattr(prediction, "threshold", None)
    return {
        "state": state, "label": label, "css": STATE_CLASS.get(state, ""),
        "health": None if state == LEARNING else prediction.health_score,
        "risk": risk_text(risk, threshold) if threshold else f"{100.0 * risk:.0f}%",
        "rul": rul_text(prediction.rul_h, getattr(prediction, "rul_beyond_h", None), prediction.time_unit),
        "confirming": state == AT_RISK and bool(prediction.state) and not prediction.alarm,
    }


def rul_text(rul: float | None, beyond: float | None, unit: str = "h") -> str:
    """The RUL shown: "beyond 30 days, no sign of wear" at the model's cap (decision rule 5)."""
    if beyond is not None:
        return f"beyond {whole_duration(beyond, unit)}, no sign of wear"
    return duration_text(rul, unit)


def whole_duration(value: float, unit: str = "h") -> str:
    """A round bound: "30 days", "36 h", "250 cycles"."""
    if unit == "cycles":
        return f"{value:.0f} cycles"
    return f"{value:.0f} h" if value < 48 else f"{value / 24:.0f} days"


def steps_duration(value: float, unit: str = "h") -> str:
    """A whole number of model steps as time: "30 min", "12 h", "4 days", "1 cycle"."""
    if unit == "cycles":
        return f"{value:g} cycle" if value == 1 else f"{value:g} cycles"
    if value < 1:
        return f"{value * 60:.0f} min"
    if value < 48:
        return f"{value:.3g} h"
    return f"{value / 24:.3g} days"


def anomaly_words(score: float | None) -> str:
    return ANOMALY_WORDS[anomaly_state(score)]


def anomaly_state(score: float | None) -> str:
    if score is None:
        return "none"
    return "anomalous" if score >= ANOMALOUS else "warning" if score >= UNUSUAL else "normal"


def headline_metrics(metrics: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The headline metrics (predictions.models.HEADLINE_METRICS) that hold a number."""
    return [(key, value) for key, value in metrics_headline(metrics).items() if isinstance(value, int | float)]


def factor_bars(factors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Top factors with a bar width relative to the strongest (in % of the track)."""
    strongest = max((abs(f.get("contribution") or 0.0) for f in factors), default=0.0) or 1.0
    return [{**f, "width": round(100.0 * abs(f.get("contribution") or 0.0) / strongest, 1),
             "raises": (f.get("contribution") or 0.0) > 0} for f in factors]


def signal_bands(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Numeric sensors with their normal / warning / critical ranges, for chart bands."""
    bands = []
    for sensor in document.get("sensors", []):
        if sensor.get("kind", "numeric") != "numeric":
            continue
        ranges = sensor.get("ranges") or {}
        bands.append({"name": sensor["name"], "label": sensor.get("label") or sensor["name"],
                      "unit": sensor.get("unit", ""), "normal": ranges.get("normal"),
                      "warning": ranges.get("warning"), "critical": ranges.get("critical")})
    return bands


def forecast_summary(forecast: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Signals projected to leave their normal range within the horizon, soonest first."""
    def soonest(f: Mapping[str, Any]) -> float | None:
        hours = [h for h in (f.get("hours_to_warning"), f.get("hours_to_critical")) if h is not None]
        return min(hours) if hours else None

    crossing = [dict(f) for f in forecast if soonest(f) is not None]
    return sorted(crossing, key=lambda f: soonest(f) or 0.0)


def hours_text(hours: float | None) -> str:
    """A duration a planner reads at a glance: "3.5 h", "4.2 days", "—"."""
    if hours is None:
        return "—"
    if hours <= 0:
        return "now"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


def duration_text(value: float | None, unit: str = "h") -> str:
    """A model's duration (horizon, RUL, time to a limit) in the data's own unit: hours as
    `hours_text` reads them, cycles as cycles ("137 cycles", "1 cycle"), never hours."""
    if unit != "cycles":
        return hours_text(value)
    if value is None:
        return "—"
    if value <= 0:
        return "now"
    shown = f"{value:.0f}" if value >= 10 else f"{value:.1f}".removesuffix(".0")
    return f"{shown} cycle" if shown == "1" else f"{shown} cycles"


def alert_risk(alert: Any) -> str:
    """An alert's risk as the pages word it: against the alert level when it was opened from a
    verdict (its explanation keeps the threshold), else the bare probability."""
    threshold = ((getattr(alert, "explanation", None) or {}).get("verdict") or {}).get("threshold")
    return risk_text(alert.probability, threshold) if threshold else f"{100.0 * alert.probability:.0f}%"


def mode_label(name: str | None, document: Mapping[str, Any] | None) -> str:
    """A failure mode key as its metadata label: `mechanical_seal_failure` -> "Mechanical seal
    failure" (or the type's own wording); "—" when none is named."""
    if not name:
        return "—"
    return failure_mode_label(document or {}, name)


def reading_text(value: Any, unit: str = "") -> str:
    """A stored value for display: numbers rounded with their unit, anything else as it is."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return number_text(value, unit)
    return "—" if value is None else str(value)


def _failure_day(failed_at: Any) -> datetime | None:
    """A recorded failure's time for display; None for a simulated case, or a cycle-indexed one
    (stored at 1970 + cycles: a date would mean nothing)."""
    if not isinstance(failed_at, str):
        return None
    try:
        day = datetime.fromisoformat(failed_at)
    except ValueError:
        return None
    day = day if day.tzinfo is not None else day.replace(tzinfo=UTC)
    return day if day >= CYCLE_DATA_BEFORE else None


def evidence(explanation: Mapping[str, Any], document: Mapping[str, Any], *, step_hours: float | None,
             unit: str) -> dict[str, Any]:
    """The machine page's "Why" in maintenance words: each factor's signal by its label with the
    reading, its unit and range; unusual signals by how far from normal; similar failures by their
    mode's label; the rule with its features worded. Raw names and scores ride along for Advanced."""
    signals = signals_of(document)

    def signal(name: str) -> tuple[str, str]:  # (label, unit); a signal the type no longer has keeps its name
        return signals.get(name, (name, ""))

    def words(feature: str | None) -> str:
        return feature_text(feature, document, step_hours=step_hours, unit=unit) if feature else ""

    factors = [{**f, "label": signal(str(f.get("signal", "")))[0],
                "reading": reading_text(f.get("value"), signal(str(f.get("signal", "")))[1]),
                "zone_text": zone_text(f.get("zone")), "feature_text": words(f.get("feature"))}
               for f in factor_bars(explanation.get("top_factors") or [])]
    unusual = [{**u, "label": signal(str(u.get("signal", "")))[0], "deviation": deviation_text(u.get("z")),
                "feature_text": words(u.get("feature"))} for u in explanation.get("unusual_signals") or []]
    cases = [{**c, "mode_label": mode_label(c.get("failure_mode"), document), "recorded": c.get("source") == "real",
              "recorded_on": _failure_day(c.get("failed_at"))} for c in explanation.get("similar_cases") or []]
    rule = explanation.get("rule")
    rule_text = stored_label_text(rule["text"], document, step_hours=step_hours, unit=unit) if rule else ""
    return {"factors": factors, "unusual": unusual, "cases": cases, "rule_text": rule_text}
