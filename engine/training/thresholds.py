"""Binary decisions: a threshold's metrics, and the threshold chosen under a false-positive limit.

Shared by the failure classifier (its decision threshold) and the model search (which scores a
candidate classifier at the threshold it would get). No Django imports.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

Array = np.ndarray


def binary_metrics(y: Array, scores: Array, predicted: Array) -> dict[str, float]:
    y, predicted = np.asarray(y, bool), np.asarray(predicted, bool)
    tp = float(np.sum(y & predicted))
    fp = float(np.sum(~y & predicted))
    fn = float(np.sum(y & ~predicted))
    tn = float(np.sum(~y & ~predicted))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    both = len(np.unique(y)) == 2
    return {
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "precision": precision,
        "recall": recall,
        "fpr": fp / (fp + tn) if fp + tn else 0.0,
        "roc_auc": float(roc_auc_score(y, scores)) if both else float("nan"),
        "pr_auc": float(average_precision_score(y, scores)) if both else float("nan"),
        "positive_rate": float(y.mean()) if len(y) else float("nan"),
        "rows": float(len(y)),
    }


def choose_threshold(y: Array, scores: Array, *, max_fpr: float = 0.05) -> tuple[float, str]:
    """The validation threshold with the best F1 among those with FPR <= max_fpr (predict positive
    when score >= threshold); falls back to the lowest-FPR threshold, with a note."""
    y = np.asarray(y, bool)
    if not y.any() or y.all():
        return 0.5, "validation rows hold a single class; threshold left at 0.5"
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], y[order]
    tp, fp = np.cumsum(t), np.cumsum(~t)
    last = np.r_[s[1:] != s[:-1], True]  # the last row of each group of equal scores
    tp, fp, candidates = tp[last], fp[last], s[last]
    fpr = fp / (~y).sum()
    precision = tp / (tp + fp)
    recall = tp / y.sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.nan_to_num(2 * precision * recall / (precision + recall))
    ok = fpr <= max_fpr
    if ok.any():
        best = int(np.argmax(np.where(ok, f1, -1.0)))
        note = "" if f1[best] > 0 else f"no threshold with validation FPR <= {max_fpr:g} catches a positive"
        return float(candidates[best]), note
    lowest = int(np.argmin(fpr))
    return float(candidates[lowest]), (
        f"no threshold kept the validation FPR <= {max_fpr:g}; used the lowest-FPR one ({fpr[lowest]:.3f})"
    )
