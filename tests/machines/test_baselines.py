"""Each machine's own normal in the database: its stretch, progress, statistics and resets."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from engine.synthetic.scales import type_time_scale
from machines.baselines import (
    DEFAULT_DAYS,
    FIRST_READINGS,
    MAX_DEFAULT_STEPS,
    baseline_length,
    baseline_status,
    machine_baseline_reset,
    machine_baselines_refresh,
)
from machines.library import library_get
from machines.live import readings_push
from machines.models import Machine, MachineBaseline
from machines.services import machine_create, machine_type_adopt, machine_type_update
from pdm_saas.errors import InvalidInput

JSON = "application/json"


@pytest.fixture
def drive(db: None, world: Any) -> Machine:
    """Acme's machine Drive-1 of the Siemens motor type (time-indexed readings)."""
    with tenant_context(world.acme):
        machine_type = machine_type_adopt(key="induction-motor-siemens-1la7")
        return machine_create(machine_type_id=machine_type.id, name="Drive-1")
START = datetime(2026, 3, 2, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _sensor(machine: Machine) -> str:
    return next(s["name"] for s in machine.machine_type.sensors if s["kind"] != "categorical")


def _noise(i: int) -> float:
    """A spread of distinct values (a few repeated levels would read as operating set points)."""
    return (i * 7919 % 1000) / 500


def _push(machine: Machine, *, hours: int, start: datetime = START, value: float = 50.0, step_s: float = 3600) -> None:
    sensor = _sensor(machine)
    items = [{"machine": machine.name, "ts": (start + timedelta(seconds=i * step_s)).isoformat(),
              "values": {sensor: value + _noise(i)}} for i in range(hours)]
    assert not readings_push(items=items).rejected


def test_a_machine_without_readings_is_learning_from_its_first_readings(drive, in_acme):
    status = baseline_status(machine=drive)
    assert (status.state, status.progress, status.since, status.reason) == ("learning", 0, None, FIRST_READINGS)
    assert status.label == "learning its normal (0%)"


def test_progress_counts_the_stretch_covered(drive, in_acme):
    _push(drive, hours=72)  # three days of the default seven
    status = baseline_status(machine=drive)
    assert status.learning and status.progress == int(100 * 72 / 168)
    assert status.since == START


def test_cycle_indexed_machines_count_cycles(drive, in_acme):
    _push(drive, hours=10, start=EPOCH + timedelta(seconds=1), step_s=1)  # cycles 1-10
    assert baseline_status(machine=drive).progress == 50  # of the default 20 cycles


def test_lengths_from_the_metadata():
    document: dict[str, Any] = {"failure_modes": [{"mean_time_to_failure_hours": 2000},
                                                  {"mean_time_to_failure_hours": 2000}]}
    assert baseline_length(document, cycle_indexed=False) == (168, 3600.0)
    assert baseline_length(document, cycle_indexed=True) == (20, 1.0)  # no cycle length known
    assert baseline_length({**document, "hours_per_cycle": 2}, cycle_indexed=True) == (50, 1.0)  # 10% of 1000 h
    assert baseline_length({**document, "baseline": {"days": 2, "cycles": 8}}, cycle_indexed=False) == (48, 3600.0)
    assert baseline_length({**document, "baseline": {"days": 2, "cycles": 8}}, cycle_indexed=True) == (8, 1.0)


def test_a_type_with_short_steps_learns_its_normal_in_48_of_them():
    mill = library_get("ai4i-milling-machine")  # simulated at 30 min steps (its P-F intervals)
    assert type_time_scale(mill).step_hours == 0.5
    assert baseline_length(mill, cycle_indexed=False) == (MAX_DEFAULT_STEPS // 2, 3600.0)  # a day, not a week
    motor = library_get("induction-motor-abb-m3bp")  # daily steps: a week is the shorter
    assert baseline_length(motor, cycle_indexed=False) == (DEFAULT_DAYS * 24, 3600.0)
    assert baseline_length({**mill, "baseline": {"days": 3}}, cycle_indexed=False) == (72, 3600.0)


def test_statistics_once_the_stretch_is_complete(drive, in_acme):
    _push(drive, hours=100)
    names = {drive.id: drive.name}
    ready, learning = machine_baselines_refresh(machine_type=drive.machine_type, machines=names, step_hours=1.0,
                                                time_scale=1.0)
    assert ready == {} and learning == {drive.name: int(100 * 100 / 168)}
    _push(drive, hours=100, start=START + timedelta(hours=100), value=80.0)  # past the 7 days: not in it
    ready, learning = machine_baselines_refresh(machine_type=drive.machine_type, machines=names, step_hours=1.0,
                                                time_scale=1.0)
    assert learning == {} and ready[drive.name].steps == 168
    assert ready[drive.name].levels[_sensor(drive)] == pytest.approx(
        (sum(50 + _noise(i) for i in range(100)) + sum(80 + _noise(i) for i in range(68))) / 168, abs=1e-3)
    status = baseline_status(machine=drive)
    assert (status.state, status.progress, status.reason) == ("ready", 100, FIRST_READINGS)
    row = MachineBaseline.objects.get(machine=drive)
    assert row.ready_at is not None and row.stats["step_hours"] == 1.0


def test_reset_needs_readings(drive, in_acme):
    with pytest.raises(InvalidInput, match="no readings yet") as refused:
        machine_baseline_reset(machine_id=drive.id, reason="reset by test")
    assert refused.value.code == "no_readings"


def test_reset_starts_after_the_latest_reading(drive, in_acme):
    _push(drive, hours=200)
    machine_baselines_refresh(machine_type=drive.machine_type, machines={drive.id: drive.name}, step_hours=1.0,
                              time_scale=1.0)
    assert baseline_status(machine=drive).state == "ready"
    machine_baseline_reset(machine_id=drive.id, reason="reset by Ann")
    status = baseline_status(machine=drive)
    assert (status.state, status.progress, status.since, status.reason) == ("learning", 0, None, "reset by Ann")
    _push(drive, hours=24, start=START + timedelta(hours=200))
    status = baseline_status(machine=drive)
    assert status.progress == int(100 * 24 / 168) and status.since == START + timedelta(hours=200)


def test_a_repair_starts_a_new_baseline(client_for, drive, world):
    with tenant_context(world.acme):
        _push(drive, hours=10)
    engineer = client_for("engineer")
    order = engineer.post("/api/v1/work-orders/", {"machine": drive.name, "title": "Bearing"}, content_type=JSON).json()
    url = f"/api/v1/work-orders/{order['id']}/"
    assert engineer.post(url + "transition/", {"status": "in_progress"}, content_type=JSON).status_code == 200
    closed = engineer.post(url + "close/", {"failure_found": True, "failure_mode_found": "bearing_wear",
                                            "action_taken": "Replaced DE bearing"}, content_type=JSON)
    assert closed.status_code == 200, closed.content
    with tenant_context(world.acme):
        assert baseline_status(machine=drive).reason == f"after work order #{order['id']}"


def test_an_inspection_that_found_nothing_keeps_the_baseline(client_for, drive, world):
    with tenant_context(world.acme):
        _push(drive, hours=10)
    engineer = client_for("engineer")
    order = engineer.post("/api/v1/work-orders/", {"machine": drive.name, "title": "Look"}, content_type=JSON).json()
    url = f"/api/v1/work-orders/{order['id']}/"
    engineer.post(url + "transition/", {"status": "in_progress"}, content_type=JSON)
    engineer.post(url + "close/", {"failure_found": False, "action_taken": "Checked"}, content_type=JSON)
    with tenant_context(world.acme):
        assert not MachineBaseline.objects.filter(machine=drive).exists()


def test_api_shows_and_resets_the_baseline(client_for, drive, world):
    with tenant_context(world.acme):
        _push(drive, hours=84)
    engineer = client_for("engineer")
    listed = engineer.get("/api/v1/machines/").json()
    row = next(m for m in listed["results"] if m["name"] == drive.name) if isinstance(listed, dict) else \
        next(m for m in listed if m["name"] == drive.name)
    assert row["baseline"] == {"state": "learning", "progress": 50, "since": START.isoformat(),
                               "reason": "first readings"}
    reset = engineer.post(f"/api/v1/machines/{drive.id}/baseline/reset/", content_type=JSON)
    assert reset.status_code == 201, reset.content
    assert reset.json()["baseline"]["reason"] == "reset by engineer@acme.test"
    detail = engineer.get(f"/api/v1/machines/{drive.id}/").json()
    assert detail["baseline"]["progress"] == 0 and detail["baseline"]["reason"] == "reset by engineer@acme.test"


def test_api_reset_refusals(client_for, drive, world):
    url = f"/api/v1/machines/{drive.id}/baseline/reset/"
    empty = client_for("engineer").post(url, content_type=JSON)
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "no_readings"
    assert "no readings yet" in empty.json()["error"]["message"]
    viewer = client_for("viewer").post(url, content_type=JSON)
    assert viewer.status_code == 403 and "write" in viewer.json()["error"]["message"]
    other = client_for("globex_owner", world.globex).post(url, content_type=JSON)
    assert other.status_code == 404
    with tenant_context(world.acme):
        assert not MachineBaseline.objects.filter(machine=drive).exists()


def test_page_button_relearns_for_engineers_only(client_for, drive, world):
    with tenant_context(world.acme):
        _push(drive, hours=5)
    url = f"/machines/{drive.id}/baseline/reset/"
    page = client_for("engineer").get(f"/machines/{drive.id}/")
    assert page.status_code == 200 and b"Learning its normal (2%)" in page.content and b"Relearn normal" in page.content
    assert b"Relearn normal" not in client_for("viewer").get(f"/machines/{drive.id}/").content
    assert client_for("viewer").post(url).status_code == 403
    assert client_for("globex_owner", world.globex).post(url).status_code == 404
    with tenant_context(world.acme):
        assert not MachineBaseline.objects.filter(machine=drive).exists()
    done = client_for("engineer").post(url, follow=True)
    assert done.status_code == 200 and b"is relearning its normal" in done.content
    with tenant_context(world.acme):
        assert baseline_status(machine=drive).reason == "reset by engineer@acme.test"


def test_page_button_on_a_machine_without_readings_says_why(client_for, drive, world):
    done = client_for("engineer").post(f"/machines/{drive.id}/baseline/reset/", follow=True)
    assert done.status_code == 200 and b"no readings yet" in done.content


def test_invalid_baseline_field_is_refused_clearly(drive, in_acme):
    document = copy.deepcopy(drive.machine_type.metadata)
    for bad, message in (({"days": 0}, "$.baseline.days"), ({"weeks": 2}, "$.baseline.weeks"),
                         ({"cycles": 2.5}, "$.baseline.cycles")):
        with pytest.raises(InvalidInput) as refused:
            machine_type_update(type_id=drive.machine_type_id, document={**document, "baseline": bad})
        problems = refused.value.details["problems"]
        assert any(p["path"] == message for p in problems), problems
    updated = machine_type_update(type_id=drive.machine_type_id, document={**document, "baseline": {"days": 2}})
    assert baseline_length(updated.metadata, cycle_indexed=False) == (48, 3600.0)


def test_progress_is_each_machines_own(drive, world):
    with tenant_context(world.acme):
        other = machine_create(machine_type_id=drive.machine_type_id, name="Drive-2")
        _push(drive, hours=10)
        assert baseline_status(machine=other).progress == 0


def test_api_reset_by_key_needs_write_and_anonymous_is_refused(client_for, key_client, drive, world):
    with tenant_context(world.acme):
        _push(drive, hours=5)
    url = f"/api/v1/machines/{drive.id}/baseline/reset/"
    assert client_for(None).post(url, content_type=JSON).status_code == 401
    assert key_client(["read"]).post(url, content_type=JSON).status_code == 403
    done = key_client(["read", "predict", "write"]).post(url, content_type=JSON)
    assert done.status_code == 201 and done.json()["baseline"]["state"] == "learning"


def test_pages_show_learning_instead_of_a_verdict(client_for, drive, world):
    from predictions.models import Prediction

    with tenant_context(world.acme):
        _push(drive, hours=42)
        Prediction.objects.create(machine=drive, source="api", window_end=START, horizon_h=24, probability=0.9,
                                  predicted_failure=True, failure_mode="bearing_wear", health_score=None,
                                  confidence=0.5, state="learning", learning=0.25)
    page = client_for("viewer").get("/")
    assert page.status_code == 200 and b"learning its normal (25%)" in page.content
    detail = client_for("viewer").get(f"/machines/{drive.id}/")
    assert b"learning its normal (25%)" in detail.content and b"Learning its normal (25%)" in detail.content


def test_a_short_baseline_learns_its_regimes_with_the_fleets(drive, in_acme):
    """Drive-2's one day holds too few rows to find set points; Drive-1's week beside it does."""
    setting, load = [s["name"] for s in drive.machine_type.sensors if s["kind"] != "categorical"][:2]

    def push(machine: Machine, hours: int, offset: float) -> None:
        points = [10.0, 20.0, 30.0]
        items = [{"machine": machine.name, "ts": (START + timedelta(hours=i)).isoformat(),
                  "values": {setting: points[i % 3], load: 100 + 3 * points[i % 3] + offset + _noise(i) / 10}}
                 for i in range(hours)]
        assert not readings_push(items=items).rejected

    push(drive, 168, 0.0)
    machine_baselines_refresh(machine_type=drive.machine_type, machines={drive.id: drive.name}, step_hours=1.0,
                              time_scale=1.0)
    document = {**drive.machine_type.metadata, "baseline": {"days": 1}}
    machine_type = machine_type_update(type_id=drive.machine_type_id, document=document)
    other = machine_create(machine_type_id=machine_type.id, name="Drive-2")
    push(other, 30, 5.0)
    ready, _ = machine_baselines_refresh(machine_type=machine_type, machines={other.id: other.name}, step_hours=1.0,
                                         time_scale=1.0)
    baseline = ready["Drive-2"]
    assert baseline.steps == 24 and baseline.regimes is not None and baseline.regimes.count == 3
    assert sorted(baseline.regime_levels()[load]) == pytest.approx([135, 165, 195], abs=0.5)  # its own +5
