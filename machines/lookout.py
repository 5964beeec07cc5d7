"""Importing data laid out for Amazon Lookout for Equipment (discontinued in October 2026), as is.

Lookout's layout: a folder per component (`<dataset>/<component>/<any>.csv`), each CSV with a
`Timestamp` column and that component's sensor columns, all components belonging to one asset;
and optionally a label file of time ranges without a header: `start,end[,failure mode]`.

Components are joined on their timestamps into one table (in memory: Lookout datasets are
bounded by its own quotas) and stored through the normal ingest path for one machine; columns
are matched to the machine type's sensors by name, alias or identifier. Each label range becomes
a failure event at its end (the range's start is kept in the notes): readings inside the range
count down to that failure, readings after the last one are censored.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
from django.db import transaction

from engine.metadata import failure_mode_for_label, failure_modes_listed, sensor_for_header
from machines.ingest.mapping import ColumnMapping
from machines.ingest.memory import MemoryTable
from machines.ingest.parse import times_us
from machines.ingest.store import IngestResult, readings_ingest
from machines.models import FailureEvent, Machine, MachineType
from machines.textfiles import text_decode
from pdm_saas.errors import InvalidInput

TIME = "Timestamp"


@dataclass
class LookoutImport:
    result: IngestResult
    components: list[str]
    unmapped_columns: list[str] = field(default_factory=list)
    failure_events: int = 0


def _component_tables(folder: Path, labels: Path | None) -> dict[str, list[Path]]:
    files: dict[str, list[Path]] = {}
    for path in sorted(folder.rglob("*.csv")):
        if labels is not None and path.resolve() == labels.resolve():
            continue
        component = path.parent.name if path.parent != folder else path.stem
        files.setdefault(component, []).append(path)
    if not files:
        raise InvalidInput(f"No component CSV files under {folder}.", code="lookout_empty")
    return files


def _read_component(paths: list[Path], document: dict[str, Any], unmapped: list[str]) -> pa.Table:
    tables = []
    for path in paths:
        table = pa_csv.read_csv(path, convert_options=pa_csv.ConvertOptions(strings_can_be_null=True,
                                                                            column_types=None))
        time_column = next((name for name in table.column_names if name.strip().lower() == "timestamp"), None)
        if time_column is None:
            raise InvalidInput(f"{path.name} has no Timestamp column (Lookout's layout needs one).",
                               code="lookout_no_timestamp")
        keep, names = [time_column], [TIME]
        for column in table.column_names:
            sensor = sensor_for_header(document, column) if column != time_column else None
            if sensor is not None and sensor not in names:
                keep.append(column)
                names.append(sensor)
            elif column != time_column:
                unmapped.append(f"{path.parent.name}/{column}")
        selected = table.select(keep).rename_columns(names)
        stamps = times_us(pc.cast(selected.column(TIME), pa.string()).combine_chunks(), "iso")
        tables.append(selected.set_column(0, TIME, stamps))
    return pa.concat_tables(tables, promote_options="permissive")


def _joined(components: dict[str, pa.Table]) -> pa.Table:
    joined: pa.Table | None = None
    for table in components.values():
        joined = table if joined is None else joined.join(table, keys=TIME, join_type="full outer",
                                                          coalesce_keys=True)
    assert joined is not None
    stamps = pc.cast(pc.cast(joined.column(TIME), pa.timestamp("us", "UTC")), pa.string())
    strings = {name: pc.cast(joined.column(name), pa.string()) for name in joined.column_names if name != TIME}
    return pa.table({TIME: stamps, **strings}).sort_by(TIME)


def _labels(path: Path, document: dict[str, Any]) -> list[tuple[str, str, str]]:
    ranges = []
    for line, row in enumerate(csv.reader(text_decode(path.read_bytes()).splitlines()), start=1):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) < 2:
            raise InvalidInput(f"Label file line {line}: expected start,end[,failure mode].", code="lookout_labels")
        raw_mode = row[2].strip() if len(row) > 2 else ""
        mode = failure_mode_for_label(document, raw_mode) if raw_mode else ""
        if mode is None:
            raise InvalidInput(f"Label file line {line}: '{raw_mode[:40]}' is neither a failure mode of this "
                               f"machine type nor an alias of one (its failure modes: "
                               f"{failure_modes_listed(document)}).", code="lookout_labels")
        ranges.append((row[0].strip(), row[1].strip(), mode))
    return ranges


def _label_events(machine: Machine, ranges: list[tuple[str, str, str]]) -> int:
    stamps = times_us(pa.array([end for _, end, _ in ranges] + [start for start, _, _ in ranges]), "iso")
    created = 0
    for index, (start, end, mode) in enumerate(ranges):
        if stamps[index].as_py() is None or stamps[len(ranges) + index].as_py() is None:
            raise InvalidInput(f"Label range {index + 1}: unparseable time in {start!r} or {end!r}.",
                               code="lookout_labels")
        occurred = pc.cast(stamps[index:index + 1], pa.timestamp("us", "UTC"))[0].as_py()
        _, new = FailureEvent.objects.get_or_create(
            machine=machine, occurred_at=occurred,
            defaults={"failure_mode": mode, "source": FailureEvent.Source.LABEL,
                      "notes": f"Lookout label range {start} .. {end}"})
        created += int(new)
    return created


def lookout_import(*, folder: Path, machine_type_key: str, machine_name: str,
                   labels: Path | None = None) -> LookoutImport:
    machine_type = MachineType.objects.filter(key=machine_type_key).first()
    if machine_type is None:
        raise InvalidInput(f"Unknown machine type '{machine_type_key}'.", details={"machine_type": ["unknown"]})
    unmapped: list[str] = []
    components = {name: _read_component(paths, machine_type.metadata, unmapped)
                  for name, paths in _component_tables(folder, labels).items()}
    table = _joined(components)
    sensors = [name for name in table.column_names if name != TIME]
    if not sensors:
        raise InvalidInput("No column of these files matches a sensor of the machine type.",
                           code="lookout_no_sensors", details={"unmapped": unmapped})
    mapping = ColumnMapping(time_column=TIME, machine_name=machine_name, create_unknown_machines=True,
                            sensors={name: name for name in sensors})
    with transaction.atomic():
        result = readings_ingest(source=MemoryTable.of(table), mapping=mapping, machine_type=machine_type)
        events = 0
        if labels is not None:
            events = _label_events(Machine.objects.get(name=machine_name), _labels(labels, machine_type.metadata))
    return LookoutImport(result=result, components=sorted(components), unmapped_columns=unmapped,
                         failure_events=events)
