from __future__ import annotations

import pytest
from django_tenants.utils import tenant_context

from machines.services import machine_create, machine_type_adopt

MOTOR = "induction-motor-siemens-1la7"


@pytest.fixture
def motor(db, world):
    """A machine in acme (Motor-001, a Siemens 1LA7-class motor)."""
    with tenant_context(world.acme):
        machine_type = machine_type_adopt(key=MOTOR)
        return machine_create(machine_type_id=machine_type.id, name="Motor-001", site="Plant A")


@pytest.fixture
def in_acme(world):
    with tenant_context(world.acme):
        yield world.acme
