"""The model page's global views as inline SVG drawn on the server: what the model looks at
(signals by their share of mean |SHAP|), a beeswarm-style summary and dependence plots for the top
signals, from a version's stored `global_explanation` (engine.global_explain). No view and no
JavaScript: this module turns the stored points into coordinates, ticks and words; the template
`predictions/partials/global_plots.html` draws them. Colours are CSS classes (app.css), so the
Content-Security-Policy's ban on inline styles holds.

Plain words first: signals by their labels and units, the classifier's log-odds only under
Advanced (its numbers mean nothing to a planner; "raises / lowers the risk" does), a regressor's
effect in hours (or cycles) of remaining life, which people read.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from predictions.models import ModelVersion
from predictions.views.model_display import K, feature_words, version_time_unit
from predictions.wording import number_text, share_text, signals_of

COLOURS = 6  # value-rank classes q0 (lowest) .. q5 (highest); "qn": no value
# Beeswarm geometry (viewBox units): signal labels left of the plot, one row per signal.
# Drawn at most at its own size (app.css), so the labels stay at the page's text size.
SWARM_WIDTH, SWARM_LEFT, SWARM_RIGHT, SWARM_ROW, SWARM_TOP, SWARM_BOTTOM = 960, 300, 20, 30, 8, 52
DOT = 2.6
# A dependence plot's geometry.
PLOT_WIDTH, PLOT_HEIGHT, PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 480, 280, 62, 14, 12, 48


@dataclass(frozen=True)
class Scale:
    """A data range mapped onto a pixel range, with round ticks inside it."""

    low: float
    high: float
    start: float
    end: float

    def at(self, value: float) -> float:
        span = self.high - self.low or 1.0
        return round(self.start + (value - self.low) / span * (self.end - self.start), 1)

    def ticks(self, unit: str = "") -> list[dict[str, Any]]:
        return [{"at": self.at(t), "text": number_text(t, unit)} for t in nice_ticks(self.low, self.high)]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round numbers (1, 2 or 5 times a power of ten apart) within [low, high]."""
    if not high > low:
        return [low]
    power = 10 ** math.floor(math.log10((high - low) / count))
    step = min((m * power for m in (1, 2, 5, 10)), key=lambda s: abs((high - low) / s - count))
    first = math.ceil(low / step) * step
    return [round(first + i * step, 10) for i in range(int((high - first) / step + 1e-9) + 1)]


def padded(values: Sequence[float], *, around_zero: bool = False) -> tuple[float, float]:
    """The values' range with 5% room either side (and zero inside it, for SHAP axes)."""
    low, high = min(values), max(values)
    if around_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    room = (high - low) * 0.05 or abs(high) * 0.05 or 1.0
    return low - room, high + room


@dataclass(frozen=True)
class Words:
    """How one kind of model's SHAP values read: a classifier's in log-odds of a failure, a
    regressor's in its time unit of remaining life."""

    risk: bool
    unit: str  # "" for log-odds (not a unit people read), else "h" or "cycles"

    @property
    def effect(self) -> str:
        return "Effect on failure risk" if self.risk else f"Effect on remaining life ({self.unit})"

    @property
    def vertical(self) -> str:
        """A dependence plot's y axis, read bottom to top: the classifier's has no numbers to read
        (log-odds are Advanced), so it says which way is which."""
        return "← lowers risk  ·  raises risk →" if self.risk else self.effect

    @property
    def up(self) -> str:
        return "raises the risk" if self.risk else "lengthens remaining life"

    @property
    def down(self) -> str:
        return "lowers the risk" if self.risk else "shortens remaining life"

    def towards_failure(self, shap: float) -> bool:
        return shap > 0 if self.risk else shap < 0


def global_context(version: ModelVersion) -> dict[str, Any]:
    """The template's `global_view`: None when the version stores none (older versions, kinds
    without one), else its bars, summary and dependence plots."""
    view = version.global_explanation or {}
    if not view.get("signals"):
        return {"global_view": None}
    risk = version.kind == K.FAILURE_CLASSIFIER
    words = Words(risk=risk, unit="" if risk else version_time_unit(version))
    names = SignalNames(version)
    return {"global_view": {
        "risk": words.risk, "words": words, "rows": view.get("rows"), "background_rows": view.get("background_rows"),
        "output": view.get("output", ""), "base": view.get("base"), "seconds": view.get("seconds"),
        "bars": signal_bars(view["signals"], names),
        "summary": summary_plot(view.get("summary") or [], names, words),
        "dependence": [dependence_plot(plot, names, words) for plot in view.get("dependence") or []
                       if _pairs(plot)],
    }}


class SignalNames:
    """A version's signals and features in the type's words."""

    def __init__(self, version: ModelVersion) -> None:
        self.version = version
        self.known = signals_of(version.machine_type.metadata)

    def label(self, signal: str) -> str:
        return self.known[signal][0] if signal in self.known else feature_words(self.version, signal)

    def unit(self, signal: str) -> str:
        return self.known.get(signal, ("", ""))[1]

    def titled(self, signal: str) -> str:
        """"Winding temperature (°C)"."""
        unit = self.unit(signal)
        return f"{self.label(signal)} ({unit})" if unit else self.label(signal)

    def feature(self, feature: str) -> str:
        return feature_words(self.version, feature)


def signal_bars(signals: Sequence[Mapping[str, Any]], names: SignalNames) -> list[dict[str, Any]]:
    """Every signal by its share of the mean |SHAP|, scaled so the strongest fills its track."""
    shares = [float(s.get("importance") or 0) for s in signals]
    strongest = max(shares, default=0.0) or 1.0
    return [{"name": names.label(str(s["signal"])), "signal": s["signal"], "feature": s.get("feature"),
             "share": share_text(share), "width": round(100 * share / strongest, 1)}
            for s, share in zip(signals, shares, strict=True)]


def summary_plot(rows: Sequence[Mapping[str, Any]], names: SignalNames, words: Words) -> dict[str, Any] | None:
    """Beeswarm: one row per signal, a dot per explained window at its SHAP value, stacked where
    dots crowd, coloured by the rank of the signal's reading in that window."""
    values = [v for row in rows for v in row.get("shap") or [] if v is not None]
    if not values:
        return None
    scale = Scale(*padded(values, around_zero=True), SWARM_LEFT, SWARM_WIDTH - SWARM_RIGHT)
    height = SWARM_TOP + SWARM_ROW * len(rows) + SWARM_BOTTOM
    drawn = [_swarm_row(row, i, scale, names) for i, row in enumerate(rows)]
    plot_bottom = SWARM_TOP + SWARM_ROW * len(rows)
    return {"width": SWARM_WIDTH, "height": height, "rows": drawn, "zero": scale.at(0.0), "top": SWARM_TOP,
            "bottom": plot_bottom, "left": SWARM_LEFT, "right": SWARM_WIDTH - SWARM_RIGHT,
            "ticks": scale.ticks(words.unit), "tick_y": plot_bottom + 16, "label_y": plot_bottom + 40,
            "label_x": (SWARM_LEFT + SWARM_WIDTH - SWARM_RIGHT) / 2, "ticks_plain": not words.risk,
            "points": len(values)}


def _swarm_row(row: Mapping[str, Any], index: int, scale: Scale, names: SignalNames) -> dict[str, Any]:
    centre = SWARM_TOP + SWARM_ROW * index + SWARM_ROW / 2
    pairs = [(float(s), r) for s, r in zip(row.get("shap") or [], row.get("rank") or [], strict=False) if s is not None]
    xs = [scale.at(s) for s, _ in pairs]
    offsets = swarm_offsets(xs, limit=SWARM_ROW / 2 - DOT)
    dots = [{"x": x, "y": round(centre + dy, 1), "colour": colour_class(r)} for x, dy, (_, r) in zip(xs, offsets, pairs,
                                                                                                 strict=True)]
    return {"label": names.label(str(row["signal"])), "feature": row.get("feature"), "y": centre,
            "line_y": SWARM_TOP + SWARM_ROW * (index + 1), "dots": dots}


def swarm_offsets(xs: Sequence[float], *, limit: float) -> list[float]:
    """Vertical offsets that stack dots falling within a dot's width of each other, alternating
    above and below the row's centre, squeezed so the most crowded stack fits within `limit`."""
    width = 2 * DOT
    counts: dict[int, int] = {}
    raw = []
    for x in xs:
        column = int(x // width)
        k = counts.get(column, 0)
        counts[column] = k + 1
        raw.append((k + 1) // 2 * (1 if k % 2 else -1) * DOT * 0.9)
    widest = max((abs(o) for o in raw), default=0.0)
    squeeze = min(1.0, limit / widest) if widest else 1.0
    return [o * squeeze for o in raw]


def colour_class(rank: float | None) -> str:
    """q0 (lowest reading) to q5 (highest); qn when the window had no reading."""
    if rank is None:
        return "qn"
    return f"q{min(COLOURS - 1, int(float(rank) * COLOURS))}"


def dependence_plot(plot: Mapping[str, Any], names: SignalNames, words: Words) -> dict[str, Any]:
    """The signal's reading across, its effect up: where the dots climb is where the model starts
    to worry. The axis reads in the signal's unit, not a normalised scale."""
    pairs = _pairs(plot)
    signal, feature = str(plot["signal"]), str(plot.get("feature") or "")
    x = Scale(*padded([p[0] for p in pairs]), PLOT_LEFT, PLOT_WIDTH - PLOT_RIGHT)
    y = Scale(*padded([p[1] for p in pairs], around_zero=True), PLOT_HEIGHT - PLOT_BOTTOM, PLOT_TOP)
    subject = "failure risk" if words.risk else "remaining life"
    return {"signal": signal, "feature": feature, "title": f"How {subject} changes with {names.titled(signal)}",
            "x_label": names.feature(feature), "y_label": words.vertical, "width": PLOT_WIDTH, "height": PLOT_HEIGHT,
            "left": PLOT_LEFT, "right": PLOT_WIDTH - PLOT_RIGHT, "top": PLOT_TOP, "bottom": PLOT_HEIGHT - PLOT_BOTTOM,
            "zero": y.at(0.0), "x_ticks": x.ticks(), "y_ticks": y.ticks(words.unit), "ticks_plain": not words.risk,
            "x_label_y": PLOT_HEIGHT - 8, "x_label_x": (PLOT_LEFT + PLOT_WIDTH - PLOT_RIGHT) / 2,
            "y_label_x": 14, "y_label_y": (PLOT_TOP + PLOT_HEIGHT - PLOT_BOTTOM) / 2,
            "dots": [{"x": x.at(v), "y": y.at(s), "towards": words.towards_failure(s)} for v, s in pairs]}


def _pairs(plot: Mapping[str, Any]) -> list[tuple[float, float]]:
    """(value, SHAP) of the points with a reading."""
    return [(float(v), float(s)) for v, s in zip(plot.get("value") or [], plot.get("shap") or [], strict=False)
            if v is not None and s is not None]
