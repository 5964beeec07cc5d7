"""Writes about machine types and machines."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from billing.quotas import machine_quota_guard
from engine.metadata_checks import MetadataInvalid, metadata_check
from machines.library import library_get, metadata_import
from machines.models import Machine, MachineType
from machines.observations import summary_slots
from machines.selectors import machines_in_use
from machines.signals import machine_type_created
from pdm_saas.errors import Conflict, InvalidInput, NotFound
from tenants.db import connection


def _invalid_metadata(exc: MetadataInvalid) -> InvalidInput:
    problems = [{"path": p.path, "message": p.message} for p in exc.problems]
    first = problems[0] if problems else {"path": "$", "message": "invalid"}
    return InvalidInput(
        f"The machine type document is invalid at {first['path']}: {first['message']}"
        + (f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""),
        code="invalid_metadata", details={"problems": problems},
    )


def _checked(document: Any) -> dict[str, Any]:
    try:
        return metadata_check(document)
    except MetadataInvalid as exc:
        raise _invalid_metadata(exc) from exc


def _type_create(*, document: dict[str, Any], source: str) -> MachineType:
    if MachineType.objects.filter(key=document["key"]).exists():
        raise Conflict(f"A machine type with key '{document['key']}' already exists.", code="type_exists",
                       details={"key": ["taken"]})
    with transaction.atomic():
        machine_type = MachineType.objects.create(
            key=document["key"], name=document["name"], category=document["category"],
            metadata=document, source=source,
        )
        machine_type_created.send(sender=MachineType, machine_type=machine_type)
    return machine_type


def machine_type_adopt(*, key: str) -> MachineType:
    """Copy a built-in type into the tenant's own types."""
    try:
        document = copy.deepcopy(library_get(key))
    except KeyError as exc:
        raise NotFound(f"No built-in machine type '{key}'.") from exc
    return _type_create(document=document, source=MachineType.Source.LIBRARY)


def machine_type_import(*, document: Any) -> MachineType:
    """Create a type from a metadata document (a parsed object, or JSON text or bytes)."""
    try:
        checked = metadata_import(document) if isinstance(document, (str, bytes)) else metadata_check(document)
    except MetadataInvalid as exc:
        raise _invalid_metadata(exc) from exc
    return _type_create(document=checked, source=MachineType.Source.IMPORTED)


@transaction.atomic
def machine_type_update(*, type_id: int, document: Any) -> MachineType:
    machine_type = MachineType.objects.select_for_update().filter(id=type_id).first()
    if machine_type is None:
        raise NotFound("No such machine type.")
    checked = _checked(document)
    if checked["key"] != machine_type.key:
        raise InvalidInput("The key of a machine type cannot change.", code="key_immutable",
                           details={"problems": [{"path": "$.key", "message": f"expected '{machine_type.key}'"}]})
    machine_type.metadata = checked
    machine_type.name = checked["name"]
    machine_type.category = checked["category"]
    machine_type.version += 1
    machine_type.save()
    return machine_type


def machine_type_delete(*, type_id: int) -> None:
    machine_type = MachineType.objects.filter(id=type_id).first()
    if machine_type is None:
        raise NotFound("No such machine type.")
    if machine_type.machines.exists():
        raise Conflict("Machines of this type exist; delete or move them first.", code="type_in_use")
    if machine_type.uploads.exists():
        # Uploads keep their files and reports for the record; a type they were read with stays.
        raise Conflict("Files were uploaded for this type; it is kept with their history.", code="type_in_use",
                       details={"uploads": machine_type.uploads.count()})
    machine_type.delete()


def _default_downtime_cost(machine_type: MachineType) -> Decimal | None:
    value = machine_type.metadata.get("costs", {}).get("downtime_per_hour")
    return Decimal(str(value)) if value is not None else None


def _machine_quota(*, adding: int) -> None:
    """The plan's machine limit; retired machines don't count. Inside the creating transaction."""
    machine_quota_guard(tenant_id=connection.tenant.id, adding=adding, used=machines_in_use)


def machine_create(
    *, machine_type_id: int, name: str, site: str = "", line: str = "", position: str = "",
    serial_number: str = "", criticality: str = Machine.Criticality.MEDIUM,
    downtime_cost_per_hour: Decimal | None = None, install_date: date | None = None,
    status: str = Machine.Status.ACTIVE,
) -> Machine:
    machine_type = MachineType.objects.filter(id=machine_type_id).first()
    if machine_type is None:
        raise InvalidInput("Unknown machine type.", details={"machine_type": ["does not exist"]})
    name = name.strip()
    if not name:
        raise InvalidInput("A machine needs a name.", details={"name": ["required"]})
    try:
        with transaction.atomic():
            if status != Machine.Status.RETIRED:
                _machine_quota(adding=1)
            return Machine.objects.create(
                machine_type=machine_type, name=name, site=site, line=line, position=position,
                serial_number=serial_number, criticality=criticality,
                downtime_cost_per_hour=downtime_cost_per_hour or _default_downtime_cost(machine_type),
                install_date=install_date, status=status,
            )
    except IntegrityError as exc:  # the unique name, also under concurrent creation
        raise Conflict(f"A machine named '{name}' already exists.", code="machine_exists",
                       details={"name": ["taken"]}) from exc


@transaction.atomic
def machines_create_named(*, machine_type_id: int, names: Sequence[str], site: str = "",
                          line: str = "") -> list[Machine]:
    """Several machines of one type at once (the wizard's "add machines"); all or none."""
    cleaned = [n.strip() for n in names if n.strip()]
    if not cleaned:
        raise InvalidInput("Give at least one machine name.", details={"names": ["required"]})
    repeated = sorted({n for n in cleaned if cleaned.count(n) > 1})
    if repeated:
        raise InvalidInput(f"Names given twice: {', '.join(repeated)}.", details={"names": repeated})
    _machine_quota(adding=len(cleaned))  # all or none against the plan, too
    return [machine_create(machine_type_id=machine_type_id, name=n, site=site, line=line) for n in cleaned]


def machine_update(*, machine_id: int, **fields: Any) -> Machine:
    machine = Machine.objects.filter(id=machine_id).first()
    if machine is None:
        raise NotFound("No such machine.")
    returning = machine.status == Machine.Status.RETIRED and fields.get("status", machine.status) != machine.status
    for field, value in fields.items():
        setattr(machine, field, value)
    try:
        with transaction.atomic():
            if returning:  # a retired machine back in service counts against the plan again
                _machine_quota(adding=1)
            machine.save()
    except IntegrityError as exc:
        raise Conflict(f"A machine named '{machine.name}' already exists.", code="machine_exists",
                       details={"name": ["taken"]}) from exc
    return machine


@transaction.atomic
def machine_delete(*, machine_id: int) -> None:
    """Delete a machine with its readings (the reading store has no foreign key: it is
    partitioned and written by COPY, so the cascade is done here)."""
    deleted, _ = Machine.objects.filter(id=machine_id).delete()
    if not deleted:
        raise NotFound("No such machine.")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM machines_reading WHERE machine_id = %s", [machine_id])


def readings_truncate(*, drop_partitions: bool = False) -> None:
    """Empty the current tenant's reading store at once (benchmarks start from nothing). With
    `drop_partitions`, the monthly partitions go too, as before a first upload (which creates
    them); the DEFAULT partition stays: it belongs to the schema."""
    with connection.cursor() as cursor:
        if drop_partitions:
            cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                           "WHERE i.inhparent = 'machines_reading'::regclass "
                           "AND c.relname <> 'machines_reading_default'")
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP TABLE "{name}"')
        cursor.execute("TRUNCATE machines_reading")


MACHINE_FILE_FIELDS = ("name", "machine_type", "site", "line", "position", "serial_number", "criticality",
                       "downtime_cost_per_hour", "install_date", "status")


def _machine_row(line: int, row: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    from machines.serializers import MachineSerializer

    values = {key: value for key, value in row.items() if key in MACHINE_FILE_FIELDS and value != ""}
    body = MachineSerializer(data=values)
    if not body.is_valid():
        return {}, [f"line {line}: {field}: {'; '.join(str(m) for m in messages)}"
                    for field, messages in body.errors.items()]
    return dict(body.validated_data), []


@transaction.atomic
def machines_import_file(*, data: bytes) -> list[Machine]:
    """Create machines from a CSV (columns as MACHINE_FILE_FIELDS; `name` and `machine_type`
    required). All or nothing: any bad row refuses the whole file, listing every problem."""
    from machines.textfiles import table_columns_check, table_problems_refuse, table_rows

    header, rows = table_rows(data)
    table_columns_check(header, required=("name", "machine_type"), allowed=MACHINE_FILE_FIELDS, what="machine file")
    parsed, problems = [], []
    for line, row in rows:
        fields, row_problems = _machine_row(line, row)
        parsed.append(fields)
        problems += row_problems
    names = [fields.get("name") for fields in parsed]
    problems += [f"name '{name}' appears more than once" for name in {n for n in names if names.count(n) > 1}]
    table_problems_refuse(problems, what="machine file")
    _machine_quota(adding=sum(1 for fields in parsed if fields.get("status") != Machine.Status.RETIRED))
    return [machine_create(machine_type_id=fields.pop("machine_type").id, **fields) for fields in parsed]


@transaction.atomic
def machine_type_slots(machine_type: MachineType) -> list[str]:
    """The type's sensors in reading-store order (`vals[i]` is `slots[i]`): existing slots
    first, never reordered or removed, then sensors the metadata gained since. A categorical
    sensor's value is stored as the index of its category; an array sensor's as its per-row
    summaries, one slot each (machines/observations.py)."""
    locked = MachineType.objects.select_for_update().get(id=machine_type.id)
    slots = list(locked.sensor_slots or [])
    wanted = [slot for sensor in locked.schema.sensors
              for slot in (summary_slots(sensor.name) if sensor.array else [sensor.name])]
    added = [slot for slot in wanted if slot not in slots]
    if added:
        slots += added
        MachineType.objects.filter(id=locked.id).update(sensor_slots=slots)
    machine_type.sensor_slots = slots
    return slots

