"""Fixtures of the machines tests: acme's Siemens motor type, with and without its machine M-1
(adopted inside the test's transaction, so rolled back after it)."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import tenant_context

from machines.models import MachineType
from machines.services import machine_create, machine_type_adopt

MOTOR = "induction-motor-siemens-1la7"


@pytest.fixture
def motor_type(db: None, world: Any) -> MachineType:
    with tenant_context(world.acme):
        return machine_type_adopt(key=MOTOR)


@pytest.fixture
def motor(motor_type: MachineType, world: Any) -> MachineType:
    with tenant_context(world.acme):
        machine_create(machine_type_id=motor_type.id, name="M-1")
    return motor_type
