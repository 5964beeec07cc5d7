"""Similar past cases from the tenant's own real failures (predictions/services/past_cases.py):
built from the failure events and the readings before them, found first by a row just before
such a failure, never another tenant's, and rebuilt when the failure events change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from engine.bundles import FAILURE
from engine.scoring import ModelSet, score_columns
from machines.failures import failure_event_create
from machines.live import readings_push
from machines.models import FailureEvent, Machine, MachineType
from machines.selectors import failure_events_of_type, readings_recent
from machines.services import machine_create, machine_type_adopt
from predictions.models import Prediction
from predictions.services import past_cases, scoring
from predictions.services.machine_normal import frame_relative_to_baselines
from predictions.services.past_cases import CASE_STEPS, real_cases_for, with_real_cases
from predictions.services.registry import model_set_for
from predictions.services.scoring import stored_frame
from tests.conftest import host_of
from tests.predictions.conftest import EPOCH, TRAINED_TYPE, Trained, failing_run_readings

pytestmark = pytest.mark.django_db
MODE = "bearing_wear_de"
WINDOW_END = datetime(2026, 3, 2, 6, tzinfo=UTC)  # a constant: no clock is read


def _failure_at_last_reading(machine: Machine, mode: str = MODE) -> FailureEvent:
    """The machine's stored run (a simulated run to failure) ends in this failure."""
    (last, _), = readings_recent(machine=machine, limit=1)
    return failure_event_create(machine=machine, occurred_at=last, failure_mode=mode)


def _acme_models(trained_motor: Trained) -> tuple[MachineType, ModelSet]:
    machine_type = MachineType.objects.get(id=trained_motor.machine_type_id)
    models = model_set_for(machine_type=machine_type)
    assert models is not None
    return machine_type, models


def test_no_failure_events_no_real_cases(trained_motor, in_acme):
    machine_type, models = _acme_models(trained_motor)
    FailureEvent.objects.filter(machine__machine_type=machine_type).delete()
    assert real_cases_for(machine_type=machine_type, models=models) is None
    assert with_real_cases(machine_type=machine_type, models=models) is models


def test_a_real_failure_becomes_cases_within_the_horizon_before_it(trained_motor, in_acme):
    machine_type, models = _acme_models(trained_motor)
    failure = _failure_at_last_reading(Machine.objects.get(id=trained_motor.machine_id))
    cases = real_cases_for(machine_type=machine_type, models=models)
    assert cases is not None and 2 <= len(cases) <= CASE_STEPS
    assert set(cases.source) == {"real"} and set(cases.machine) == {"ABB-101"}
    assert set(cases.failure_mode) == {MODE} and set(cases.failed_at) == {failure.occurred_at.isoformat()}
    horizon = models.classifier.horizon_h
    assert all(0 <= h <= horizon for h in cases.hours_before) and min(cases.hours_before) < models.step_hours
    simulated = models.case_base()
    assert cases.columns == simulated.columns and np.array_equal(cases.centre, simulated.centre)
    # Joined with the simulated cases: the explanation's base (the lead's combined()).
    assert len(simulated.combined(cases)) == len(simulated) + len(cases)


def test_a_row_just_before_that_failure_finds_its_real_case_first(trained_motor, in_acme):
    machine_type, models = _acme_models(trained_motor)
    machine = Machine.objects.get(id=trained_motor.machine_id)
    failure = _failure_at_last_reading(machine)
    explained = with_real_cases(machine_type=machine_type, models=models)
    assert explained is not models and models.real_cases is None  # the registry's cached set is left alone
    # The row scoring reads for the machine one step before the failure (its frame ends at it),
    # built by scoring's own path: stored window, moved by the machine's normal, windowed.
    frame = stored_frame(machine_type=machine_type, machine_ids=[machine.id], models=explained, extra_steps=1)
    relative, _ = frame_relative_to_baselines(machine_type=machine_type, frame=frame, models=explained)
    row = score_columns(explained, relative, rows=np.array([relative.num_rows - 2])).matrix
    base = explained.case_base().combined(explained.real_cases)
    first, *rest = base.nearest(row, k=3)[0]
    assert first["source"] == "real" and first["machine"] == "ABB-101" and first["failure_mode"] == MODE
    # The same step, read the way scoring reads it (moved by the machine's normal): the same point.
    assert first["failed_at"] == failure.occurred_at.isoformat() and first["similarity"] >= 0.99
    assert first["hours_before_failure"] == models.step_hours
    assert base.count_similar(row, source="real")[0] >= 1


def test_an_explained_prediction_names_the_machines_own_failure_first(trained_motor, in_acme):
    machine = Machine.objects.get(id=trained_motor.machine_id)
    failure = _failure_at_last_reading(machine)
    explanation = scoring.machine_predict(machine=machine).explanation
    first = explanation["similar_cases"][0]
    assert first["source"] == "real" and first["failed_at"] == failure.occurred_at.isoformat()
    assert first["machine"] == "ABB-101" and first["failure_mode"] == MODE and first["similarity"] >= 0.99
    assert explanation["similar_past_cases"] >= 1


def test_a_failure_counted_in_cycles_is_no_case_for_clock_time_models(trained_motor, in_acme):
    machine_type, models = _acme_models(trained_motor)
    counted = machine_create(machine_type_id=machine_type.id, name="ABB-CYC")
    items = [{"machine": "ABB-CYC", "ts": (EPOCH + timedelta(seconds=cycle)).isoformat(),
              "values": {"current_a": 180.0 + cycle}} for cycle in range(1, 41)]
    assert not readings_push(items=items).rejected
    failure_event_create(machine=counted, occurred_at=EPOCH + timedelta(seconds=40), failure_mode=MODE)
    assert real_cases_for(machine_type=machine_type, models=models) is None  # scoring refuses them too
    _failure_at_last_reading(Machine.objects.get(id=trained_motor.machine_id))
    assert set(real_cases_for(machine_type=machine_type, models=models).machine) == {"ABB-101"}


def test_a_second_tenants_failures_never_appear(trained_motor, world):
    with tenant_context(world.globex):
        glx_type = machine_type_adopt(key=TRAINED_TYPE)
        glx = machine_create(machine_type_id=glx_type.id, name="GLX-7")
        assert not readings_push(items=failing_run_readings(glx_type.metadata, "GLX-7", seed=29)).rejected
        _failure_at_last_reading(glx, mode="stator_winding_fault")
    with tenant_context(world.acme):
        machine_type, models = _acme_models(trained_motor)
        _failure_at_last_reading(Machine.objects.get(id=trained_motor.machine_id))
        acme_cases = real_cases_for(machine_type=machine_type, models=models)
        assert acme_cases is not None and set(acme_cases.machine) == {"ABB-101"}
        assert set(acme_cases.failure_mode) == {MODE}
    with tenant_context(world.globex):
        # Globex with acme's models in hand (the cache holds acme's cases): only its own machine.
        glx_type = MachineType.objects.get(key=TRAINED_TYPE)
        glx_cases = real_cases_for(machine_type=glx_type, models=models)
        assert glx_cases is not None and set(glx_cases.machine) == {"GLX-7"}
        assert set(glx_cases.failure_mode) == {"stator_winding_fault"}


def test_adding_or_removing_a_failure_event_changes_the_cache_key_and_the_cases(trained_motor, in_acme):
    machine_type, models = _acme_models(trained_motor)
    machine = Machine.objects.get(id=trained_motor.machine_id)
    version = models.versions[FAILURE]
    first = _failure_at_last_reading(machine)

    def key() -> tuple[object, ...]:
        return past_cases._key(machine_type, models, version, failure_events_of_type(machine_type_id=machine_type.id))

    one = real_cases_for(machine_type=machine_type, models=models)
    assert key() in past_cases._cache  # kept: the next scoring call reuses it
    assert real_cases_for(machine_type=machine_type, models=models) is one
    before = key()
    # An earlier failure of the same machine: its cases come from the run before it.
    earlier = failure_event_create(machine=machine, occurred_at=first.occurred_at - timedelta(days=20),
                                   failure_mode="lubrication_failure")
    assert key() != before
    two = real_cases_for(machine_type=machine_type, models=models)
    assert two is not one and set(two.failed_at) == {first.occurred_at.isoformat(), earlier.occurred_at.isoformat()}
    assert set(two.failure_mode) == {MODE, "lubrication_failure"}
    earlier.delete()
    assert key() == before
    again = real_cases_for(machine_type=machine_type, models=models)
    assert set(again.failed_at) == {first.occurred_at.isoformat()}


def test_the_api_schema_says_where_a_case_comes_from(db, world):
    schema = Client(HTTP_HOST=host_of(world.acme)).get("/api/v1/schema/?format=json").json()
    case = schema["components"]["schemas"]["SimilarCase"]["properties"]
    assert "source" in case and case["failed_at"]["nullable"] is True
    assert "ranked first" in case["source"]["description"]


def test_the_machine_page_marks_a_real_failure_among_the_similar_cases(trained_motor, client_for, world):
    cases = [{"machine": "ABB-101", "failure_mode": MODE, "hours_before_failure": 24.0, "similarity": 0.93,
              "source": "real", "failed_at": "2026-03-01T06:00:00+00:00"},
             {"machine": "sim-0039", "failure_mode": "lubrication_failure", "hours_before_failure": 48.0,
              "similarity": 0.71, "source": "simulated", "failed_at": None}]
    with tenant_context(world.acme):
        Prediction.objects.create(
            machine_id=trained_motor.machine_id, versions={}, source="api", window_end=WINDOW_END, horizon_h=144.0,
            probability=0.9, predicted_failure=True, health_score=20.0, confidence=0.8,
            explanation={"similar_cases": cases, "similar_past_cases": 2})
    page = client_for("viewer").get(f"/machines/{trained_motor.machine_id}/").content.decode()
    listed = page[page.index('id="similar-cases"'):]
    listed = listed[:listed.index("</ul>")]
    assert listed.count("on your machines") == 1 and listed.count("failed 2026-03-01") == 1
    recorded, simulated = listed.split("</li>")[:2]
    assert "ABB-101" in recorded and "on your machines" in recorded
    assert "sim-0039" in simulated and "on your machines" not in simulated
