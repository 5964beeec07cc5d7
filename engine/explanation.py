"""The explanation every prediction carries (docs/models.md, "The explanation contract"), built from
the models' SHAP values (`engine.attribution`). No Django imports.

Per scored row:
- `top_factors`: the signals that weigh most on the failure risk, each with its reading and unit,
  `contribution` = its share of the total |attribution| (shares over all signals sum to 1) and
  `shap` = its raw value (log-odds, summed over the signal's window features); `rul_factors`,
  `anomaly_factors` and, for a predicted failure, `mode_factors` in the same shape, for the
  remaining life (hours), the anomaly score and the failure mode.
- `recommendation`: the failure mode's action when a failure is predicted, else what to watch;
  `confidence`: "high", "medium" or "low"; `similar_past_cases`: how many past failures look like
  this window, with the nearest in `similar_cases`.
- `rule`: a local rule in sensor units (`engine.local_rule`); `temporal`: attributions per signal
  and step of the window (`engine.temporal`), for the latest step of each machine.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from engine.attribution import attribute
from engine.bundles import RUL
from engine.explain import confidence_level
from engine.factors import Readings, SignalAttribution, factor_lists
from engine.features import window_steps
from engine.local_rule import RuleSignal, level_columns, local_rules
from engine.metadata import MachineTypeSchema
from engine.temporal import recent_share, temporal_attribution
from engine.training.classifier import column_numpy

if TYPE_CHECKING:
    from engine.scoring import ModelSet

Array = np.ndarray
SIMILAR_CASES = 3
RULE_SIGNALS = 3  # the most influential signals a local rule may name
TEMPORAL_SIGNALS = 6  # rows of the heatmap
RUL_OUTPUT = "hours of remaining life"
# A batch's TreeSHAP on every core: it is the whole of its request's work and SHAP is ~20x the cost
# of scoring; a machine's latest step (the API's single prediction) stays on one thread.
BATCH_THREADS = os.cpu_count() or 1


@dataclass(frozen=True)
class Inputs:
    """What an explanation reads besides the classifier's matrix: the frame rows scored, the RUL
    model's and the detector's own matrices (the classifier's when they share features)."""

    frame: pa.Table
    positions: Array
    rul_matrix: Array | None
    anomaly_matrix: Array | None
    latest: bool  # each machine's latest step: add the rule for every row and the time heatmap


def explain_rows(models: ModelSet, out: list[dict[str, Any]], matrix: Array, inputs: Inputs) -> None:
    """Add `explanation` to each scored row of `out` (rows of `matrix`, in order)."""
    clf = models.classifier
    schema = models.schema
    threads = 1 if inputs.latest else BATCH_THREADS
    risk = SignalAttribution.of(attribute(clf.booster, matrix, names=clf.feature_names, threads=threads))
    readings = Readings.at(schema, inputs.frame, inputs.positions)
    top = factor_lists(risk, readings, matrix, directions=("raises risk", "lowers risk"))
    # The remaining life's own SHAP values cost several times the classifier's (deeper trees): in a
    # batch, only where a failure is predicted, the rows whose remaining life someone will read.
    # A remaining life at the model's cap ("beyond N days, no sign of wear") has nothing shortening it.
    worn = [i for i, item in enumerate(out) if (inputs.latest or item["prediction"]) and item["rul_beyond_h"] is None]
    rul = _rul_factors(models, inputs, readings, worn)
    anomaly = _anomaly_factors(models, inputs, readings)
    unusual = _unusual(models, inputs, len(out))
    modes = _mode_factors(models, out, matrix, readings)
    similar, counts = _similar(models, matrix)
    temporal = _temporal(models, risk, inputs) if inputs.latest else None
    horizon = horizon_words(clf.horizon_h, models.time_unit)
    rules = _rules(models, out, matrix, risk, readings, inputs, horizon)
    actions = {mode.name: mode.document for mode in schema.failure_modes}
    for row, item in enumerate(out):
        mode = actions.get(item["failure_mode"], {})
        item["explanation"] = {
            "top_factors": top[row], "other_signals_share": _rest(top[row]),
            "shap_base": round(float(risk.attribution.base[row]), 4), "shap_output": risk.attribution.output,
            "recommendation": recommendation(item, top[row], mode, horizon),
            "failure_mode_label": mode.get("label", ""),
            "confidence": confidence_level(item["confidence"]), "confidence_value": item["confidence"],
            "similar_past_cases": int(counts[row]), "similar_cases": similar[row],
            "rule": rules.get(row),
            "rul_factors": rul.get(row, []), "anomaly_factors": anomaly[row], "mode_factors": modes.get(row, []),
            "unusual_signals": unusual[row],
            "time_unit": models.time_unit,  # of similar_cases' hours_before_failure and the forecast's steps
        }
        if temporal is not None:
            item["explanation"]["temporal"] = temporal[row]


def horizon_words(hours: float, unit: str) -> str:
    """The horizon in words: "7 days", "24 h", "20 cycles"."""
    if unit != "h":
        return f"{hours:g} {unit}"
    return f"{hours / 24:.3g} days" if hours >= 48 else f"{hours:g} h"


def recommendation(item: Mapping[str, Any], factors: Sequence[Mapping[str, Any]], mode: Mapping[str, Any],
                   horizon: str) -> str:
    """What to do: the failure mode's action when a failure is predicted, else what to watch."""
    raising = [f for f in factors if f["shap"] > 0]
    if item["prediction"]:
        action = str(mode.get("recommended_action") or "")
        if action or not raising:
            return action or "Inspect the machine: a failure is likely within " + horizon + "."
        return f"Inspect the machine: {_reading_words(raising[0])} weighs most on the risk."
    if not raising:
        return f"No failure expected within {horizon}; no signal stands out. Keep the usual inspections."
    return (f"No failure expected within {horizon}. Watch {_reading_words(raising[0])}: "
            "it weighs most on the risk now.")


def _reading_words(factor: Mapping[str, Any]) -> str:
    value = factor.get("value")
    if isinstance(value, float):
        unit = f" {factor['unit']}" if factor.get("unit") else ""
        return f"{factor['label']} ({value:.4g}{unit})"
    return f"{factor['label']} ({value})" if value is not None else str(factor["label"])


def _rest(factors: Sequence[Mapping[str, Any]]) -> float:
    shown = sum(f["contribution"] for f in factors)
    return round(max(0.0, 1.0 - shown), 4) if factors else 0.0


def _rul_factors(models: ModelSet, inputs: Inputs, readings: Readings,
                 rows: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    bundle = models.bundles.get(RUL)
    if bundle is None or inputs.rul_matrix is None or not rows:
        return {}
    result = bundle.model
    matrix = inputs.rul_matrix[list(rows)]
    signals = SignalAttribution.of(attribute(result.booster, matrix, names=result.feature_names, output=RUL_OUTPUT,
                                             threads=1 if inputs.latest else BATCH_THREADS))
    lists = factor_lists(signals, readings.subset(rows), matrix,
                         directions=("lengthens the remaining life", "shortens the remaining life"))
    return dict(zip(rows, lists, strict=True))


def _anomaly_factors(models: ModelSet, inputs: Inputs, readings: Readings) -> list[list[dict[str, Any]]]:
    detector = models.detector()
    if detector is None or inputs.anomaly_matrix is None:
        return [[] for _ in range(len(inputs.positions))]
    signals = SignalAttribution.of(attribute(detector, inputs.anomaly_matrix))
    return factor_lists(signals, readings, inputs.anomaly_matrix,
                        directions=("makes it look unusual", "makes it look normal"))


def _unusual(models: ModelSet, inputs: Inputs, rows: int) -> list[list[dict[str, Any]]]:
    """The detector's most deviating signals by robust z (what alerts name: maintenance's evidence)."""
    detector = models.detector()
    if detector is None or inputs.anomaly_matrix is None:
        return [[] for _ in range(rows)]
    explained = detector.explain(inputs.anomaly_matrix, top=3)
    return [[{**signal, "z": round(signal["z"], 2)} for signal in row] for row in explained]


def _mode_factors(models: ModelSet, out: Sequence[Mapping[str, Any]], matrix: Array,
                  readings: Readings) -> dict[int, list[dict[str, Any]]]:
    """For rows predicted to fail: the signals that point to the failure mode named."""
    clf = models.classifier
    rows = [i for i, item in enumerate(out) if item["failure_mode"] in clf.mode_names]
    if clf.mode_booster is None or not rows:
        return {}
    classes = np.array([clf.mode_names.index(out[i]["failure_mode"]) for i in rows])
    signals = SignalAttribution.of(attribute(clf.mode_booster, matrix[rows], names=clf.feature_names,
                                             output="log-odds of this failure mode", classes=classes))
    lists = factor_lists(signals, readings.subset(rows), matrix[rows],
                         directions=("points to this mode", "points away from it"))
    return dict(zip(rows, lists, strict=True))


def _similar(models: ModelSet, matrix: Array) -> tuple[list[list[dict[str, Any]]], Array]:
    cases = models.case_base()
    if cases is None:
        return [[] for _ in range(len(matrix))], np.zeros(len(matrix), np.int64)
    return cases.combined(models.real_cases).similar(matrix, k=SIMILAR_CASES)


def _rules(models: ModelSet, out: Sequence[Mapping[str, Any]], matrix: Array, risk: SignalAttribution,
           readings: Readings, inputs: Inputs, horizon: str) -> dict[int, dict[str, Any] | None]:
    """Local rules for every row of a machine's latest step, for the predicted failures of a batch
    (a rule costs SAMPLES model calls)."""
    clf = models.classifier
    rows = [i for i, item in enumerate(out) if inputs.latest or item["prediction"]]  # as the RUL factors
    order = risk.ranked(len(risk.groups))  # once for the chunk, not once per row
    regimes = _regimes_at(clf.spec, inputs)
    candidates = [_rule_signals(clf, risk.groups, order[row], readings, regimes, row) for row in rows]
    rules = local_rules(clf.predict_proba, matrix[rows], candidates, threshold=clf.threshold, horizon=horizon)
    return dict(zip(rows, rules, strict=True))


def _rule_signals(clf: Any, groups: Sequence[str], order: Array, readings: Readings, regimes: Array | None,
                  row: int) -> list[RuleSignal]:
    """The numeric signals weighing most on the row's risk (`order`: its groups by share), as a
    rule may name them."""
    candidates = []
    for g in order:
        group = groups[g]
        signal = readings.schema.by_name.get(group)
        if signal is None or signal.kind != "numeric" or group not in readings.values:
            continue
        reading = float(readings.values[group][row])
        candidates.append(RuleSignal(group, signal.label, signal.unit, level_columns(group, clf.feature_names),
                                     reading, _shift_width(signal.ranges, reading),
                                     _regime_scale(clf.spec, group, regimes, row)))
        if len(candidates) == RULE_SIGNALS:
            break
    return candidates


def _shift_width(ranges: Mapping[str, tuple[float, float]] | None, reading: float) -> float:
    """Half the normal range; without one, a fifth of the reading (1 for a reading of 0)."""
    if ranges is not None and "normal" in ranges:
        low, high = ranges["normal"]
        if high > low:
            return (high - low) / 2.0
    return abs(reading) * 0.2 if np.isfinite(reading) and reading != 0 else 1.0


def _regimes_at(spec: Any, inputs: Inputs) -> Array | None:
    """The operating regime of each scored row, where the features scale signals within one."""
    regimes = spec.regimes
    if regimes is None or not regimes.signals:
        return None
    columns = {s: column_numpy(inputs.frame, s)[inputs.positions].astype(np.float64) for s in regimes.settings}
    return regimes.assign(columns) if columns else np.zeros(len(inputs.positions), np.int64)


def _regime_scale(spec: Any, signal: str, regimes: Array | None, row: int) -> float:
    """1 / the spread of the row's operating regime for a signal the features scale within it."""
    if regimes is None or signal not in spec.regimes.signals:
        return 1.0
    spread = float(spec.regimes.spreads[int(regimes[row])][spec.regimes.signals.index(signal)])
    return 1.0 / spread if spread > 0 else 1.0


def _temporal(models: ModelSet, risk: SignalAttribution, inputs: Inputs) -> list[dict[str, Any]]:
    clf = models.classifier
    steps = max(clf.spec.windows)
    windows, hours = window_steps(inputs.frame, signals=clf.signals, spec=clf.spec, rows=inputs.positions,
                                  steps=steps)
    spread = temporal_attribution(risk.attribution.values, clf.feature_names, clf.signals, clf.spec, windows, hours)
    group = {g: i for i, g in enumerate(risk.groups)}
    out = []
    for row in range(len(spread)):
        ago = hours[row, -1] - hours[row]
        order = sorted(range(len(clf.signals)), key=lambda s: -risk.shares[row, group[clf.signals[s]]])
        chosen = order[:TEMPORAL_SIGNALS]
        out.append({
            "steps_ago": list(range(steps - 1, -1, -1)),
            "hours_ago": [None if not np.isfinite(h) else round(float(h), 3) for h in ago],
            "signals": [_temporal_signal(models.schema, clf.signals[s], spread[row, s]) for s in chosen],
            "summary": _temporal_summary(spread[row], ago, models.step_hours, models.time_unit),
            "output": risk.attribution.output,
        })
    return out


def _temporal_signal(schema: MachineTypeSchema, name: str, values: Array) -> dict[str, Any]:
    signal = schema.by_name.get(name)
    return {"signal": name, "label": signal.label if signal else name, "unit": signal.unit if signal else "",
            "attribution": [round(float(v), 5) for v in values], "total": round(float(values.sum()), 5)}


def _temporal_summary(spread: Array, ago: Array, step_hours: float, unit: str) -> str:
    """A sentence like "The last 6 h carry 72% of what drove this prediction."."""
    finite = np.nan_to_num(ago, nan=np.inf)
    shares = recent_share(spread, finite)
    for hours_back, share in shares:
        if share >= 0.5:
            span = hours_back + step_hours
            if not np.isfinite(span):
                break
            return f"The last {span_words(span, unit)} carry {share:.0%} of what drove this prediction."
    return ""


def span_words(span: float, unit: str) -> str:
    """A stretch of the window in words: "6 h", "4 days" (from 96 h, where the machine page's
    heatmap axis turns to days: predictions.web_format), "20 cycles"."""
    if unit == "h" and span >= 96:
        return f"{span / 24:.3g} days"
    return f"{span:.3g} {unit}"
