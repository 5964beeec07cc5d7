"""Training on an observation type's labelled rows (docs/models.md, "Observation types").

`train_real_data` (service, command, `POST /api/v1/models/train-real/`) sends an observation
type here: its stored rows and labels are read (`machines.selectors.observations_of_type`), turned
into features (each row's own values; no windows), and one classifier per label is trained and
validated out of fold beside a plain XGBoost baseline on the same folds
(`engine.training.observations`). The rows are stored as a `real` dataset and the model as
one `observation_classifier` version holding every label's classifier, promoted to champion only
when it earns it against the current champion (`observation_promotion`: no champion, a champion
that never saw real data, or a label better by the margin on the same rows and folds). The
summary has the shape `train_real_data` prints (dataset, decisions, one per label).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa

from engine.bundles import OBSERVATION, Bundle
from engine.metadata import observation_labels
from engine.training.observations import (
    DEFAULT_FOLDS,
    feature_names_for,
    observation_features,
    train_observations,
)
from engine.training.real import DEFAULT_MARGIN
from jobs.services import ProgressFn, no_progress
from machines.models import Machine, MachineType
from machines.selectors import Observations, observations_of_type
from pdm_saas.errors import InvalidInput
from predictions.models import Dataset
from predictions.services.observation_promotion import TrainingData, observation_decisions, observation_verdicts
from predictions.services.registry import (
    champion_versions,
    dataset_store,
    model_version_promote,
    model_version_register,
)


def observation_training_run(*, machine_type: MachineType, seed: int = 0, folds: int = DEFAULT_FOLDS,
                             margin: float = DEFAULT_MARGIN, job_id: int | None = None,
                             progress: ProgressFn | None = None) -> dict[str, Any]:
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
                               progress=lambda p, m: report(5 + int(p * 0.8), m))
    if not model.targets:
        reasons = "; ".join(f"{name}: {why}" for name, why in model.skipped.items())
        raise InvalidInput(f"No label of {machine_type.name} can be trained: {reasons}.",
                           details={"skipped": model.skipped})
    report(86, "Comparing with the champion on the same rows and folds")
    champion = champion_versions(machine_type_id=machine_type.id).get(OBSERVATION)
    promote, verdicts = observation_verdicts(model, champion, TrainingData(matrix, names, data.labels, classes,
                                                                           folds=folds, seed=seed), margin=margin)
    report(96, "Storing the dataset and the model")
    dataset = dataset_store(machine_type=machine_type, source=Dataset.Source.REAL, job_id=job_id,
                            table=_dataset_table(data, names, matrix),
                            params={"data_kind": "observations", "labels": list(data.labels)})
    version = model_version_register(machine_type=machine_type, dataset=dataset, job_id=job_id,
                                     bundle=Bundle(OBSERVATION, model), training_seconds=time.perf_counter() - started,
                                     params={"training": "observations", "seed": seed, "folds": folds})
    if promote:
        model_version_promote(version_id=version.id, note="; ".join(f"{v.label}: {v.reason}" for v in verdicts))
    report(100, "Done")
    return {"data_kind": "observations", "seconds": round(time.perf_counter() - started, 2),
            "dataset": {"id": dataset.id, "rows": dataset.rows, "runs": dataset.machines, "failures": 0},
            "validation": model.validation, "version": version.id, "skipped": model.skipped, "margin": margin,
            "decisions": observation_decisions(model, verdicts, version=version, promoted=promote)}


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
