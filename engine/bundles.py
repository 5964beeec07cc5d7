"""A trained model as one file: a zip holding `meta.json` (everything but the weights) and the
weights as separate members (XGBoost's UBJSON, or the model's own `save()` bytes).

Zip rather than pickle: a bundle can be listed and read with standard tools, and loading one
runs no code from the file. No Django imports; the registry decides where the bytes live.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.features import FeatureSpec
from engine.regimes import Regimes
from engine.training.classifier import ClassifierResult, load_booster, load_boosters
from engine.training.learners import XGBOOST, TreeModel
from engine.training.observations import ObservationModel, TargetModel
from engine.training.rul import RulResult
from engine.training.search import Blend, Model, model_blobs, model_from_blobs

FAILURE = "failure_classifier"
RUL = "rul_regressor"
ANOMALY = "anomaly_detector"
FORECAST = "sensor_forecaster"
KINDS = (FAILURE, RUL, ANOMALY, FORECAST)  # the time-series suite
OBSERVATION = "observation_classifier"  # observation types (engine/training/observations.py)
FORMAT = 1


@dataclass
class Bundle:
    """A loaded model: its kind, the trained object and what came with it (explainers, step)."""

    kind: str
    model: Any
    extra: dict[str, Any] = field(default_factory=dict)


def spec_to_json(spec: FeatureSpec) -> dict[str, Any]:
    return {"windows": list(spec.windows), "statistics": list(spec.statistics),
            "categorical": {k: list(v) for k, v in spec.categorical.items()},
            "maintenance": spec.maintenance_times is not None,
            "regimes": spec.regimes.to_json() if spec.regimes is not None else None,
            "baseline_steps": spec.baseline_steps}


def spec_from_json(data: Mapping[str, Any]) -> FeatureSpec:
    return FeatureSpec(windows=tuple(data["windows"]), statistics=tuple(data["statistics"]),
                       categorical={k: tuple(v) for k, v in data["categorical"].items()},
                       maintenance_times={} if data.get("maintenance") else None,
                       regimes=Regimes.from_json(data["regimes"]) if data.get("regimes") else None,
                       baseline_steps=int(data.get("baseline_steps", 0)))


def bundle_dump(bundle: Bundle) -> bytes:
    meta, blobs = _DUMPERS[bundle.kind](bundle.model)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("meta.json", json.dumps({"format": FORMAT, "kind": bundle.kind, "model": meta,
                                                  "extra": bundle.extra}))
        for name, raw in blobs.items():
            archive.writestr(name, raw)
    return buffer.getvalue()


def bundle_load(raw: bytes) -> Bundle:
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        meta = json.loads(archive.read("meta.json"))
        if meta.get("format") != FORMAT or meta.get("kind") not in _LOADERS:
            raise ValueError(f"not a model bundle this version can read (format {meta.get('format')!r})")
        blobs = {name: archive.read(name) for name in archive.namelist() if name != "meta.json"}
    return Bundle(meta["kind"], _LOADERS[meta["kind"]](meta["model"], blobs), meta.get("extra", {}))


def _classifier_dump(result: ClassifierResult) -> tuple[dict[str, Any], dict[str, bytes]]:
    meta = {
        "feature_names": result.feature_names, "signals": result.signals, "spec": spec_to_json(result.spec),
        "horizon_h": result.horizon_h, "threshold": result.threshold, "threshold_note": result.threshold_note,
        "metrics": result.metrics, "baseline": result.baseline, "validation": result.validation,
        "mode_names": result.mode_names, "mode_metrics": result.mode_metrics, "sizes": result.sizes,
        "search": result.search, "learners": _learners(result.booster),
    }
    return meta, result.save_boosters()


def _classifier_load(meta: Mapping[str, Any], blobs: Mapping[str, bytes]) -> ClassifierResult:
    booster, mode = load_boosters(blobs, meta["feature_names"])
    return ClassifierResult(
        booster=booster, feature_names=meta["feature_names"], signals=meta["signals"],
        spec=spec_from_json(meta["spec"]), horizon_h=meta["horizon_h"], threshold=meta["threshold"],
        threshold_note=meta["threshold_note"], metrics=meta["metrics"], baseline=meta["baseline"],
        validation=meta["validation"], mode_booster=mode, mode_names=meta["mode_names"],
        mode_metrics=meta["mode_metrics"], sizes=meta["sizes"], search=meta.get("search", {}),
    )


def _rul_dump(result: RulResult) -> tuple[dict[str, Any], dict[str, bytes]]:
    meta = {
        "feature_names": result.feature_names, "signals": result.signals, "spec": spec_to_json(result.spec),
        "cap_h": result.cap_h, "coverage": result.coverage, "q": result.q, "metrics": result.metrics,
        "baseline": result.baseline, "sizes": result.sizes, "search": result.search,
    }
    meta["learners"] = _learners(result.booster)  # for a reader of meta.json; the blob names say it too
    return meta, model_blobs(result.booster, "rul")


def _rul_load(meta: Mapping[str, Any], blobs: Mapping[str, bytes]) -> RulResult:
    names = meta["feature_names"]
    # Bundles from before the model search hold one XGBoost booster, `rul.ubj`.
    booster = (TreeModel.from_bytes(XGBOOST, blobs["rul.ubj"], names) if "rul.ubj" in blobs
               else model_from_blobs(blobs, "rul", names))
    return RulResult(
        booster=booster, feature_names=names, signals=meta["signals"],
        spec=spec_from_json(meta["spec"]), cap_h=meta["cap_h"], coverage=meta["coverage"], q=meta["q"],
        metrics=meta["metrics"], baseline=meta["baseline"], sizes=meta["sizes"], search=meta.get("search", {}),
    )


def _learners(model: Model) -> list[str]:
    return [m.learner for m in (model.members if isinstance(model, Blend) else [model])]


def _opaque_dump(result: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    """Models that serialise themselves (anomaly detector, forecaster)."""
    return {"class": f"{type(result).__module__}.{type(result).__qualname__}"}, {"model.bin": result.save()}


def _opaque_loader(kind: str) -> Any:
    def load(meta: Mapping[str, Any], blobs: Mapping[str, bytes]) -> Any:
        # Imported here: these modules are only needed once such a bundle is read.
        if kind == ANOMALY:
            from engine.training.anomaly import AnomalyResult
            return AnomalyResult.load(blobs["model.bin"])
        from engine.training.forecast import ForecasterResult
        return ForecasterResult.load(blobs["model.bin"])
    return load


def _observation_dump(result: ObservationModel) -> tuple[dict[str, Any], dict[str, bytes]]:
    meta = {"feature_names": result.feature_names, "metrics": result.metrics, "baseline": result.baseline,
            "validation": result.validation, "skipped": result.skipped,
            "targets": [{"name": t.name, "classes": t.classes, "learner": t.learner} for t in result.targets]}
    return meta, {f"label-{t.name}.ubj": bytes(t.booster.save_raw("ubj")) for t in result.targets}


def _observation_load(meta: Mapping[str, Any], blobs: Mapping[str, bytes]) -> ObservationModel:
    targets = [TargetModel(name=t["name"], classes=t["classes"], learner=t["learner"],
                           booster=load_booster(blobs[f"label-{t['name']}.ubj"])) for t in meta["targets"]]
    return ObservationModel(feature_names=meta["feature_names"], targets=targets, metrics=meta["metrics"],
                            baseline=meta["baseline"], validation=meta["validation"], skipped=meta["skipped"])


Dump = Callable[[Any], tuple[dict[str, Any], dict[str, bytes]]]
Load = Callable[[Mapping[str, Any], Mapping[str, bytes]], Any]
_DUMPERS: dict[str, Dump] = {FAILURE: _classifier_dump, RUL: _rul_dump, ANOMALY: _opaque_dump, FORECAST: _opaque_dump,
                             OBSERVATION: _observation_dump}
_LOADERS: dict[str, Load] = {FAILURE: _classifier_load, RUL: _rul_load, ANOMALY: _opaque_loader(ANOMALY),
                             FORECAST: _opaque_loader(FORECAST), OBSERVATION: _observation_load}
