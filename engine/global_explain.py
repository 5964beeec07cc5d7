"""Global views of a tree model, computed once at training: what it looks at (mean |SHAP| per
feature and per signal), a beeswarm-style summary and dependence points for its top signals.
No Django imports; the result is a small JSON-able dict kept in the bundle's meta.

Every number comes from `engine.attribution.attribute` with a background sample of training rows:
interventional TreeSHAP, which asks "what if this feature took the value of a typical training
row" and so credits only what the model computes from the feature itself. Path-dependent TreeSHAP
(what scoring uses, per prediction) follows the trees' cover instead and, among correlated window
features of one signal (the mean, the maximum and the latest of the same temperature), can credit
a feature the model barely splits on; for a page that ranks signals the interventional answer is
the faithful one. It costs time per explained row and background row, so the samples are small
and sized to the model (`sample_sizes`).

- **Importance**: per feature, its mean |SHAP| over the explained rows; per signal, the mean |sum|
  of its features' SHAP values (a signal's window features add up to the signal's effect on each
  prediction, as the machine page's factors do, and pulls that cancel within a row cancel here
  too). Each as shares summing to 1.
- **Summary** (beeswarm) for the top signals: per explained row, the signal's SHAP value and the
  rank (0-1) of its representative feature's value among the explained rows, for colour.
- **Dependence** for the top few signals: per row, the representative feature's value itself (in
  the signal's unit) and the signal's SHAP value.

A signal's representative feature is its strongest level statistic (mean, maximum, minimum,
latest: these read in the signal's unit), else its strongest feature (a category, a count).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.attribution import attribute
from engine.explain import factor_of, feature_label
from engine.training.learners import LIGHTGBM, TreeModel
from engine.training.search import Blend

Array = np.ndarray
FORMAT = 1
TOP_SUMMARY = 8  # signals in the beeswarm
TOP_DEPENDENCE = 4  # signals with a dependence plot
POINTS = 200  # points per signal, at most
IMPORTANCE_LIMIT = 30  # features in the bundle's "importance" list (the registry's and the API's)
LEVEL_STATISTICS = ("mean", "max", "min", "last")
# Interventional TreeSHAP costs about (explained rows x background rows x trees) tree walks. This
# budget is 200 x 40 rows of a 250-tree model (the onboarding default): about 0.4-0.8 s per model
# on one core of the 2-core reference machine (docs/models.md, "Global explanations").
WORK = 200 * 40 * 250
MAX_ROWS, MIN_ROWS = 500, 100
MAX_BACKGROUND, MIN_BACKGROUND = 100, 20
MIN_EXPLAINED = 20  # fewer held-out rows than this: no global view (the gain ranking stays)


def sample_sizes(model: Any) -> tuple[int, int]:
    """(explained rows, background rows) for this model: five explained rows per background row,
    as many as `WORK` allows for its number of trees, within the floors and caps."""
    pairs = WORK / max(tree_count(model), 1)
    background = int(np.clip(round(math.sqrt(pairs / 5)), MIN_BACKGROUND, MAX_BACKGROUND))
    rows = int(np.clip(round(pairs / background), MIN_ROWS, MAX_ROWS))
    return rows, background


def tree_count(model: Any) -> int:
    """Trees in a `TreeModel` or a `Blend` (all members')."""
    if isinstance(model, Blend):
        return sum(tree_count(member) for member in model.members)
    raw = model.raw if isinstance(model, TreeModel) else model
    if isinstance(model, TreeModel) and model.learner == LIGHTGBM:
        return int(raw.num_trees())
    return int(raw.num_boosted_rounds())


def sample(rows: Array, size: int, *, seed: int) -> Array:
    """Up to `size` of these row indexes, sorted, drawn without replacement."""
    rows = np.asarray(rows)
    if len(rows) <= size:
        return rows
    return np.sort(np.random.default_rng(seed).choice(rows, size, replace=False))


def held_out_explanation(model: Any, features: Array, *, held_out: Array, trained: Array, names: Sequence[str],
                         output: str, seed: int = 0) -> dict[str, Any] | None:
    """`global_explanation` of a sample of the `held_out` rows of `features` (machines the model
    never saw) against a sample of the rows it `trained` on, sized by `sample_sizes`, with the
    seconds it took. None when fewer than `MIN_EXPLAINED` rows are held out (a small real
    dataset): the caller keeps the gain ranking."""
    started = time.perf_counter()
    rows, background = sample_sizes(model)
    explained = sample(np.flatnonzero(held_out), rows, seed=seed)
    reference = sample(np.flatnonzero(trained), background, seed=seed + 1)
    if len(explained) < MIN_EXPLAINED or len(reference) == 0:
        return None
    found = global_explanation(model, features[explained], features[reference], names=names, output=output,
                               seed=seed)
    return {**found, "seconds": round(time.perf_counter() - started, 3)}


def global_explanation(model: Any, rows: Array, background: Array, *, names: Sequence[str], output: str,
                       seed: int = 0) -> dict[str, Any]:
    """The global views of `model` (a `TreeModel` or a `Blend`) from SHAP values of `rows`
    (held-out, explained) against `background` (training rows). `output` says what the values
    add up to ("log-odds of failure within the horizon", "hours of remaining life")."""
    names = list(names)
    found = attribute(model, rows, names=names, output=output, background=background)
    signals = [factor_of(name) for name in names]
    per_signal = _by_signal(found.values, signals)  # signal -> its SHAP value in each row
    feature_strength = np.abs(found.values).mean(axis=0)
    signal_strength = {s: float(np.abs(v).mean()) for s, v in per_signal.items()}
    total = sum(signal_strength.values()) or 1.0
    ranked = sorted((s for s, v in signal_strength.items() if v > 0), key=lambda s: -signal_strength[s])
    chosen = {s: _representative(s, names, signals, feature_strength) for s in ranked}
    shown = sample(np.arange(len(rows)), POINTS, seed=seed)
    return {
        "format": FORMAT, "method": "interventional TreeSHAP", "output": output,
        "base": _round(float(np.mean(found.base))), "rows": len(rows), "background_rows": len(background),
        "features": _shares(names, feature_strength),
        "signals": [{"signal": s, "feature": names[chosen[s]], "importance": _round(signal_strength[s] / total, 5),
                     "mean_abs": _round(signal_strength[s])} for s in ranked],
        "summary": [{"signal": s, "feature": names[chosen[s]], "shap": _points(per_signal[s][shown]),
                     "rank": _rounded(_ranks(rows[:, chosen[s]])[shown], 2)} for s in ranked[:TOP_SUMMARY]],
        "dependence": [{"signal": s, "feature": names[chosen[s]], "value": _points(rows[shown, chosen[s]]),
                        "shap": _points(per_signal[s][shown])} for s in ranked[:TOP_DEPENDENCE]],
    }


def _by_signal(values: Array, signals: Sequence[str]) -> dict[str, Array]:
    """(rows, features) SHAP values summed over each signal's features (SHAP values add)."""
    return {s: values[:, [i for i, own in enumerate(signals) if own == s]].sum(axis=1) for s in dict.fromkeys(signals)}


def importance_items(explanation: dict[str, Any], *, limit: int = IMPORTANCE_LIMIT) -> list[dict[str, Any]]:
    """The explanation's feature ranking in the shape `engine.explain.global_importance` gives
    (the bundle's "importance": the registry and the API read it), strongest first."""
    return [{"feature": item["feature"], "label": feature_label(item["feature"]), "signal": factor_of(item["feature"]),
             "importance": item["importance"]} for item in explanation["features"][:limit]]


def _shares(names: Sequence[str], strength: Array) -> list[dict[str, Any]]:
    total = float(strength.sum()) or 1.0
    order = np.argsort(-strength, kind="stable")
    shares = [(names[i], _round(strength[i] / total, 5)) for i in order]
    return [{"feature": name, "importance": share} for name, share in shares if share]  # under 0.000005: left out


def _representative(signal: str, names: Sequence[str], signals: Sequence[str], strength: Array) -> int:
    """The signal's strongest level statistic, else its strongest feature (module docstring)."""
    members = [i for i, s in enumerate(signals) if s == signal]
    levels = [i for i in members if _statistic(names[i]) in LEVEL_STATISTICS]
    return max(levels or members, key=lambda i: strength[i])


def _statistic(name: str) -> str:
    """`vib__max_24` -> "max"; "" for a feature that is not a window statistic."""
    if "__" not in name:
        return ""
    stat, _, window = name.split("__", 1)[1].rpartition("_")
    return stat if window.isdigit() else ""


def _ranks(values: Array) -> Array:
    """Each value's rank among the finite ones, 0 (lowest) to 1 (highest); NaN stays NaN. Ties
    share their mean rank."""
    out = np.full(len(values), np.nan)
    finite = np.flatnonzero(np.isfinite(values))
    if len(finite) == 0:
        return out
    if len(finite) == 1:
        out[finite] = 0.5
        return out
    sorted_values = np.sort(values[finite])
    low = np.searchsorted(sorted_values, values[finite], side="left")
    high = np.searchsorted(sorted_values, values[finite], side="right") - 1
    out[finite] = (low + high) / 2 / (len(finite) - 1)
    return out


def _round(value: float, decimals: int | None = None) -> float | None:
    """Four significant digits, or `decimals` decimals (shares, ranks); None for NaN or infinity
    (a rank of a missing value: drawn grey)."""
    if not math.isfinite(value):
        return None
    return round(float(value), decimals) if decimals is not None else float(f"{value:.4g}")


def _rounded(values: Array, decimals: int | None = None) -> list[float | None]:
    return [_round(float(v), decimals) for v in values]


def _points(values: Array) -> list[float | None]:
    """A plot's coordinates: three significant digits draw the same picture at a fraction of the
    size (the points live in the bundle's meta JSON and the registry's row)."""
    return [float(f"{v:.3g}") if math.isfinite(v) else None for v in values.astype(float)]
