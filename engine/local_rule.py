"""A rule per prediction in sensor units: "IF winding temperature > 140 °C AND bearing vibration >
8 mm/s THEN 85% chance of failure within 7 days", with how far it can be trusted. No Django imports.

The rule comes from a local surrogate around the prediction (the Anchors flavour of LIME): the
window is perturbed many times by moving the levels of its most influential signals (each shift
moves the signal's level statistics — mean, minimum, maximum, latest, change from baseline — and
leaves its spread and trend alone, exactly as shifting the readings would), the model scores every
perturbed window, and conditions on the signals' latest readings are added greedily, each the one
under which the model most often keeps the verdict it gave. The rule therefore always holds on the
prediction it explains and states that prediction's verdict; its `fidelity` is the share of the
perturbed windows inside the conditions where the model agrees (precision, in Anchors' words), its
`coverage` the share of perturbed windows inside them, and its probability the model's mean
probability there. Shifts are drawn within half a signal's normal range either side (its typical
spread when the type gives no range), so the neighbourhood is one a machine can move through.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Array = np.ndarray
SAMPLES = 128  # perturbed windows per explained row
MAX_CONDITIONS = 3
ENOUGH = 0.95  # stop adding conditions at this fidelity
STEPS = (0.1, 0.25, 0.5, 1.0)  # thresholds at these fractions of the shift width from the reading
LEVEL_STATISTICS = ("mean", "min", "max", "last")


@dataclass(frozen=True)
class RuleSignal:
    """A signal a rule may name: its level features, its reading now and its shift width, both in
    sensor units, and how a sensor-unit shift maps to its features (1, or 1 / the regime's spread)."""

    name: str
    label: str
    unit: str
    columns: list[int]
    reading: float
    width: float
    scale: float = 1.0


def level_columns(signal: str, names: Sequence[str]) -> list[int]:
    """The features a shift of the signal's readings moves by the same amount."""
    return [i for i, name in enumerate(names)
            if name == f"{signal}__change" or (name.startswith(f"{signal}__")
                                               and name[len(signal) + 2:].rpartition("_")[0] in LEVEL_STATISTICS)]


def local_rules(predict: Callable[[Array], Array], rows: Array, candidates: Sequence[Sequence[RuleSignal]], *,
                threshold: float, horizon: str, seed: int = 0) -> list[dict[str, Any] | None]:
    """The rule of each (features,) row of `rows`; `predict` gives failure probabilities of a
    matrix; `candidates[i]`: the signals row i's rule may name, most influential first; `horizon` in
    words ("7 days"). The perturbed windows of all rows are scored in one call: a booster call has
    a fixed cost far above a row's."""
    usable = [[s for s in signals if np.isfinite(s.reading) and s.width > 0 and s.columns] for signals in candidates]
    rng = np.random.default_rng(seed)
    shifts = [rng.uniform(-1.0, 1.0, (SAMPLES, len(u))) * np.array([s.width for s in u]) for u in usable]
    samples = np.repeat(np.asarray(rows, np.float32), SAMPLES, axis=0)
    for i, signals in enumerate(usable):
        shifts[i][0] = 0.0  # the prediction itself is one of the windows
        block = samples[i * SAMPLES:(i + 1) * SAMPLES]
        for j, signal in enumerate(signals):
            block[:, signal.columns] += (shifts[i][:, j] * signal.scale)[:, None].astype(np.float32)
    probability = np.asarray(predict(samples), np.float64).reshape(len(usable), SAMPLES) if len(usable) else None
    return [_rule(probability[i], shifts[i], signals, threshold, horizon) if signals and probability is not None
            else None for i, signals in enumerate(usable)]


def _rule(probability: Array, shifts: Array, signals: Sequence[RuleSignal], threshold: float,
          horizon: str) -> dict[str, Any]:
    failure = bool(probability[0] >= threshold)
    agrees = (probability >= threshold) == failure
    levels = np.array([s.reading for s in signals]) + shifts
    chosen = _anchor(levels, agrees, signals)
    inside = np.ones(len(levels), bool)
    for j, op, cut in chosen:
        inside &= _holds(levels[:, j], op, cut)
    conditions = [_condition(signals[j], op, cut) for j, op, cut in chosen]
    chance = float(probability[inside].mean())
    text = f"IF {' AND '.join(c['text'] for c in conditions)} THEN {chance:.0%} chance of failure within {horizon}"
    return {"text": text, "conditions": conditions, "outcome": "failure" if failure else "normal",
            "probability": round(chance, 3), "fidelity": round(float(agrees[inside].mean()), 3),
            "coverage": round(float(inside.mean()), 3), "method": "local surrogate (anchors)"}


def _anchor(levels: Array, agrees: Array, signals: Sequence[RuleSignal]) -> list[tuple[int, str, float]]:
    """Greedy: add the condition that keeps the verdict most often (then covers most), up to
    MAX_CONDITIONS, stopping once ENOUGH of the windows inside agree. Every candidate condition is
    one column of a (windows, candidates) mask, so each round is a few array operations."""
    candidates = [(j, op, s.reading - step * s.width if op == ">" else s.reading + step * s.width)
                  for j, s in enumerate(signals) for step in STEPS for op in (">", "<=")]
    column = np.array([j for j, _, _ in candidates])
    cuts = np.array([cut for _, _, cut in candidates])
    above = np.array([op == ">" for _, op, _ in candidates])
    level = levels[:, column]
    masks = np.where(above, level > cuts, level <= cuts)  # (windows, candidates)
    chosen: list[tuple[int, str, float]] = []
    inside = np.ones(len(levels), bool)
    for _ in range(min(MAX_CONDITIONS, len(signals))):
        within = masks & inside[:, None]
        count = within.sum(axis=0)
        precision = np.where(count > 0, (within & agrees[:, None]).sum(axis=0) / np.maximum(count, 1), -1.0)
        precision[np.isin(column, [j for j, _, _ in chosen])] = -2.0  # one condition per signal
        best = int(np.lexsort((count, precision))[-1])  # highest precision, then the most covered
        if precision[best] < 0:  # every candidate used or empty (the prediction itself is always inside)
            break
        chosen.append(candidates[best])
        inside &= masks[:, best]
        if precision[best] >= ENOUGH:
            break
    return chosen


def _holds(level: Array, op: str, cut: float) -> Array:
    return level > cut if op == ">" else level <= cut


def _condition(signal: RuleSignal, op: str, cut: float) -> dict[str, Any]:
    shown = _rounded(cut, up=op == "<=")
    unit = f" {signal.unit}" if signal.unit else ""
    return {"signal": signal.name, "label": signal.label, "op": op, "value": shown, "unit": signal.unit,
            "text": f"{signal.label} {op} {shown:g}{unit}"}


def _rounded(value: float, *, up: bool) -> float:
    """Three significant digits, rounded away from the reading so the condition still holds on it."""
    if value == 0 or not np.isfinite(value):
        return float(value)
    step = 10.0 ** (np.floor(np.log10(abs(value))) - 2)
    return float(f"{(np.ceil(value / step) if up else np.floor(value / step)) * step:.4g}")
