"""Failure events entered by hand (other sources: uploads and closed work orders)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from engine.metadata import failure_mode_for_label, failure_modes_listed
from machines.models import FailureEvent, Machine, MachineType
from machines.textfiles import table_columns_check, table_problems_refuse, table_rows
from pdm_saas.errors import InvalidInput


def failure_mode_resolve(*, machine_type: MachineType, label: str, field: str = "failure_mode") -> str:
    """The failure mode a label names, by name or by an alias of the type's metadata (`TWF`);
    "" for none. A label naming no mode is refused with the modes the type knows."""
    if not label.strip():
        return ""
    mode = failure_mode_for_label(machine_type.metadata, label.strip())
    if mode is None:
        raise InvalidInput(f"Unknown failure mode {label[:40]!r} for {machine_type.name}; its failure modes: "
                           f"{failure_modes_listed(machine_type.metadata)}.", code="unknown_failure_mode",
                           details={field: [f"one of {failure_modes_listed(machine_type.metadata)}"]})
    return mode


def failure_event_create(*, machine: Machine, occurred_at: datetime, failure_mode: str = "",
                         notes: str = "") -> FailureEvent:
    mode = failure_mode_resolve(machine_type=machine.machine_type, label=failure_mode)
    return FailureEvent.objects.create(machine=machine, occurred_at=occurred_at, failure_mode=mode,
                                       notes=notes, source=FailureEvent.Source.MANUAL)


FAILURE_FILE_COLUMNS = ("machine", "occurred_at", "failure_mode", "notes")


@transaction.atomic
def failure_events_import(*, data: bytes) -> list[FailureEvent]:
    """Failure events from a CSV (machine, occurred_at, optional failure_mode and notes). All or
    nothing: every problem is listed with its line; an event already recorded is not repeated."""
    header, rows = table_rows(data)
    table_columns_check(header, required=("machine", "occurred_at"), allowed=FAILURE_FILE_COLUMNS, what="failure file")
    machines = {m.name: m for m in Machine.objects.select_related("machine_type")
                .filter(name__in={row["machine"] for _, row in rows})}
    parsed, problems = [], []
    for line, row in rows:
        event, problem = _failure_row(line, row, machines)
        parsed += [event] if event else []
        problems += [problem] if problem else []
    table_problems_refuse(problems, what="failure file")
    return [FailureEvent.objects.get_or_create(machine=machine, occurred_at=occurred, defaults={
        "failure_mode": mode, "notes": notes, "source": FailureEvent.Source.IMPORT})[0]
        for machine, occurred, mode, notes in parsed]


def _failure_row(line: int, row: dict[str, str], machines: dict[str, Machine]) -> tuple[Any, str | None]:
    machine = machines.get(row["machine"])
    if machine is None:
        return None, f"line {line}: unknown machine {row['machine']!r}"
    occurred = parse_datetime(row["occurred_at"]) if row["occurred_at"] else None
    if occurred is None:
        return None, f"line {line}: occurred_at {row['occurred_at']!r} is not an ISO 8601 time"
    if timezone.is_naive(occurred):
        occurred = timezone.make_aware(occurred, UTC)
    try:
        mode = failure_mode_resolve(machine_type=machine.machine_type, label=row.get("failure_mode", ""))
    except InvalidInput:
        document = machine.machine_type.metadata
        return None, (f"line {line}: unknown failure mode {row['failure_mode'][:40]!r} "
                      f"(known: {failure_modes_listed(document)})")
    return (machine, occurred, mode, row.get("notes", "")), None
