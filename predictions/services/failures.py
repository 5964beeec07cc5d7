"""Failure events entered by hand (other sources: uploads and closed work orders)."""

from __future__ import annotations

from datetime import datetime

from machines.models import Machine
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
