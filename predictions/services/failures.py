"""Failure events entered by hand (other sources: uploads and closed work orders)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from machines.models import Machine
from machines.textfiles import table_columns_check, table_problems_refuse, table_rows
from pdm_saas.errors import InvalidInput
from predictions.models import FailureEvent


def failure_event_create(*, machine: Machine, occurred_at: datetime, failure_mode: str = "",
                         notes: str = "") -> FailureEvent:
    modes = {mode["name"] for mode in machine.machine_type.metadata.get("failure_modes", [])}
    if failure_mode and failure_mode not in modes:
        raise InvalidInput(f"Unknown failure mode {failure_mode!r} for {machine.machine_type.name}.",
                           details={"failure_mode": [f"one of {sorted(modes)}"]})
    return FailureEvent.objects.create(machine=machine, occurred_at=occurred_at, failure_mode=failure_mode,
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
    mode = row.get("failure_mode", "")
    modes = {m["name"] for m in machine.machine_type.metadata.get("failure_modes", [])}
    if mode and mode not in modes:
        return None, f"line {line}: unknown failure mode {mode!r} (known: {', '.join(sorted(modes))})"
    return (machine, occurred, mode, row.get("notes", "")), None
