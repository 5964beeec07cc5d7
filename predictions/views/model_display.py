"""How the model pages show a version's stored JSON: its kind in words, what it does and how
well, its key and full metrics beside the trivial baseline's, the held-out confusion matrix, how
a searched model was chosen, and its strongest features. No view here: only shaping for display.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.frames import time_unit_of
from predictions.models import ModelVersion
from predictions.web_format import duration_text
from predictions.wording import feature_text, share_text

K = ModelVersion.Kind
# The few held-out numbers that tell versions of a kind apart, in the order people compare them.
KEY_METRICS: dict[str, list[tuple[str, str]]] = {
    K.FAILURE_CLASSIFIER: [("f1", "F1"), ("precision", "Precision"), ("recall", "Recall"), ("fpr", "FPR"),
                           ("roc_auc", "ROC-AUC")],
    K.RUL_REGRESSOR: [("rmse", "RMSE h"), ("mae", "MAE h"), ("r2", "R²"), ("coverage", "Coverage")],
    K.ANOMALY_DETECTOR: [("roc_auc", "ROC-AUC"), ("fpr", "FPR"), ("detection_rate", "Detection")],
}
TOP_FEATURES = 15
# Django derives "Rul Regressor" from the enum name; people read these.
KIND_LABELS: dict[str, str] = {K.FAILURE_CLASSIFIER: "Failure classifier", K.RUL_REGRESSOR: "RUL regressor",
               K.ANOMALY_DETECTOR: "Anomaly detector", K.SENSOR_FORECASTER: "Sensor forecaster",
               K.OBSERVATION_CLASSIFIER: "Observation classifier"}
# Names of the metrics people know by another spelling; the rest show as stored.
METRIC_LABELS = {name: label for metrics in KEY_METRICS.values() for name, label in metrics} | {
    "pr_auc": "PR-AUC", "rows": "Held-out rows", "positive_rate": "Positive rate", "threshold": "Threshold",
    "horizon_h": "Horizon h", "interval_width_h": "Interval width h", "cap_h": "Cap h",
}


@dataclass(frozen=True)
class Confusion:
    """Held-out counts; `derived` when rebuilt from the stored rates rather than stored as counts."""

    tp: int
    fp: int
    tn: int
    fn: int
    derived: bool

    @property
    def rows(self) -> int:
        return self.tp + self.fp + self.tn + self.fn


def number(value: Any) -> str:
    """A metric for display: three decimals for fractions, plain integers, a dash for unknown."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):  # rates and scores need three decimals, hours and counts fewer
        if abs(value) >= 10:
            return f"{value:.0f}" if value.is_integer() else f"{value:.1f}"
        return f"{value:.3f}"
    if isinstance(value, list):
        return ", ".join(number(item) for item in value)
    return str(value)


def version_time_unit(version: ModelVersion) -> str:
    """"cycles" for a version trained on cycle-indexed data (its dataset's `time_scale`), else
    "h": the unit of its horizon, cap and RUL errors."""
    params = (version.dataset.params or {}) if version.dataset_id and version.dataset else {}
    return time_unit_of(float(params.get("time_scale", 1.0)))


def in_unit(label: str, unit: str) -> str:
    """A metric label in the version's unit: "Cap h" reads "Cap cycles" for cycle-indexed data."""
    return label.removesuffix(" h") + " cycles" if unit == "cycles" and label.endswith(" h") else label


# What each kind of model does for the plant, as the pages say it before any metric.
KIND_PURPOSE: dict[str, str] = {
    K.FAILURE_CLASSIFIER: "Warns of a failure within the horizon and names the likely failure mode.",
    K.RUL_REGRESSOR: "Estimates how long a machine has left before it fails.",
    K.ANOMALY_DETECTOR: "Flags readings unlike the machine's normal operation.",
    K.SENSOR_FORECASTER: "Projects each signal ahead to say when it leaves its normal range.",
    K.OBSERVATION_CLASSIFIER: "Labels each run or inspection from its readings.",
}


def plain_summary(version: ModelVersion) -> str:
    """How well a version does, in words a maintenance engineer weighs (held-out machines): the
    failures it warned of and its false alarms, or how far off its remaining life typically is."""
    metrics = version.metrics or {}
    if version.kind == K.FAILURE_CLASSIFIER:
        caught = _catches(metrics)
        if caught is None or not caught["positives"]:
            return ""
        false_alarms = f"{caught['false_alarms']:.1f}".removesuffix(".0")
        return (f"On machines it never saw it warned in {caught['caught']} of {caught['positives']} readings "
                f"before a failure, with {false_alarms} false alarms per 100 healthy readings.")
    if version.kind == K.RUL_REGRESSOR and isinstance(metrics.get("mae"), int | float):
        off_by = duration_text(metrics["mae"], version_time_unit(version))
        return f"On machines it never saw its remaining life was off by {off_by} on average."
    if version.kind == K.ANOMALY_DETECTOR and isinstance(metrics.get("fpr"), int | float):
        found = metrics.get("detection_rate")
        share = f"flags {share_text(found)} of the readings before a failure and " if isinstance(
            found, int | float) else ""
        return f"On machines it never saw it {share}flags {share_text(metrics['fpr'])} of normal readings."
    return ""


def key_metrics(version: ModelVersion) -> list[tuple[str, str]]:
    metrics = version.metrics or {}
    unit = version_time_unit(version)
    if version.kind == K.SENSOR_FORECASTER:
        return _forecaster_metrics(metrics, unit)
    if version.kind == K.OBSERVATION_CLASSIFIER:  # one classifier per label: its out-of-fold macro-F1
        return [(f"{label} macro-F1", number(found["macro_f1"])) for label, found in metrics.items()
                if isinstance(found, Mapping) and "macro_f1" in found]
    return [(in_unit(label, unit), number(metrics.get(name))) for name, label in KEY_METRICS.get(version.kind, [])
            if name in metrics]


def _forecaster_metrics(metrics: Mapping[str, Any], unit: str) -> list[tuple[str, str]]:
    """The learned forecaster's MAE (in normal-range widths) at each horizon."""
    horizons = metrics.get("horizons_h") or []
    errors = (metrics.get("learned") or {}).get("mae_all") or []
    return [(in_unit(f"MAE {number(h)} h", unit), number(e)) for h, e in zip(horizons, errors, strict=False)]


def flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Nested metric documents as dotted names (`validation.f1`, `learned.mae_all`)."""
    for name, value in data.items():
        if isinstance(value, Mapping):
            yield from flatten(value, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", value


def metric_rows(version: ModelVersion) -> list[tuple[str, str, str]]:
    """(name, held-out value, trivial baseline's value) for every stored metric, the kind's key
    metrics first (Postgres' jsonb does not keep the order they were written in)."""
    baseline = dict(flatten(version.baseline or {}))
    first = [name for name, _ in KEY_METRICS.get(version.kind, [])]
    measured = {k: v for k, v in (version.metrics or {}).items() if k != "search"}  # search_context shows it
    ordered = sorted(flatten(measured),
                     key=lambda item: (first.index(item[0]) if item[0] in first else len(first), item[0]))
    unit = version_time_unit(version)
    return [(in_unit(METRIC_LABELS.get(name, name), unit), number(value),
             number(baseline[name]) if name in baseline else "") for name, value in ordered]


def search_context(version: ModelVersion) -> dict[str, Any] | None:
    """How a searched model was chosen: the winner beside XGBoost with its defaults on the same
    features and split, the cap, and every candidate (for the Advanced view)."""
    search = (version.metrics or {}).get("search")
    if not search:
        return None
    plain = search.get("plain_baseline") or {}
    leaderboard = [{**row, "params": ", ".join(f"{k} {number(v)}" for k, v in (row.get("params") or {}).items())}
                   for row in search.get("leaderboard", [])]
    return {"winner": search.get("winner", ""), "learner": search.get("learner", ""),
            "trials": search.get("trials"), "seconds": search.get("seconds"), "stopped_by": search.get("stopped_by"),
            "budget_s": search.get("budget_s"), "cap": search.get("cap"), "cap_scores": search.get("cap_scores", []),
            "rmse": (version.metrics or {}).get("rmse"), "plain_rmse": plain.get("rmse"), "leaderboard": leaderboard,
            "classifier": version.kind == K.FAILURE_CLASSIFIER, "max_fpr": search.get("max_fpr"),
            "ours": _catches(version.metrics or {}), "plain": _catches(plain)}


def _catches(metrics: Mapping[str, Any]) -> dict[str, Any] | None:
    """A classifier's held-out figures in words' numbers: positive rows caught of all, and false
    alarms per 100 healthy rows."""
    confusion = confusion_of(metrics)
    if confusion is None:
        return None
    healthy = confusion.fp + confusion.tn
    return {"caught": confusion.tp, "positives": confusion.tp + confusion.fn,
            "false_alarms": 100 * confusion.fp / healthy if healthy else 0.0}


def confusion_of(metrics: Mapping[str, Any]) -> Confusion | None:
    """The held-out confusion matrix: stored counts if any, else rebuilt exactly from the
    classifier's rows, positive rate, recall and FPR (each is a ratio of these counts)."""
    if all(isinstance(metrics.get(k), int | float) for k in ("tp", "fp", "tn", "fn")):
        tp, fp, tn, fn = (round(metrics[k]) for k in ("tp", "fp", "tn", "fn"))
        return Confusion(tp=tp, fp=fp, tn=tn, fn=fn, derived=False)
    parts = [metrics.get(k) for k in ("rows", "positive_rate", "recall", "fpr")]
    if not all(isinstance(p, int | float) for p in parts):
        return None
    rows, positive_rate, recall, fpr = (float(p) for p in parts)  # type: ignore[arg-type]
    positives = round(rows * positive_rate)
    negatives = round(rows) - positives
    tp, fp = round(recall * positives), round(fpr * negatives)
    return Confusion(tp=tp, fp=fp, tn=negatives - fp, fn=positives - tp, derived=True)


def version_step_hours(version: ModelVersion) -> float | None:
    """How long one model step lasts (its training record), for feature windows as time."""
    step = (version.params or {}).get("step_hours")
    return float(step) if isinstance(step, int | float) and step > 0 else None


def feature_words(version: ModelVersion, feature: str) -> str:
    """A feature of this version as `predictions.wording.feature_text` says it, in its type's terms."""
    return feature_text(feature, version.machine_type.metadata, step_hours=version_step_hours(version),
                        unit=version_time_unit(version))


def importance_bars(version: ModelVersion) -> list[dict[str, Any]]:
    """The top features by their stored share (of the mean |SHAP|; of the total gain for versions
    trained before the global views), scaled so the strongest fills its track."""
    items = [i for i in (version.feature_importance or []) if isinstance(i.get("importance"), int | float)]
    items = sorted(items, key=lambda i: -i["importance"])[:TOP_FEATURES]
    strongest = max((i["importance"] for i in items), default=0) or 1
    return [{"name": feature_words(version, str(i.get("feature") or "")) if i.get("feature") else i.get("label"),
             "feature": i.get("feature"),
             "share": f"{i['importance']:.1%}", "width": round(100 * i["importance"] / strongest, 1)}
            for i in items]
