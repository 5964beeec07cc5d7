"""Scoring observations: each row's predicted class of every label, with its probabilities.

A row of an observation type is scored from its own values only (docs/models.md, "Observation
types"): the same parse as an upload (array cells summarised per row, categories as indexes), the
same features as training, the type's champion `observation_classifier`. No row sees another, so
a row's result is the same whether it is scored alone or among a million.

`score_file` (predictions/services/batch_files.py, the `score_file` command) sends an observation
type's files here; `observations_predict` is the in-memory core.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import transaction

from billing.quotas import prediction_quota_check, prediction_quota_reserve
from engine.bundles import OBSERVATION, bundle_load
from engine.training.observations import ObservationModel, observation_features
from jobs.services import ProgressFn, no_progress
from machines.ingest.mapping import mapping_complete
from machines.ingest.parse import category_codes, decimal_point, numbers
from machines.ingest.reader import table_open
from machines.models import MachineType
from machines.observations import array_column
from pdm_saas.errors import Conflict, InvalidInput
from predictions.models import ModelVersion
from predictions.services.batch_files import table_write
from predictions.services.registry import artifact_read
from tenants.db import connection


@dataclass
class ObservationScores:
    """Per label: each row's class and the probability of every class (columns in `classes`)."""

    rows: int
    labels: dict[str, tuple[np.ndarray, np.ndarray, list[str]]]  # label -> (class, probabilities, classes)
    version_id: int
    refused: np.ndarray  # rows whose values could not be read (a bad array cell): no prediction


def observation_champion(machine_type: MachineType) -> tuple[ObservationModel, int]:
    version = ModelVersion.objects.filter(machine_type=machine_type, machine__isnull=True, kind=OBSERVATION,
                                          status=ModelVersion.Status.CHAMPION).first()
    if version is None:
        raise Conflict(f"{machine_type.name} has no trained model yet; upload labelled observations and train it "
                       "(train_real_data).")
    bundle = bundle_load(artifact_read(version.artifact_path, sha256=version.artifact_sha256))
    return bundle.model, version.id


def observations_predict(*, machine_type: MachineType, columns: Mapping[str, pa.Array], sensors: Mapping[str, str],
                         decimal_mark: str = ".") -> ObservationScores:
    """`columns`: the file's columns by header; `sensors`: header -> sensor, as an upload maps them."""
    model, version_id = observation_champion(machine_type)
    rows = len(next(iter(columns.values()))) if columns else 0
    values, refused = _slot_values(machine_type, columns, sensors, decimal_mark)
    matrix = observation_features(values, model.feature_names, machine_type.metadata, rows)
    matrix[refused] = np.nan
    predicted = model.predict(matrix)
    labels = {target.name: (*predicted[target.name], list(target.classes)) for target in model.targets}
    return ObservationScores(rows=rows, labels=labels, version_id=version_id, refused=refused)


def _slot_values(machine_type: MachineType, columns: Mapping[str, pa.Array], sensors: Mapping[str, str],
                 decimal_mark: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    schema = machine_type.schema
    arrays, categories = set(schema.array_sensors), schema.categories
    values: dict[str, np.ndarray] = {}
    rows = len(next(iter(columns.values()))) if columns else 0
    refused = np.zeros(rows, dtype=bool)
    for header, sensor in sensors.items():
        raw = columns[header]
        if sensor in arrays:
            parsed = array_column(raw, sensor=sensor, header=header, decimal_mark=decimal_mark)
            refused |= parsed.bad
            values.update({slot: _floats(column) for slot, column in parsed.summaries.items()})
        elif sensor in categories:
            values[sensor] = _floats(category_codes(raw, categories[sensor])[0])
        else:
            values[sensor] = _floats(numbers(decimal_point(raw, decimal_mark), pa.float64())[0])
    return values, refused


def _floats(array: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(pc.cast(array, pa.float64()), np.nan).to_numpy(zero_copy_only=False))


# --- files ------------------------------------------------------------------------------------


@dataclass
class ObservationFileScored:
    rows_read: int
    rows_refused: int
    predictions: int
    sensors: dict[str, str]
    ignored: list[str]


def observation_file_score(*, machine_type: MachineType, source: Path, target: Path,
                           mapping: Mapping[str, Any] | None = None,
                           progress: ProgressFn | None = None) -> ObservationFileScored:
    """A file of observations in, the same rows out with each label's class and probabilities
    (`<label>_predicted`, `<label>_probability`, `<label>_p_<class>`); the columns the mapping does
    not read as sensors (the key, the machine, a label column a person wants to compare with) are
    carried through."""
    report: ProgressFn = progress or no_progress
    prediction_quota_check(tenant_id=connection.tenant.id)
    given = dict(mapping or {})
    table = table_open(source, encoding=given.get("encoding"), delimiter=given.get("delimiter"),
                       decimal_mark=given.get("decimal_mark"))
    sensors = dict(mapping_complete(given, columns=table.columns, machine_type=machine_type).get("sensors") or {})
    if not sensors:
        raise InvalidInput(f"No column of the file names a sensor of {machine_type.name}; map them in --mapping.")
    report(5, "Reading the file")
    data = pa.Table.from_batches(list(table.batches()))
    scores = observations_predict(machine_type=machine_type, sensors=sensors, decimal_mark=table.decimal_mark,
                                  columns={name: data.column(name).combine_chunks() for name in data.column_names})
    kept = [name for name in data.column_names if name not in sensors]
    output = _output_table(data.select(kept), scores)
    scored = scores.rows - int(scores.refused.sum())
    with transaction.atomic():  # a failed write rolls the count back
        prediction_quota_reserve(tenant_id=connection.tenant.id, count=scored)
        table_write(target, output)
    report(100, "Done")
    return ObservationFileScored(rows_read=scores.rows, rows_refused=int(scores.refused.sum()), predictions=scored,
                                 sensors=sensors, ignored=[])


def _output_table(keys: pa.Table, scores: ObservationScores) -> pa.Table:
    mask = np.asarray(scores.refused, dtype=bool)
    columns: dict[str, pa.Array] = {name: keys.column(name).combine_chunks() for name in keys.column_names}
    for label, (classes_of_rows, probabilities, classes) in scores.labels.items():
        columns[f"{label}_predicted"] = pa.array(classes_of_rows.astype(str).tolist(), pa.string(), mask=mask)
        columns[f"{label}_probability"] = pa.array(probabilities.max(axis=1), mask=mask)
        for index, name in enumerate(classes):
            columns[f"{label}_p_{name}"] = pa.array(probabilities[:, index], mask=mask)
    return pa.table(columns)

