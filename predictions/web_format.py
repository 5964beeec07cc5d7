"""Shapes of model output for the browser pages: bar widths, zones, projections. Pure functions
of stored JSON, so the templates stay free of arithmetic."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from engine.decision import AT_RISK, HEALTHY, LEARNING, WATCH, risk_text
from engine.frames import cycle_of
from engine.metadata import failure_mode_label
from predictions.models import Prediction, metrics_headline
from predictions.wording import (
    deviation_text,
    feature_text,
    number_text,
    share_text,
    signals_of,
    stored_label_text,
    zone_text,
)

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


# --- the machine page's "Why" card, its time heatmap and a work order's factors ----------------------

HEAT_LEVELS = 5  # colour steps of a heatmap cell: CSS classes heat-up-1..5 and heat-down-1..5
HEAT_FAINT = 0.02  # a cell under 2% of the strongest stays neutral: noise, not evidence
HEAT_AXIS_LABELS = {"h": "hours ago", "days": "days ago", "cycles": "cycles ago"}
LISTED = 3  # remaining-life and unusual factors listed under the main ones


def is_share_shape(factors: Sequence[Mapping[str, Any]]) -> bool:
    """Explanations stored since issue 18 give each factor its share of the total |SHAP| as
    `contribution` (0-1) and the raw value as `shap`; older ones stored the raw log-odds as
    `contribution` and have no `shap` (docs/models.md, "The explanation contract")."""
    return any("shap" in f for f in factors)


def factor_bars(factors: Sequence[Mapping[str, Any]], *, bad_when_positive: bool = True) -> list[dict[str, Any]]:
    """Factors with a bar. New shape: its length is the factor's share of the total (percent of the
    track), its colour the sign of its raw value; old shape: its length relative to the strongest,
    its colour the sign of the stored contribution. `bad`: drawn red (towards a failure, a shorter
    life, an unusual reading: `bad_when_positive` says which sign that is for the model explained)."""
    shares = is_share_shape(factors)
    raws = [_number(f.get("shap") if shares else f.get("contribution")) for f in factors]
    strongest = max((abs(r) for r in raws), default=0.0) or 1.0
    bars = []
    for factor, raw in zip(factors, raws, strict=True):
        share = _number(factor.get("contribution")) if shares else None
        width = 100.0 * (share if share is not None else abs(raw) / strongest)
        bars.append({**factor, "width": round(min(width, 100.0), 1), "raw": raw, "raises": raw > 0,
                     "bad": (raw > 0) == bad_when_positive, "share_text": share_text(share) if shares else "",
                     "direction": factor.get("direction") or ("raises risk" if raw > 0 else "lowers risk")})
    return bars


def _number(value: Any) -> float:
    """A stored number, 0 when missing or not finite (a bar of nothing, never an error)."""
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0


class Wording:
    """A type's signals and features in its own words, for one prediction's explanation."""

    def __init__(self, document: Mapping[str, Any], *, step_hours: float | None, unit: str) -> None:
        self.document, self.step_hours, self.unit = document, step_hours, unit
        self.signals = signals_of(document)

    def signal(self, factor: Mapping[str, Any]) -> tuple[str, str]:
        """(label, unit): the type's own, else what the explanation stored, else the raw name."""
        name = str(factor.get("signal") or factor.get("feature") or "")
        stored = (str(factor.get("label") or name), str(factor.get("unit") or ""))
        return self.signals.get(name, stored)

    def feature(self, feature: str | None) -> str:
        return feature_text(feature, self.document, step_hours=self.step_hours, unit=self.unit) if feature else ""

    def factors(self, bars: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Each bar with its signal's label, its reading rounded with its unit, the zone in words,
        and for Advanced the window feature that weighed most (the old shape's `feature`)."""
        worded = []
        for bar in bars:
            label, unit = self.signal(bar)
            code = str(bar.get("window_feature") or bar.get("feature") or bar.get("signal") or "")
            worded.append({**bar, "label": label, "reading": reading_text(bar.get("value"), unit),
                           "zone_text": zone_text(bar.get("zone")), "feature_text": self.feature(code), "code": code})
        return worded


def evidence(explanation: Mapping[str, Any], document: Mapping[str, Any], *, step_hours: float | None,
             unit: str) -> dict[str, Any]:
    """The machine page's "Why" in maintenance words, for explanations of both shapes: the factors
    by their signals' labels with the reading, its unit and range and (new shape) the share; what
    shortens the remaining life and what looks unusual; similar failures by their mode's label;
    the rule; the confidence word; the time heatmap. Raw names and scores ride along for Advanced."""
    words = Wording(document, step_hours=step_hours, unit=unit)
    top = explanation.get("top_factors") or []
    shares = is_share_shape(top)
    unusual_factors = [f for f in factor_bars(explanation.get("anomaly_factors") or []) if f["raw"] > 0]
    shortening = factor_bars(explanation.get("rul_factors") or [], bad_when_positive=False)
    return {
        "shares": shares, "factors": words.factors(factor_bars(top)),
        "other_share": share_text(_number(explanation.get("other_signals_share"))) if shares else "",
        "rul_factors": words.factors([f for f in shortening if f["bad"]][:LISTED]),
        "unusual_factors": words.factors(unusual_factors[:LISTED]),
        "unusual": [] if unusual_factors else _unusual_signals(explanation, words),
        "confidence": _confidence_word(explanation.get("confidence")),
        "case_count": explanation.get("similar_past_cases"),
        "cases": [{**c, "mode_label": mode_label(c.get("failure_mode"), document), "real": c.get("source") == "real",
                   "failed_text": failed_text(c.get("failed_at"), unit)}
                  for c in explanation.get("similar_cases") or []],
        "rule": _rule(explanation.get("rule"), words),
        "heatmap": heatmap(explanation.get("temporal"), unit),
    }


def _unusual_signals(explanation: Mapping[str, Any], words: Wording) -> list[dict[str, Any]]:
    """The old list of the most deviating signals (robust z), for explanations without anomaly factors."""
    return [{**u, "label": words.signal(u)[0], "deviation": deviation_text(u.get("z")),
             "feature_text": words.feature(u.get("feature"))} for u in explanation.get("unusual_signals") or []]


def _confidence_word(confidence: Any) -> str:
    """"high" / "medium" / "low": stored as the word since issue 18, before as {value, level}."""
    if isinstance(confidence, Mapping):
        return str(confidence.get("level") or "")
    return confidence if isinstance(confidence, str) else ""


def _rule(rule: Any, words: Wording) -> dict[str, Any] | None:
    """The rule as the page shows it. A local rule (new shape, with `conditions`) is in sensor units
    already and is shown to everyone, with how often it holds; the old global surrogate's text is
    in window-feature words, reworded, and stays under Advanced as before."""
    if not isinstance(rule, Mapping) or not rule.get("text"):
        return None
    text = str(rule["text"])
    if "conditions" not in rule:
        return {"local": False, "text": stored_label_text(text, words.document, step_hours=words.step_hours,
                                                          unit=words.unit), "fidelity": rule.get("fidelity")}
    fidelity = rule.get("fidelity")
    holds = f"It holds for {share_text(fidelity)} of similar situations." if isinstance(fidelity, int | float) else ""
    return {"local": True, "text": text, "holds": holds, "fidelity": fidelity, "coverage": rule.get("coverage"),
            "method": rule.get("method") or ""}


def heatmap(temporal: Any, unit: str) -> dict[str, Any] | None:
    """"When it happened": per signal (rows) and step of the window (columns, oldest first, newest
    at the right), a cell whose colour is the sign of its attribution (red raises the risk, green
    lowers it) and whose intensity is its size against the largest cell's; its title says it in
    words with its share of all the cells. None without a temporal attribution (older predictions,
    and every step but a machine's latest)."""
    if not isinstance(temporal, Mapping) or not temporal.get("signals") or not temporal.get("hours_ago"):
        return None
    ago = [h if isinstance(h, int | float) else None for h in temporal["hours_ago"]]
    axis, scale = _heat_axis(ago, unit)
    columns = [{"text": "—" if h is None else number_text(h / scale), "when": _when(h, scale, axis)} for h in ago]
    values = [[_number(v) for v in s.get("attribution") or []] for s in temporal["signals"]]
    largest = max((abs(v) for row in values for v in row), default=0.0) or 1.0
    total = sum(abs(v) for row in values for v in row) or 1.0
    rows = []
    for signal, row in zip(temporal["signals"], values, strict=True):
        label = str(signal.get("label") or signal.get("signal") or "")
        # Not strict: a stored row of another length shows the cells it has, never an error page.
        cells = [_heat_cell(value, label, column["when"], largest, total)
                 for value, column in zip(row, columns, strict=False)]
        rows.append({"signal": signal.get("signal"), "label": label, "unit": signal.get("unit") or "", "cells": cells})
    return {"summary": str(temporal.get("summary") or ""), "axis": axis, "axis_label": HEAT_AXIS_LABELS[axis],
            "columns": columns, "rows": rows, "output": temporal.get("output") or ""}


def _heat_axis(ago: Sequence[float | None], unit: str) -> tuple[str, float]:
    """The columns' unit and its length in model hours: cycles for cycle-indexed data; days when the
    window spans four days or more (a day-step type's 24 steps), else hours."""
    if unit == "cycles":
        return "cycles", 1.0
    return ("days", 24.0) if max((h for h in ago if h is not None), default=0.0) >= 96 else ("h", 1.0)


def _when(hours: float | None, scale: float, axis: str) -> str:
    if hours is None:
        return "at an unknown time"
    if hours == 0:
        return "at the latest reading"
    value = hours / scale
    word = {"cycles": "cycle" if value == 1 else "cycles", "days": "day" if value == 1 else "days"}.get(axis, "h")
    return f"{number_text(value)} {word} ago"


def _heat_cell(value: float, label: str, when: str, largest: float, total: float) -> dict[str, Any]:
    size = abs(value) / largest
    level = min(HEAT_LEVELS, math.ceil(HEAT_LEVELS * size)) if size >= HEAT_FAINT else 0
    share = share_text(abs(value) / total)
    if value == 0:
        return {"css": "heat-0", "title": f"{label}, {when}: no weight", "short": "none", "value": 0.0}
    raises = value > 0
    verb = "raises" if raises else "lowers"
    return {"css": f"heat-{'up' if raises else 'down'}-{level}" if level else "heat-0", "value": value,
            "title": f"{label}, {when}: {verb} the risk, {share} of what drove this prediction",
            "short": f"{verb} {share}"}


def work_order_why(explanation: Mapping[str, Any] | None, document: Mapping[str, Any]) -> dict[str, Any]:
    """A work order's copy of the explanation it came from, worded as the machine page words it:
    its factors (label, reading with unit, share) and its rule (either shape)."""
    explanation = explanation or {}
    words = Wording(document, step_hours=None, unit=str((explanation.get("verdict") or {}).get("time_unit") or "h"))
    return {"factors": words.factors(factor_bars(explanation.get("top_factors") or [])),
            "rule": _rule(explanation.get("rule"), words)}


def failed_text(failed_at: str | None, unit: str) -> str:
    """When a real past failure happened: "failed 2026-03-14", or "failed at cycle 187" for
    cycle-indexed data, whose times are 1970 + cycles (engine.frames)."""
    if not failed_at:
        return ""
    if unit != "cycles":
        return f"failed {failed_at[:10]}"
    when = datetime.fromisoformat(failed_at)
    return f"failed at cycle {cycle_of(when.replace(tzinfo=when.tzinfo or UTC).timestamp())}"
