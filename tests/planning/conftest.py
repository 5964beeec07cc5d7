"""Planning tests plan exactly the machines they make.

A plan covers every active machine of the tenant, and other modules commit machines into acme for
the whole session (the trained ABB motor, `trained_motor`, whose onboarding leaves ABB-101 with a
critical alert). Which of them exist when planning runs depends on the order of the modules, so
each planning test that touches the database first removes them, and their types, inside its own
transaction, which is rolled back after it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import tenant_context

from machines.models import Machine, MachineType


@pytest.fixture(autouse=True)
def _without_committed_machines(request: pytest.FixtureRequest, world: Any) -> None:
    if request.node.get_closest_marker("django_db") is None and "db" not in request.fixturenames:
        return  # a plain test (the optimizer on its own inputs)
    request.getfixturevalue("db")
    with tenant_context(world.acme):
        Machine.objects.all().delete()
        MachineType.objects.all().delete()
