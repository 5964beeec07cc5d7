"""Running hours and cycles from real stored readings (machines/usage.py): what counts as running,
a gap in the data, a missing value, the period's edges, and a signal the type does not have."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from machines.live import readings_push
from machines.models import Machine, MachineType
from machines.services import machine_create
from machines.usage import MAX_GAP, machine_cycles, machine_running_hours
from pdm_saas.errors import InvalidInput

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 1, tzinfo=UTC)
# Hour -> shaft speed (rpm); None: the reading carries no speed. Nothing between hour 8 and 20: a
# 12 h gap, longer than MAX_GAP, counts for nothing even though the machine ran on both sides.
SPEEDS: dict[int, float | None] = {0: 1450, 1: 1450, 2: 1450, 3: 0, 4: 0, 5: 1450, 6: 1450, 7: None, 8: 1450,
                                   20: 1450, 21: 0, 22: 1450, 23: 1450}


def at(hour: int) -> datetime:
    return T0 + timedelta(hours=hour)


@pytest.fixture
def m1(motor_type: MachineType, world: Any) -> Machine:
    """M-1 with SPEEDS stored as its readings (plus a current, so a reading without speed exists)."""
    with tenant_context(world.acme):
        machine = machine_create(machine_type_id=motor_type.id, name="M-1")
        items = [{"machine": "M-1", "ts": at(hour).isoformat(),
                  "values": {"current_a": 20.0, **({"speed_rpm": speed} if speed is not None else {})}}
                 for hour, speed in SPEEDS.items()]
        assert not readings_push(items=items).rejected
        return Machine.objects.select_related("machine_type").get(id=machine.id)


def test_running_hours_count_running_stretches_not_gaps_nor_missing_values(m1: Machine, in_acme: Any) -> None:
    assert MAX_GAP == timedelta(hours=6)
    # 0-3 (3 h), 5-7 (2 h), 20-21 (1 h), 22-23 (1 h); not 7-8 (no speed), not 8-20 (the gap), not 23- (last).
    hours = machine_running_hours(machine=m1, signal="speed_rpm", threshold=100, since=at(0), until=at(24))
    assert hours == pytest.approx(7.0)
    # A higher threshold than the machine ever reaches: never running.
    assert machine_running_hours(machine=m1, signal="speed_rpm", threshold=2000, since=at(0), until=at(24)) == 0


def test_cycles_count_starts(m1: Machine, in_acme: Any) -> None:
    # Starts at hour 5 (after 0) and 22 (after 0); hour 8 follows a reading without speed: not a start.
    assert machine_cycles(machine=m1, signal="speed_rpm", threshold=100, since=at(0), until=at(24)) == 2


def test_the_period_is_half_open_and_counts_only_what_is_inside(m1: Machine, in_acme: Any) -> None:
    hours = machine_running_hours(machine=m1, signal="speed_rpm", threshold=100, since=at(1), until=at(22))
    assert hours == pytest.approx(5.0)  # 1-3, 5-7, 20-21
    assert machine_cycles(machine=m1, signal="speed_rpm", threshold=100, since=at(1), until=at(22)) == 1
    # A period with no readings, and one reading alone: nothing.
    assert machine_running_hours(machine=m1, signal="speed_rpm", threshold=100, since=at(30), until=at(40)) == 0
    assert machine_running_hours(machine=m1, signal="speed_rpm", threshold=100, since=at(23), until=at(24)) == 0


def test_a_signal_the_type_lacks_is_refused_and_one_never_stored_counts_nothing(m1: Machine, in_acme: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        machine_running_hours(machine=m1, signal="pressure_bar", threshold=1, since=at(0), until=at(24))
    assert "M-1 has no numeric signal 'pressure_bar'" in refused.value.message
    assert "speed_rpm" in str(refused.value.details["signal"])
    # The type has a vibration sensor, but no stored reading carried it yet.
    assert machine_cycles(machine=m1, signal="vibration_de_mm_s", threshold=1, since=at(0), until=at(24)) == 0


def test_another_machines_readings_do_not_count(m1: Machine, world: Any) -> None:
    with tenant_context(world.acme):
        other = machine_create(machine_type_id=m1.machine_type_id, name="M-2")
        assert not readings_push(items=[{"machine": "M-2", "ts": at(h).isoformat(), "values": {"speed_rpm": 1500.0}}
                                        for h in range(24)]).rejected
        assert machine_running_hours(machine=other, signal="speed_rpm", threshold=100, since=at(0),
                                     until=at(24)) == pytest.approx(23.0)
        assert machine_running_hours(machine=m1, signal="speed_rpm", threshold=100, since=at(0),
                                     until=at(24)) == pytest.approx(7.0)
