"""Training on an observation type's labelled rows (docs/models.md, "Observation types").

`train_real_data` (service, command, `POST /api/v1/models/train-real/`) sends an observation
type here: its stored rows and labels are read (`machines.selectors.observations_of_type`), turned
into features (each row's own values; no windows), and one classifier per label is trained and
validated out of fold beside a plain XGBoost baseline on the same folds
(`predictions.training.observations`). The rows are stored as a `real` dataset and the model as
one `observation_classifier` version holding every label's classifier, promoted to champion: it
learned from every labelled row the type has, and its report shows how it compares with the
baseline. The summary has the shape `train_real_data` prints (dataset, decisions).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa

from jobs.services import ProgressFn, no_progress
from machines.metadata import observation_labels
from machines.models import Machine, MachineType
from machines.selectors import Observations, observations_of_type
from pdm_saas.errors import InvalidInput
from predictions.bundles import OBSERVATION, Bundle
from predictions.models import Dataset
from predictions.services.registry import dataset_store, json_safe, model_version_promote, model_version_register
from predictions.training.observations import (
    DEFAULT_FOLDS,
    ObservationModel,
    feature_names_for,
    observation_features,
    train_observations,
)


def observation_training_run(*, machine_type: MachineType, seed: int = 0, folds: int = DEFAULT_FOLDS,
                             job_id: int | None = None, progress: ProgressFn | None = None) -> dict[str, Any]:
    report: ProgressFn = progress or no_progress
    started = time.perf_counter()
    report(2, "Reading the stored observations and their labels")
    data = observations_of_type(machine_type=machine_type)
    _refuse_unlabelled(data, machine_type)
    names = feature_names_for(data.slots, machine_type.metadata)
    columns = {slot: data.values[:, index] for index, slot in enumerate(data.slots)}
    matrix = observation_features(columns, names, machine_type.metadata, len(data.ts))
    classes = {item["name"]: item["classes"] for item in observation_labels(machine_type.metadata)}
    model = train_observations(matrix, names, data.labels, classes, seed=seed, folds=folds,
                               progress=lambda p, m: report(5 + int(p * 0.9), m))
    if not model.targets:
        reasons = "; ".join(f"{name}: {why}" for name, why in model.skipped.items())
        raise InvalidInput(f"No label of {machine_type.name} can be trained: {reasons}.",
                           details={"skipped": model.skipped})
    report(96, "Storing the dataset and the model")
    dataset = dataset_store(machine_type=machine_type, source=Dataset.Source.REAL, job_id=job_id,
                            table=_dataset_table(data, names, matrix),
                            params={"data_kind": "observations", "labels": list(data.labels)})
    version = model_version_register(machine_type=machine_type, dataset=dataset, job_id=job_id,
                                     bundle=Bundle(OBSERVATION, model), training_seconds=time.perf_counter() - started,
                                     params={"training": "observations", "seed": seed, "folds": folds})
    model_version_promote(version_id=version.id, note="trained on every labelled observation of the type")
    report(100, "Done")
    return {"data_kind": "observations", "seconds": round(time.perf_counter() - started, 2),
            "dataset": {"id": dataset.id, "rows": dataset.rows, "runs": dataset.machines, "failures": 0},
            "validation": model.validation, "version": version.id, "skipped": model.skipped,
            "decisions": _decisions(model, version.id)}


def _refuse_unlabelled(data: Observations, machine_type: MachineType) -> None:
    if not len(data.ts):
        raise InvalidInput(f"No observations of {machine_type.name} yet; upload some before training.")
    if all(value is None for column in data.labels.values() for value in column):
        names = ", ".join(data.labels) or "none declared"
        raise InvalidInput(f"None of the {len(data.ts):,} observations of {machine_type.name} has a label "
                           f"({names}); upload files with their label columns mapped.")


def _dataset_table(data: Observations, names: list[str], matrix: np.ndarray) -> pa.Table:
    machines = dict(Machine.objects.filter(id__in=np.unique(data.machine_ids).tolist()).values_list("id", "name"))
    columns: dict[str, Any] = {"machine": pa.array([machines[int(m)] for m in data.machine_ids], pa.string()),
                               "ts": pa.array(data.ts, pa.timestamp("us", "UTC"))}
    columns.update({f"feature:{name}": pa.array(matrix[:, index]) for index, name in enumerate(names)})
    columns.update({f"label:{name}": pa.array(values.tolist(), pa.string()) for name, values in data.labels.items()})
    return pa.table(columns)


def _decisions(model: ObservationModel, version_id: int) -> list[dict[str, Any]]:
    """Per label: the kept learner beside the plain baseline, both out of fold on the same folds."""
    keys = ("accuracy", "macro_f1")
    return [json_safe({
        "kind": f"{OBSERVATION}: {target.name}", "best": version_id, "promoted": True, "reason": "",
        "comparison": [{"model": f"kept ({target.learner})", **{k: model.metrics[target.name][k] for k in keys}},
                       {"model": "plain XGBoost baseline", **{k: model.baseline[target.name][k] for k in keys}}],
    }) for target in model.targets]
