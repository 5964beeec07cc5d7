"""File-to-file batch scoring: a CSV or Parquet file of readings in, one prediction per machine
and step out (CSV or Parquet, by the output's extension).

The input is read with the ingest reader (same encodings, delimiters and error messages as an
upload). Sensor columns are found by name, alias or identifier (`mapping_suggest_sensors`);
other columns are ignored and listed in the summary. Rows whose time cannot be read are refused
with their count; the rest are bucketed into model steps, scored with the type's champions
(`predictions.scoring.score_columns`, every step sees its machine's earlier steps) and written.
Every written prediction is counted for billing (on a plan without overage, a file that would take
the period past its included predictions is refused whole, before its output is written); none is
stored as a Prediction row: the output
file is where a batch's predictions live (a million-row file would otherwise fill the table the
dashboard reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from django.db import transaction

from billing.quotas import prediction_quota_check, prediction_quota_reserve
from jobs.services import ProgressFn, no_progress
from machines.ingest.mapping import mapping_suggest_sensors
from machines.ingest.parse import decimal_point, numbers, times_us
from machines.ingest.reader import table_open
from machines.models import MachineType
from pdm_saas.errors import Conflict, InvalidInput
from predictions.frames import frame_from_columns
from predictions.scoring import ModelSet, score_columns
from predictions.services.registry import model_set_for
from tenants.db import connection

OUTPUT_COLUMNS = ("machine", "window_end", "probability", "predicted_failure", "failure_mode",
                  "failure_mode_probability", "rul_h", "rul_lower_h", "rul_upper_h", "anomaly_score", "health_score",
                  "confidence")


@dataclass
class FileScored:
    rows_read: int
    rows_refused: int
    predictions: int
    machines: int
    sensors: dict[str, str]  # file column -> sensor
    ignored: list[str] = field(default_factory=list)


def score_file(*, machine_type: MachineType, source: Path, target: Path, machine_column: str = "machine",
               time_column: str = "ts", time_format: str = "iso", progress: ProgressFn | None = None) -> FileScored:
    report: ProgressFn = progress or no_progress
    if target.suffix.lower() not in (".csv", ".parquet"):
        raise InvalidInput("The output file must end in .csv or .parquet.")
    models = model_set_for(machine_type=machine_type)
    if models is None:
        raise Conflict(f"{machine_type.name} has no trained models yet; onboard the type first.")
    prediction_quota_check(tenant_id=connection.tenant.id)
    table = table_open(source)
    missing = [c for c in (machine_column, time_column) if c not in table.columns]
    if missing:
        raise InvalidInput(f"The file has no column {', '.join(map(repr, missing))}; its columns are "
                           f"{', '.join(table.columns[:20])}. Name them with --machine-column / --time-column.")
    sensors = mapping_suggest_sensors(columns=table.columns, machine_type=machine_type)
    if not sensors:
        raise InvalidInput(f"No column of the file names a sensor of {machine_type.name}.")
    report(5, "Reading the file")
    data = pa.Table.from_batches(list(table.batches([machine_column, time_column, *sensors])))
    frame, refused = _frame(data, machine_type, sensors, machine_column, time_column, time_format, models,
                            decimal_mark=table.decimal_mark)
    report(40, f"Scoring {frame.num_rows:,} steps")
    scores = score_columns(models, frame, rows="all")
    report(85, "Writing the predictions")
    with transaction.atomic():  # a failed write rolls the count back
        prediction_quota_reserve(tenant_id=connection.tenant.id, count=len(scores))
        _write(target, scores)
    report(100, "Done")
    ignored = [c for c in table.columns if c not in {machine_column, time_column, *sensors}]
    return FileScored(data.num_rows, refused, len(scores), len(set(scores.machine.tolist())), sensors, ignored)


def _frame(data: pa.Table, machine_type: MachineType, sensors: dict[str, str], machine_column: str,
           time_column: str, time_format: str, models: ModelSet, *, decimal_mark: str) -> tuple[pa.Table, int]:
    micros = times_us(data.column(time_column).combine_chunks(), time_format)  # type: ignore[arg-type]
    machines = data.column(machine_column).combine_chunks()
    keep = pc.and_(pc.is_valid(micros), pc.is_valid(machines))
    refused = data.num_rows - int(pc.sum(keep).as_py() or 0)
    if refused == data.num_rows:
        raise InvalidInput(f"No row has both a machine and a readable {time_format} time in {time_column!r}.")
    seconds = np.asarray(pc.filter(micros, keep).to_numpy(zero_copy_only=False), dtype=np.float64) / 1e6
    names = np.asarray(pc.cast(pc.filter(machines, keep), pa.string()).to_numpy(zero_copy_only=False), dtype=object)
    categorical = {s["name"] for s in machine_type.sensors if s["kind"] == "categorical"}
    numeric: dict[str, Any] = {}
    labels: dict[str, Any] = {}
    for header, sensor in sensors.items():
        column = pc.filter(data.column(header).combine_chunks(), keep)
        if sensor in categorical:
            labels[sensor] = np.asarray(pc.cast(column, pa.string()).to_numpy(zero_copy_only=False), dtype=object)
        else:
            values, _ = numbers(decimal_point(column, decimal_mark), pa.float64())  # type: ignore[arg-type]
            numeric[sensor] = np.asarray(pc.fill_null(values, np.nan).to_numpy(zero_copy_only=False))
    frame = frame_from_columns(names, seconds, numeric, labels, machine_type.metadata, step_hours=models.step_hours,
                               time_scale=models.time_scale)
    return frame, refused


def _write(target: Path, scores: Any) -> None:
    rul = scores.rul or (None, None, None)
    columns = {
        "machine": pa.array(scores.machine.astype(str)), "window_end": scores.window_end,
        "probability": scores.probability, "predicted_failure": scores.probability >= scores.threshold,
        "failure_mode": pa.array(scores.failure_mode.astype(str)),
        "failure_mode_probability": scores.failure_mode_probability,
        "rul_h": rul[0], "rul_lower_h": rul[1], "rul_upper_h": rul[2], "anomaly_score": scores.anomaly,
        "health_score": scores.health, "confidence": scores.confidence,
    }
    n = len(scores)
    table = pa.table({name: value if value is not None else pa.nulls(n, pa.float64())
                      for name, value in columns.items()})
    temporary = target.with_name(f".{target.name}.partial")
    if target.suffix.lower() == ".parquet":
        pq.write_table(table, temporary)
    else:
        pa_csv.write_csv(table, temporary)
    temporary.replace(target)  # a reader never sees half a file
