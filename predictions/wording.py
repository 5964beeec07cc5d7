"""How the pages word what the models store: feature names, signals, failure modes and numbers in
the maintenance engineer's terms ("Outlet flow variability (l/min, last 12 h)" for
`flow_l_min__std_24`), with the machine type's own labels and units and a sensible rounding.

The raw names stay in the stored JSON and behind the pages' "Advanced" toggle (docs/web.md,
"Maintenance language first"). Pure functions of the type's metadata document; no Django imports.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from engine.features import MAINTENANCE_FEATURE, RUN_AGE_FEATURE

# The window statistics of engine.features.STATISTICS as a person says them.
STAT_WORDS = {"mean": "average", "std": "variability", "min": "lowest", "max": "highest", "last": "latest",
              "slope": "trend", "delta": "change from its average"}
# Statistics whose value is in the signal's own unit (a trend is per step, a count of nothing).
_IN_SIGNAL_UNIT = {"mean", "std", "min", "max", "last", "delta"}
ZONE_WORDS = {"normal": "normal range", "warning": "warning range", "critical": "critical range",
              "implausible": "outside any plausible range: check the sensor"}
# explain.feature_label's wording ("vib trend over 24 steps"), as stored in rule texts.
_STORED_LABEL = re.compile(r"\b([A-Za-z0-9_]+) (mean|spread|minimum|maximum|latest|trend|change from mean) "
                           r"over (\d+) steps\b")
_STORED_STAT = {"mean": "mean", "spread": "std", "minimum": "min", "maximum": "max", "latest": "last",
                "trend": "slope", "change from mean": "delta"}


def signals_of(document: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Signal name -> (label, unit) for the type's sensors and derived signals."""
    found = {}
    for signal in [*(document.get("sensors") or []), *(document.get("derived_signals") or [])]:
        name = str(signal.get("name", ""))
        found[name] = (str(signal.get("label") or name.replace("_", " ")), str(signal.get("unit") or ""))
    return found


def signal_text(name: str, document: Mapping[str, Any]) -> str:
    """A signal by its label: `flow_l_min` -> "Outlet flow"."""
    return signals_of(document).get(name, (name.replace("_", " "), ""))[0]


def number_text(value: float | int | None, unit: str = "") -> str:
    """A reading rounded to what it can mean, with its unit: 141.2324 -> "141", 14.127 ->
    "14.1", 3.14159 -> "3.14", 0.012345 -> "0.0123", 1234.5 -> "1,235"; "—" when unknown."""
    if value is None or isinstance(value, bool) or not math.isfinite(float(value)):
        return "—"
    size = abs(float(value))
    if size >= 100 or size == 0:
        shown = f"{value:,.0f}"
    else:  # three significant digits, never scientific notation
        decimals = max(0, 2 - math.floor(math.log10(size)))
        shown = f"{value:.{decimals}f}"
        shown = shown.rstrip("0").rstrip(".") if "." in shown else shown
    if not unit:
        return shown
    return f"{shown}{unit}" if unit == "%" else f"{shown} {unit}"


def share_text(fraction: float | None) -> str:
    """A share as a percentage a person compares: 0.906 -> "91%", 0.0174 -> "1.7%", 0.00004 ->
    "under 0.1%"; "—" when unknown."""
    if fraction is None or not math.isfinite(fraction):
        return "—"
    percent = 100 * fraction
    if percent == 0 or percent >= 10:
        return f"{percent:.0f}%"
    if percent < 0.1:
        return "under 0.1%"
    return f"{percent:.1f}".removesuffix(".0") + "%"


def window_text(steps: int, step_hours: float | None, unit: str = "h") -> str:
    """A feature window as time: 24 steps of 0.5 h -> "12 h"; of a cycle model -> "24 cycles";
    "24 readings" when the model's step is not known."""
    if unit == "cycles":
        return f"{steps} cycle" if steps == 1 else f"{steps} cycles"
    if not step_hours:
        return f"{steps} reading" if steps == 1 else f"{steps} readings"
    hours = steps * step_hours
    if hours < 1:
        return f"{hours * 60:.0f} min"
    return f"{number_text(hours)} h" if hours < 48 else f"{number_text(hours / 24)} days"


def feature_text(feature: str, document: Mapping[str, Any], *, step_hours: float | None = None,
                 unit: str = "h") -> str:
    """A model feature as evidence a person reads: `flow_l_min__std_24` -> "Outlet flow variability
    (l/min, last 12 h)"; `grade__H` -> "Grade = H"; the run and maintenance features in words."""
    if feature == MAINTENANCE_FEATURE:
        return "Time since the last maintenance"
    if feature == RUN_AGE_FEATURE:
        return "Running time since the last repair"
    signals = signals_of(document)
    if "__" not in feature:
        return signals.get(feature, (feature.replace("_", " ").capitalize(), ""))[0]
    signal, rest = feature.split("__", 1)
    label, signal_unit = signals.get(signal, (signal.replace("_", " ").capitalize(), ""))
    if rest == "change":
        return f"{label} change since the last repair" + (f" ({signal_unit})" if signal_unit else "")
    stat, _, window = rest.rpartition("_")
    if stat in STAT_WORDS and window.isdigit():
        details = [signal_unit] if signal_unit and stat in _IN_SIGNAL_UNIT else []
        details.append(f"last {window_text(int(window), step_hours, unit)}")
        return f"{label} {STAT_WORDS[stat]} ({', '.join(details)})"
    return f"{label} = {rest}"  # a category of a categorical sensor


def stored_label_text(text: str, document: Mapping[str, Any], *, step_hours: float | None = None,
                      unit: str = "h") -> str:
    """A text worded with the models' feature labels ("flow_l_min spread over 24 steps > 3.1",
    the stored rule) with each label as `feature_text` words it."""
    def reword(match: re.Match[str]) -> str:
        feature = f"{match[1]}__{_STORED_STAT[match[2]]}_{match[3]}"
        return feature_text(feature, document, step_hours=step_hours, unit=unit)

    return _STORED_LABEL.sub(reword, text)


def zone_text(zone: str | None) -> str:
    return ZONE_WORDS.get(zone or "", "")


def deviation_text(z: float | None) -> str:
    """How far from this machine's normal a robust z-score is, in words."""
    if z is None or not math.isfinite(z):
        return "unusual"
    side = "above" if z > 0 else "below"
    size = abs(z)
    return f"far {side} normal" if size >= 6 else f"well {side} normal" if size >= 3 else f"{side} normal"
