"""Reads about machines: the machine types, machines, uploads and mapping presets the pages and
the API list, readings from the reading store, and the failure events that explanations show as
similar past cases (with what tells when the machines' normals changed)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db.models import Count, Max, QuerySet

from engine.metadata import observation_labels
from machines.models import (
    FailureEvent,
    Machine,
    MachineBaseline,
    MachineType,
    MappingPreset,
    ObservationLabel,
    Upload,
    UploadDeletion,
)
from machines.reading_store import sensor_slots, slot_values
from tenants.db import connection


def readings_for_machine(
    *, machine: Machine, start: datetime | None = None, end: datetime | None = None, limit: int = 10_000,
) -> list[tuple[datetime, dict[str, Any]]]:
    """(time, {sensor: value}) of one machine in time order, `start` <= ts < `end`. The values
    are named through the type's sensor slots; slots without a value are left out."""
    slots: list[str] = list(machine.machine_type.sensor_slots or [])
    sql = "SELECT ts, vals FROM machines_reading WHERE machine_id = %s"
    params: list[Any] = [machine.id]
    if start is not None:
        sql, params = sql + " AND ts >= %s", [*params, start]
    if end is not None:
        sql, params = sql + " AND ts < %s", [*params, end]
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY ts LIMIT %s", [*params, limit])
        rows = cursor.fetchall()
    categories = machine.machine_type.schema.categories

    def named(vals: list[float | None]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, value in zip(slots, vals, strict=False):
            shown = _slot_value(value, categories.get(name))
            if shown is not None:
                values[name] = shown
        return values

    return [(ts, named(vals)) for ts, vals in rows]


def _slot_value(value: float | None, categories: Sequence[str] | None) -> float | str | None:
    """A stored slot as a reader shows it; None (left out) for a value that is no reading: NaN or
    +-inf written before the ingest refused them, or an index naming no category."""
    if value is None or not math.isfinite(value):
        return None
    if categories is None:
        return value
    index = int(value)
    return categories[index] if index == value and 0 <= index < len(categories) else None


def readings_count(*, machine_id: int | None = None) -> int:
    """Readings in the current tenant, or of one machine."""
    with connection.cursor() as cursor:
        if machine_id is None:
            cursor.execute("SELECT count(*) FROM machines_reading")
        else:
            cursor.execute("SELECT count(*) FROM machines_reading WHERE machine_id = %s", [machine_id])
        return int(cursor.fetchone()[0])


def readings_recent(*, machine: Machine, limit: int = 2_000) -> list[tuple[datetime, dict[str, Any]]]:
    """The machine's last `limit` readings, oldest first (what a chart of "now" shows)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT min(ts) FROM (SELECT ts FROM machines_reading WHERE machine_id = %s "
                       "ORDER BY ts DESC LIMIT %s) recent", [machine.id, limit])
        start = cursor.fetchone()[0]
    if start is None:
        return []
    return readings_for_machine(machine=machine, start=start, limit=limit)


@dataclass(frozen=True)
class Observations:
    """A type's stored observations: one row per reading row, its slot values, and its labels.

    `values` is (rows, slots) float64, NaN for a missing value; `labels[name]` holds each row's
    class, or None where the row has no such label."""

    machine_ids: np.ndarray
    ts: list[datetime]
    slots: list[str]
    values: np.ndarray
    labels: dict[str, np.ndarray]


def observations_of_type(*, machine_type: MachineType) -> Observations:
    """Every observation of the type's machines, ordered by machine and time, with its labels."""
    slots = sensor_slots(machine_type_id=machine_type.id)
    machine_ids = list(Machine.objects.filter(machine_type=machine_type).values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT machine_id, ts, vals FROM machines_reading WHERE machine_id = ANY(%s) "
                       "ORDER BY machine_id, ts", [machine_ids])
        rows = cursor.fetchall()
    values = slot_values([row[2] for row in rows], len(slots))
    values[~np.isfinite(values)] = np.nan
    place = {(row[0], row[1]): index for index, row in enumerate(rows)}
    labels: dict[str, np.ndarray] = {item["name"]: np.full(len(rows), None, dtype=object)
                                     for item in observation_labels(machine_type.metadata)}
    stored = ObservationLabel.objects.filter(machine_id__in=machine_ids).values_list("machine_id", "ts", "label",
                                                                                     "value")
    for machine_id, ts, label, value in stored.iterator(chunk_size=10_000):
        found = place.get((machine_id, ts))
        if found is not None and label in labels:
            labels[label][found] = value
    return Observations(machine_ids=np.array([row[0] for row in rows], dtype=np.int64), ts=[row[1] for row in rows],
                        slots=slots, values=values, labels=labels)


def upload_readings_by_machine(*, upload_id: int) -> list[tuple[Machine, int]]:
    """The readings an upload stored and still holds, per machine (by name): what deleting it
    removes. Readings it found already stored belong to the upload that stored them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT machine_id, count(*) FROM machines_reading WHERE upload_id = %s GROUP BY machine_id",
                       [upload_id])
        counts = dict(cursor.fetchall())
    machines = Machine.objects.filter(id__in=counts).order_by("name")
    return [(machine, int(counts[machine.id])) for machine in machines]


def machines_in_use() -> int:
    """Machines that count against the plan (retired ones do not), in the current tenant's
    schema: what billing's quota and billing page are given (billing does not read machines)."""
    return Machine.objects.exclude(status=Machine.Status.RETIRED).count()


# --- machine types, machines, uploads -----------------------------------------------------------


def machine_type_list() -> QuerySet[MachineType]:
    """The tenant's machine types by name."""
    return MachineType.objects.order_by("name")


def machine_type_list_with_counts() -> QuerySet[MachineType]:
    """The machine types by name, each with `machine_count`, its machines of any status."""
    return MachineType.objects.annotate(machine_count=Count("machines"))


def machine_type_get(*, type_id: int | None) -> MachineType | None:
    """The machine type, or None (no id, or no such type in this tenant)."""
    return MachineType.objects.filter(id=type_id).first() if type_id is not None else None


def machine_type_by_key(*, key: str) -> MachineType | None:
    """The tenant's type adopted or imported under this library key, if any."""
    return MachineType.objects.filter(key=key).first()


def machine_type_keys() -> set[str]:
    """The keys of the tenant's types: the built-in types it has adopted already."""
    return set(MachineType.objects.values_list("key", flat=True))


def machine_type_documents() -> dict[int, dict[str, Any]]:
    """Every type's metadata document by type id (one query; for labels of signals and modes)."""
    return {type_id: document or {} for type_id, document in MachineType.objects.values_list("id", "metadata")}


def machine_list(*, machine_type_id: int | None = None) -> QuerySet[Machine]:
    """The machines by name, with their type; of one type when given."""
    machines = Machine.objects.select_related("machine_type").order_by("name")
    return machines.filter(machine_type_id=machine_type_id) if machine_type_id is not None else machines


def machine_names(*, machine_type_id: int | None = None, limit: int | None = None) -> list[str]:
    """The machines' names in order; of one type when given, the first `limit` when given."""
    machines = Machine.objects.order_by("name")
    if machine_type_id is not None:
        machines = machines.filter(machine_type_id=machine_type_id)
    return list(machines.values_list("name", flat=True)[:limit])


def upload_list(*, machine_type_id: int | None = None) -> QuerySet[Upload]:
    """Uploads newest first, with their type; of one type when given."""
    uploads = Upload.objects.select_related("machine_type")
    return uploads.filter(machine_type_id=machine_type_id) if machine_type_id is not None else uploads


def upload_deletion_get(*, upload_id: int) -> UploadDeletion | None:
    """Who removed the upload's readings and when, if they were removed."""
    return UploadDeletion.objects.filter(upload_id=upload_id).first()


def mapping_preset_list(*, machine_type_id: int) -> QuerySet[MappingPreset]:
    """The type's saved column mappings, by name."""
    return MappingPreset.objects.filter(machine_type_id=machine_type_id)


def mapping_preset_get(*, machine_type_id: int, name: str) -> MappingPreset | None:
    return mapping_preset_list(machine_type_id=machine_type_id).filter(name=name).first()


def mapping_preset_latest(*, machine_type_id: int) -> MappingPreset | None:
    """The type's most recently saved mapping."""
    return mapping_preset_list(machine_type_id=machine_type_id).order_by("-updated_at").first()


# --- failure events as past cases ----------------------------------------------------------------


@dataclass(frozen=True)
class PastFailure:
    """A failure event of a machine as the similar-past-cases search reads it."""

    id: int
    machine_id: int
    machine_name: str
    occurred_at: datetime
    failure_mode: str


def failure_events_of_type(*, machine_type_id: int) -> list[PastFailure]:
    """Every failure event of the type's machines, by machine and time (one query)."""
    rows = (FailureEvent.objects.filter(machine__machine_type_id=machine_type_id)
            .order_by("machine_id", "occurred_at", "id")
            .values_list("id", "machine_id", "machine__name", "occurred_at", "failure_mode"))
    return [PastFailure(*row) for row in rows]


def baselines_fingerprint(*, machine_ids: Sequence[int]) -> tuple[Any, ...]:
    """Changes whenever one of the machines' normal does (a baseline started, reset, completed or
    recomputed): the count and newest id of their baseline rows, how many are ready, the latest
    readiness. One aggregate query."""
    found = MachineBaseline.objects.filter(machine_id__in=list(machine_ids)).aggregate(
        rows=Count("id"), newest=Max("id"), ready=Count("ready_at"), ready_at=Max("ready_at"))
    return tuple(found.values())
