"""Time scales from the metadata (issue 15): the step a type is simulated and scored at comes from
its failure modes' P-F intervals, a mode's warning time lasts its real length, the horizon default
follows from the P-F intervals, and cycle-indexed machines are read one cycle a step or refused
with a message. The simulator tests are pure; the scoring tests onboard a small fleet (one model,
a dozen simulated machines) to keep them quick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from engine.bundles import FAILURE
from engine.frames import CYCLE_TIME_SCALE, other_scale_machines
from engine.synthetic.scales import (
    MAX_PF_STEPS,
    PF_STEPS,
    STEP_LADDER_H,
    default_horizon,
    describe_hours,
    pf_intervals,
    step_for_intervals,
    type_time_scale,
    typical_pf_interval,
)
from engine.synthetic.simulator import SimulationOptions, simulate_fleet
from machines.library import library_get, library_list
from machines.live import readings_push
from machines.services import machine_create, machine_type_adopt
from pdm_saas.errors import Conflict
from predictions.models import ModelVersion
from predictions.services.scoring import batch_predict, fleet_score, machine_predict
from predictions.services.training import onboard_machine_type
from tests.predictions.conftest import EPOCH

DAY = 24.0
MOTOR = "induction-motor-abb-m3bp"  # P-F intervals 300-4,000 h: one-day steps
CMAPSS = "turbofan-engine-cmapss"  # hours_per_cycle: simulated in cycles
SIEMENS = "induction-motor-siemens-1la7"  # one-day steps; adopted here in the test's own transaction
QUIET = SimulationOptions(noise_fraction=0.0, load_fraction=0.0, machine_offset_fraction=0.0, dropout_rate=0.0,
                          stuck_rate=0.0, regime_offset_fraction=0.0)


def _one_mode(pf_hours: float, mttf_hours: float = 20_000.0) -> dict[str, Any]:
    """The ABB motor with a single linear bearing mode of this P-F interval and one regime."""
    document = library_get(MOTOR)
    document["operating_regimes"] = [{**document["operating_regimes"][0], "share": 1.0}]
    mode = next(m for m in document["failure_modes"] if m["name"] == "bearing_wear_de")
    signal = {**mode["affected_signals"][0], "progression": "linear"}
    document["failure_modes"] = [{**mode, "mean_time_to_failure_hours": mttf_hours, "pf_interval_hours": pf_hours,
                                  "affected_signals": [signal]}]
    return document


# --- the step -------------------------------------------------------------------------------------


def test_the_step_draws_the_shortest_warning_in_steps_and_fits_the_longest():
    assert step_for_intervals([240.0, 2_000.0]) == 12.0  # 240 h / 20 = 12 h; 2,000 h is 167 steps
    assert step_for_intervals([600.0, 3_000.0]) == DAY  # 30 h rounds down to a day
    # A near-sudden mode beside one that wears for a year: the year must fit, so 2-day steps.
    assert step_for_intervals([1.0, 8_760.0]) == 2 * DAY
    assert step_for_intervals([0.3, 0.5]) == pytest.approx(30 / 3600)  # a cutting tool: 30 s steps
    assert step_for_intervals([]) == 1.0
    assert [describe_hours(h) for h in (30 / 3600, 10 / 60, 6.0, DAY, 2 * DAY)] == [
        "30 s", "10 min", "6 h", "1 day", "2 days"]


@pytest.mark.parametrize("key", [summary["key"] for summary in library_list()])
def test_every_library_type_gets_a_readable_step_that_holds_its_warning_times(key):
    document = library_get(key)
    scale = type_time_scale(document)
    steps = np.array(pf_intervals(document, hours_per_unit=scale.hours_per_unit)) / scale.step_hours
    if scale.cycles:
        assert scale.step_hours == 1.0 and scale.time_scale == CYCLE_TIME_SCALE
    else:
        assert scale.step_hours in STEP_LADDER_H
        assert steps.max() <= MAX_PF_STEPS
        # The shortest warning gets PF_STEPS steps, unless fitting the longest made steps coarser.
        assert steps.min() >= PF_STEPS * 0.999 or steps.max() > MAX_PF_STEPS / 2


def test_a_cycle_type_counts_its_times_in_cycles():
    document = library_get(CMAPSS)
    scale = type_time_scale(document)
    assert (scale.step_hours, scale.time_scale, scale.hours_per_unit) == (1.0, CYCLE_TIME_SCALE, 2.0)
    assert pf_intervals(document, hours_per_unit=2.0) == [125.0, 125.0]  # 250 h at 2 h a flight
    assert default_horizon(document) == 62.0  # cycles


# --- the simulator in real time ---------------------------------------------------------------------


def test_a_mode_degrades_over_its_real_pf_interval():
    document = _one_mode(pf_hours=240.0)
    table = simulate_fleet(document, machines=4, seed=1, healthy_fraction=0.0, options=QUIET)
    assert float(table.schema.metadata[b"step_hours"]) == 12.0
    machines = np.asarray(table.column("machine").to_numpy(zero_copy_only=False))
    vibration = np.asarray(table.column("vibration_de_mm_s").to_numpy())
    ttf = np.asarray(table.column("time_to_failure_h").to_numpy())
    for name in np.unique(machines):
        rows = machines == name
        moving = np.flatnonzero(np.abs(np.diff(vibration[rows])) > 1e-4)
        # Flat until the P-F point, 240 h (20 steps of 12 h) before failure, drifting after it.
        assert ttf[rows][moving[0] + 1] == 228.0 and len(moving) == 20
        assert 100 <= rows.sum() <= 600 and rows.sum() > 20 + QUIET.healthy_steps[0]


def test_runs_stay_a_few_hundred_steps_and_end_in_real_hours_whatever_the_mttf():
    for key in (MOTOR, "transformer-oil-distribution", "milling-tool-wear"):
        document = library_get(key)
        table = simulate_fleet(document, machines=20, seed=0)
        _, lengths = np.unique(np.asarray(table.column("machine").to_numpy(zero_copy_only=False)), return_counts=True)
        assert lengths.min() >= 100 and lengths.max() <= 600
        step = type_time_scale(document).step_hours
        assert np.nanmax(table.column("time_to_failure_h").to_numpy()) == pytest.approx((lengths.max() - 1) * step,
                                                                                         rel=0.6)


def test_an_explicit_step_keeps_the_pf_interval_in_hours():
    hourly = simulate_fleet(_one_mode(pf_hours=240.0), machines=2, seed=1, healthy_fraction=0.0, step_hours=1.0,
                            options=QUIET)
    ts = np.asarray(hourly.column("ts").to_numpy()).astype("datetime64[us]").astype(np.int64)
    assert np.diff(ts[:2])[0] == 3_600_000_000 and float(hourly.schema.metadata[b"step_hours"]) == 1.0
    first = np.asarray(hourly.column("machine").to_numpy(zero_copy_only=False)) == "sim-0000"
    vibration = np.asarray(hourly.column("vibration_de_mm_s").to_numpy())[first]
    assert len(np.flatnonzero(np.abs(np.diff(vibration)) > 1e-4)) == 240  # 240 one-hour steps


# --- the horizon default -------------------------------------------------------------------------------


def test_the_horizon_default_is_half_the_typical_warning_time_readable():
    document = _one_mode(pf_hours=240.0)
    frequent = {**document["failure_modes"][0], "name": "frequent", "mean_time_to_failure_hours": 2_000.0,
                "pf_interval_hours": 100.0}
    rare = {**document["failure_modes"][0], "name": "rare", "mean_time_to_failure_hours": 20_000.0,
            "pf_interval_hours": 2_500.0}
    # The frequent mode fails ten times as often: its 100 h warning is the typical one.
    assert typical_pf_interval({**document, "failure_modes": [frequent, rare]}) == 100.0
    # Half of it, 50 h, reads as two whole days.
    assert default_horizon({**document, "failure_modes": [frequent, rare]}) == 2 * DAY
    assert default_horizon({**document, "failure_modes": [{**frequent, "pf_interval_hours": 60.0}, rare]}) == 30.0
    # A typical warning of 2,500 h: 1,250 h rounds down to 52 whole days.
    assert default_horizon({**document, "failure_modes": [{**rare, "mean_time_to_failure_hours": 1_000.0}]}) == 52 * DAY
    # Never below one step (a near-sudden type's horizon is its step).
    assert default_horizon(_one_mode(pf_hours=0.5)) >= type_time_scale(_one_mode(pf_hours=0.5)).step_hours


# --- readings a model cannot read at its scale -----------------------------------------------------------


def test_other_scale_machines_names_cycle_machines_for_clock_models_and_the_reverse():
    machines = np.array(["engine", "engine", "motor", "motor"], dtype=object)
    seconds = np.array([1.0, 2.0, 1.7e9, 1.7e9 + 3600])
    assert other_scale_machines(machines, seconds, time_scale=1.0) == ["engine"]
    assert other_scale_machines(machines, seconds, time_scale=CYCLE_TIME_SCALE) == ["motor"]


def _onboard(key: str) -> Any:
    machine_type = machine_type_adopt(key=key)
    onboard_machine_type(machine_type=machine_type, machines=12, seed=1, kinds=(FAILURE,), synthesizer=None)
    return machine_type


def _cycle_readings(document: dict[str, Any], name: str, *, cycles: int, seed: int) -> list[dict[str, Any]]:
    """One simulated run's readings stored the C-MAPSS way: EPOCH + cycle seconds."""
    run = simulate_fleet(document, machines=1, seed=seed, healthy_fraction=0.0, step_hours=1.0)
    sensors = [s["name"] for s in document["sensors"]]
    rows = run.select(sensors).to_pylist()[-cycles:]
    return [{"machine": name, "ts": (EPOCH + timedelta(seconds=i + 1)).isoformat(),
             "values": {k: v for k, v in row.items() if v is not None and v == v}} for i, row in enumerate(rows)]


def _clock_readings(document: dict[str, Any], name: str, *, hours: int) -> list[dict[str, Any]]:
    sensors = [s for s in document["sensors"] if s["kind"] == "numeric"]
    start = datetime(2026, 3, 1, tzinfo=UTC)
    return [{"machine": name, "ts": (start + timedelta(hours=h)).isoformat(),
             "values": {s["name"]: float(np.mean(s["ranges"]["normal"])) for s in sensors}} for h in range(hours)]


def test_cold_start_models_keep_the_types_step_and_read_hourly_readings_in_days(db, in_acme):
    machine_type = _onboard(SIEMENS)
    champion = ModelVersion.objects.get(machine_type=machine_type, kind=FAILURE, status="champion")
    assert champion.params["step_hours"] == DAY and champion.metrics["horizon_h"] == 31 * DAY
    machine_create(machine_type_id=machine_type.id, name="Motor-7")
    readings_push(items=_clock_readings(machine_type.metadata, "Motor-7", hours=24 * 5 + 7))
    prediction = machine_predict(machine=machine_type.machines.get(name="Motor-7"))
    # Five and a bit days of hourly readings: the last window starts at a whole day (one step).
    assert prediction.window_end == datetime(2026, 3, 6, tzinfo=UTC) and prediction.horizon_h == 31 * DAY


def test_cycle_readings_are_refused_by_clock_models_with_a_message(in_acme, client_for):
    machine_type = _onboard(SIEMENS)
    engine = machine_create(machine_type_id=machine_type.id, name="Motor-cycles")
    motor = machine_create(machine_type_id=machine_type.id, name="Motor-clock")
    readings_push(items=_cycle_readings(machine_type.metadata, "Motor-cycles", cycles=40, seed=2))
    readings_push(items=_clock_readings(machine_type.metadata, "Motor-clock", hours=72))
    with pytest.raises(Conflict, match="counted in cycles") as refused:
        machine_predict(machine=engine)
    assert "hours_per_cycle" in refused.value.message and refused.value.details["machines"] == ["Motor-cycles"]
    answer = client_for("engineer").post("/api/v1/predictions/", {"machine": "Motor-cycles"},
                                         content_type="application/json")
    assert answer.status_code == 409 and "counted in cycles" in answer.json()["error"]["message"]
    page = client_for("engineer").post(f"/machines/{engine.id}/score/", follow=True).content.decode()
    assert "counted in cycles" in page
    # The page says so before anyone presses "Score now"; the machine it can read shows nothing.
    assert 'id="scale-refusal"' in client_for("viewer").get(f"/machines/{engine.id}/").content.decode()
    assert 'id="scale-refusal"' not in client_for("viewer").get(f"/machines/{motor.id}/").content.decode()
    with pytest.raises(Conflict, match="counted in cycles"):
        batch_predict(machine_type=machine_type, readings=[
            ("Motor-cycles", EPOCH + timedelta(seconds=c), {"vibration_de_mm_s": 1.0}) for c in range(1, 30)])
    # The fleet run scores the machine it can read and leaves the other out, never as one 1970 hour.
    scored = fleet_score(machine_type_id=machine_type.id)
    assert {p.machine_id for p in scored} == {motor.id}


def test_a_cycle_type_is_simulated_in_cycles_and_reads_each_cycle_as_one_step(db, in_acme):
    machine_type = _onboard(CMAPSS)
    champion = ModelVersion.objects.get(machine_type=machine_type, kind=FAILURE, status="champion")
    assert champion.metrics["horizon_h"] == 62.0  # cycles
    last = {}
    for index, cycles in enumerate((60, 140, 220)):
        name = f"Engine-{index}"
        machine_create(machine_type_id=machine_type.id, name=name)
        readings_push(items=_cycle_readings(machine_type.metadata, name, cycles=cycles, seed=5 + index))
        last[name] = cycles
    predictions = {p.machine.name: p for p in fleet_score(machine_type_id=machine_type.id)}
    assert set(predictions) == set(last)
    for name, cycles in last.items():
        assert predictions[name].window_end == EPOCH + timedelta(hours=cycles)  # its own last cycle
        assert predictions[name].time_unit == "cycles"
    assert len({round(p.probability, 6) for p in predictions.values()}) > 1  # not one merged step each
    machine_create(machine_type_id=machine_type.id, name="Engine-clock")
    readings_push(items=_clock_readings(machine_type.metadata, "Engine-clock", hours=30))
    with pytest.raises(Conflict, match="count time in cycles"):
        machine_predict(machine=machine_type.machines.get(name="Engine-clock"))
