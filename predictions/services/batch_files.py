"""File-to-file batch scoring: a CSV or Parquet file of readings in, one prediction per machine
and step out (CSV or Parquet, by the output's extension).

The input is read with the ingest reader (same encodings, delimiters and error messages as an
upload). Columns are named by an ingest `ColumnMapping` (the same JSON `ingest_file` takes);
what it leaves out is guessed as the upload form and `ingest_file` guess it (`mapping_complete`:
sensors by name, alias or identifier, operating settings included, as they are sensors of the
type and model inputs; the usual names of the time and machine columns). Other columns are
ignored and listed in the summary. A single-machine file names its machine (`machine_name`)
instead of carrying a machine column. Rows whose time cannot be read are refused
with their count; the rest are bucketed into model steps, scored with the type's champions
(`engine.scoring.score_columns`, every step sees its machine's earlier steps) and written.
Cycle-indexed models (`time_scale` = `frames.CYCLE_TIME_SCALE`) write `window_end_cycle` and RUL in
cycles (`rul_cycles`...) instead of a 1970 date and hours. `explain` adds the top factors of
each prediction (`engine.factors.factor_cells`: the API's top factors, their shares and SHAP values).
Every written prediction is counted for billing (on a plan without overage, a file that would take
the period past its included predictions is refused whole, before its output is written); none is
stored as a Prediction row: the output
file is where a batch's predictions live (a million-row file would otherwise fill the table the
dashboard reads).
"""

from __future__ import annotations

from collections.abc import Mapping
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
from engine.factors import factor_cells
from engine.frames import cycle_of, frame_from_columns
from engine.metadata import is_observation_type
from engine.scoring import EXPLAIN_CHUNK, ModelSet, Scores, score_columns
from jobs.services import ProgressFn, no_progress
from machines.ingest.mapping import ColumnMapping, mapping_complete, mapping_validate
from machines.ingest.parse import decimal_point, numbers, times_us
from machines.ingest.reader import table_open
from machines.models import MachineType
from pdm_saas.errors import InvalidInput
from predictions.services.registry import model_set_for
from tenants.db import connection


@dataclass
class FileScored:
    rows_read: int
    rows_refused: int
    predictions: int
    machines: int
    sensors: dict[str, str]  # file column -> sensor
    ignored: list[str] = field(default_factory=list)


def score_file(*, machine_type: MachineType, source: Path, target: Path, mapping: Mapping[str, Any] | None = None,
               explain: bool = False, progress: ProgressFn | None = None, anomaly_only: bool = False) -> FileScored:
    """`mapping`: an ingest column mapping (as `ingest_file` takes it), possibly partial: what it
    leaves out (sensors, time column, machine column unless it names a `machine_name`) is guessed
    from the headers as the upload form guesses it (`mapping_complete`). With `anomaly_only`, or
    when the type has an anomaly detector but no failure classifier (trained on normal operation
    only), the file is scored by the detector alone (`anomaly_files.anomaly_score_file`)."""
    report: ProgressFn = progress or no_progress
    target_check(target)
    if is_observation_type(machine_type.metadata):  # independent rows: each scored from its own values
        from predictions.services.observation_scoring import observation_file_score  # it imports this module

        scored = observation_file_score(machine_type=machine_type, source=source, target=target, mapping=mapping,
                                        progress=progress)
        return FileScored(scored.rows_read, scored.rows_refused, scored.predictions, 0, scored.sensors)
    models = None if anomaly_only else model_set_for(machine_type=machine_type)
    if models is None:
        from predictions.services.anomaly_files import anomaly_score_file  # it imports this module

        return anomaly_score_file(machine_type=machine_type, source=source, target=target, mapping=mapping,
                                  progress=progress)
    prediction_quota_check(tenant_id=connection.tenant.id)
    read = file_frame(machine_type=machine_type, source=source, mapping=mapping, step_hours=models.step_hours,
                      time_scale=models.time_scale, progress=report)
    report(40, f"Scoring {read.frame.num_rows:,} steps")
    scores = score_columns(models, read.frame, rows="all")
    factors = _factors(models, scores) if explain else None
    report(85, "Writing the predictions")
    with transaction.atomic():  # a failed write rolls the count back
        prediction_quota_reserve(tenant_id=connection.tenant.id, count=len(scores))
        _write(target, scores, cycles=models.time_unit == "cycles", factors=factors)
    report(100, "Done")
    return FileScored(read.rows_read, read.refused, len(scores), len(set(scores.machine.tolist())), read.sensors,
                      read.ignored)


def target_check(target: Path) -> None:
    if target.suffix.lower() not in (".csv", ".parquet"):
        raise InvalidInput("The output file must end in .csv or .parquet.")


@dataclass
class FileFrame:
    frame: pa.Table  # bucketed into model steps
    rows_read: int
    refused: int
    sensors: dict[str, str]  # file column -> sensor
    ignored: list[str]


def file_frame(*, machine_type: MachineType, source: Path, mapping: Mapping[str, Any] | None, step_hours: float,
               time_scale: float, progress: ProgressFn) -> FileFrame:
    """The file's readings bucketed into model steps of `step_hours` (read at `time_scale`)."""
    given = dict(mapping or {})
    table = table_open(source, encoding=given.get("encoding"), delimiter=given.get("delimiter"),
                       decimal_mark=given.get("decimal_mark"))
    columns = _mapping_completed(given, table.columns, machine_type)
    sensors = dict(columns.sensors)
    progress(5, "Reading the file")
    read = [c for c in (columns.machine_column, columns.time_column) if c]
    data = pa.Table.from_batches(list(table.batches(list(dict.fromkeys([*read, *sensors])))))
    frame, refused = _frame(data, machine_type, columns, step_hours=step_hours, time_scale=time_scale,
                            decimal_mark=table.decimal_mark)
    ignored = [c for c in table.columns if c not in {*read, *sensors}]
    return FileFrame(frame, data.num_rows, refused, sensors, ignored)


def _mapping_completed(given: Mapping[str, Any], columns: list[str], machine_type: MachineType) -> ColumnMapping:
    """The given mapping, completed from the headers and checked against the file and the type."""
    completed = mapping_complete(given, columns=columns, machine_type=machine_type)
    if not completed.get("time_column"):
        raise InvalidInput(f"No column looks like the time (columns: {', '.join(columns[:20])}); name it with "
                           "--time-column or as time_column in --mapping.")
    if not completed.get("machine_column") and not completed.get("machine_name"):
        raise InvalidInput(f"No column looks like the machine (columns: {', '.join(columns[:20])}); name it with "
                           "--machine-column, or give --machine NAME for a single-machine file.")
    if not completed.get("sensors"):
        raise InvalidInput(f"No column of the file names a sensor of {machine_type.name}; map them in --mapping.")
    mapping = ColumnMapping.from_dict(completed)
    mapping_validate(mapping, columns=columns, machine_type=machine_type)
    return mapping


def _factors(models: ModelSet, scores: Scores) -> list[str]:
    """Per prediction, its top factors as one readable cell ("winding_temp_c 45% raises risk
    (+0.830); ..."), in chunks as the API's explanation computes them (SHAP of a million rows at
    once would not fit)."""
    cells: list[str] = []
    for start in range(0, len(scores), EXPLAIN_CHUNK):
        cells += factor_cells(models.classifier, scores.matrix[start:start + EXPLAIN_CHUNK])
    return cells


def _frame(data: pa.Table, machine_type: MachineType, mapping: ColumnMapping, *, step_hours: float,
           time_scale: float, decimal_mark: str) -> tuple[pa.Table, int]:
    micros = times_us(data.column(mapping.time_column).combine_chunks(), mapping.time_format)
    machines = (data.column(mapping.machine_column).combine_chunks() if mapping.machine_column
                else pa.array([mapping.machine_name] * data.num_rows, pa.string()))
    keep = pc.and_(pc.is_valid(micros), pc.is_valid(machines))
    refused = data.num_rows - int(pc.sum(keep).as_py() or 0)
    if refused == data.num_rows:
        raise InvalidInput(f"No row has both a machine and a readable {mapping.time_format} time in "
                           f"{mapping.time_column!r}.")
    seconds = np.asarray(pc.filter(micros, keep).to_numpy(zero_copy_only=False), dtype=np.float64) / 1e6
    names = np.asarray(pc.cast(pc.filter(machines, keep), pa.string()).to_numpy(zero_copy_only=False), dtype=object)
    categorical = set(machine_type.schema.categories)
    numeric: dict[str, Any] = {}
    labels: dict[str, Any] = {}
    for header, sensor in mapping.sensors.items():
        column = pc.filter(data.column(header).combine_chunks(), keep)
        if sensor in categorical:
            labels[sensor] = np.asarray(pc.cast(column, pa.string()).to_numpy(zero_copy_only=False), dtype=object)
        else:
            values, _ = numbers(decimal_point(column, decimal_mark), pa.float64())  # type: ignore[arg-type]
            numeric[sensor] = np.asarray(pc.fill_null(values, np.nan).to_numpy(zero_copy_only=False))
    frame = frame_from_columns(names, seconds, numeric, labels, machine_type.schema, step_hours=step_hours,
                               time_scale=time_scale)
    return frame, refused


def _write(target: Path, scores: Scores, *, cycles: bool, factors: list[str] | None) -> None:
    rul = scores.rul or (None, None, None)
    unit = "cycles" if cycles else "h"  # a cycle-indexed model's step is one cycle (frames.CYCLE_TIME_SCALE)
    window_end: Any = scores.window_end
    if cycles:
        window_end = window_end_cycles(scores.window_end)
    columns = {
        "machine": pa.array(scores.machine.astype(str)), "window_end_cycle" if cycles else "window_end": window_end,
        "probability": scores.probability, "predicted_failure": scores.probability >= scores.threshold,
        "failure_mode": pa.array(scores.failure_mode.astype(str)),
        "failure_mode_probability": scores.failure_mode_probability,
        f"rul_{unit}": rul[0], f"rul_lower_{unit}": rul[1], f"rul_upper_{unit}": rul[2],
        "anomaly_score": scores.anomaly, "health_score": scores.health, "confidence": scores.confidence,
        # The verdict the pages and alerts read (engine.decision); RUL at its cap reads "beyond".
        "state": pa.array(scores.verdicts.state.astype(str)), "risk": scores.verdicts.risk,
        f"rul_beyond_{unit}": scores.verdicts.rul_beyond,
    }
    if factors is not None:
        columns["top_factors"] = pa.array(factors, pa.string())
    n = len(scores)
    table_write(target, pa.table({name: value if value is not None else pa.nulls(n, pa.float64())
                                  for name, value in columns.items()}))


def window_end_cycles(window_end: pa.Array) -> pa.Array:
    """Step times of a cycle-indexed model (1970-01-01 + cycle seconds, stretched to one model
    "hour" per cycle) as cycle numbers."""
    seconds = np.asarray(pc.cast(window_end, pa.int64()).to_numpy(zero_copy_only=False)) // 1_000_000
    return pa.array([cycle_of(s) for s in seconds.tolist()], pa.int64())


def table_write(target: Path, table: pa.Table) -> None:
    """CSV or Parquet by the target's extension, written whole or not at all."""
    temporary = target.with_name(f".{target.name}.partial")
    if target.suffix.lower() == ".parquet":
        pq.write_table(table, temporary)
    else:
        pa_csv.write_csv(table, temporary)
    temporary.replace(target)  # a reader never sees half a file
