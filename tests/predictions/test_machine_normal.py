"""Cold-start scoring reads each machine relative to its own normal (predictions.services.machine_normal)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from engine.baselines import reference_levels
from machines.live import readings_push
from machines.models import Machine, MachineBaseline, MachineType
from machines.services import machine_create
from predictions.models import Dataset, ModelVersion
from predictions.services.machine_normal import frame_relative_to_baselines, is_cold_start
from predictions.services.registry import model_set_for
from predictions.services.scoring import machine_predict, stored_frame
from tests.predictions.conftest import Trained

START = datetime(2026, 5, 4, tzinfo=UTC)


def _own_operating_point(machine_type: MachineType, name: str, *, hours: int, noise: float = 0.01) -> Machine:
    """A healthy machine a tenth of each normal span away from the simulated level, with noise
    (`noise` of the span, per hourly reading)."""
    machine = Machine.objects.filter(name=name).first() or machine_create(machine_type_id=machine_type.id, name=name)
    reference = reference_levels(machine_type.metadata)
    spans = {s["name"]: s["ranges"]["normal"][1] - s["ranges"]["normal"][0] for s in machine_type.sensors
             if s["kind"] != "categorical"}
    rng = np.random.default_rng(7)
    items: list[dict[str, Any]] = [
        {"machine": name, "ts": (START + timedelta(hours=i)).isoformat(),
         "values": {s: reference[s] + 0.1 * span + rng.normal(0, noise * span) for s, span in spans.items()}}
        for i in range(hours)]
    assert not readings_push(items=items).rejected
    return machine


def test_a_new_machine_is_scored_while_learning_and_says_so(db: None, trained_motor: Trained, in_acme: Any) -> None:
    machine_type = MachineType.objects.get(id=trained_motor.machine_type_id)
    machine = _own_operating_point(machine_type, "ABB-301", hours=84)
    prediction = machine_predict(machine=machine)
    assert (prediction.state, prediction.learning, prediction.health_score) == ("learning", 0.5, None)
    assert MachineBaseline.objects.get(machine=machine).reason == "first readings"


def test_a_ready_baseline_puts_the_machine_on_the_models_normal(db: None, trained_motor: Trained, in_acme: Any) -> None:
    machine_type = MachineType.objects.get(id=trained_motor.machine_type_id)
    machine = _own_operating_point(machine_type, "ABB-302", hours=200)
    models = model_set_for(machine_type=machine_type)
    assert models is not None and is_cold_start(models)
    frame = stored_frame(machine_type=machine_type, machine_ids=[machine.id], models=models)
    moved, learning = frame_relative_to_baselines(machine_type=machine_type, frame=frame, models=models)
    assert learning == {}
    reference = reference_levels(machine_type.metadata)
    for sensor in (s["name"] for s in machine_type.sensors if s["kind"] != "categorical"):
        raw, relative = np.nanmean(frame.column(sensor).to_numpy()), np.nanmean(moved.column(sensor).to_numpy())
        span = next(s["ranges"]["normal"] for s in machine_type.sensors if s["name"] == sensor)
        width = span[1] - span[0]
        assert abs(raw - reference[sensor]) == pytest.approx(0.1 * width, rel=0.2)  # its own operating point
        assert abs(relative - reference[sensor]) < 0.03 * width  # read against its own normal
    prediction = machine_predict(machine=machine)
    assert prediction.state != "learning" and prediction.learning is None
    assert MachineBaseline.objects.get(machine=machine).ready_at is not None


def test_a_noisier_machine_is_read_in_the_models_noise(db: None, trained_motor: Trained, in_acme: Any) -> None:
    machine_type = MachineType.objects.get(id=trained_motor.machine_type_id)
    machine = _own_operating_point(machine_type, "ABB-304", hours=200, noise=0.5)
    models = model_set_for(machine_type=machine_type)
    assert models is not None and models.baseline_spreads  # onboarding kept the simulated machines' noise
    frame = stored_frame(machine_type=machine_type, machine_ids=[machine.id], models=models)
    moved, _ = frame_relative_to_baselines(machine_type=machine_type, frame=frame, models=models)
    steps = MachineBaseline.objects.get(machine=machine).stats["steps"]
    noisier = [s for s, spread in models.baseline_spreads.items()
               if s in frame.column_names and np.nanstd(frame.column(s).to_numpy()[:steps]) > 1.5 * spread]
    assert len(noisier) >= 3
    for signal in noisier:  # its baseline's spread is now the simulated machines' spread
        assert np.nanstd(moved.column(signal).to_numpy()[:steps]) == pytest.approx(models.baseline_spreads[signal],
                                                                                   rel=0.1)


def test_models_trained_on_real_data_read_readings_as_they_are(db: None, trained_motor: Trained, in_acme: Any) -> None:
    machine_type = MachineType.objects.get(id=trained_motor.machine_type_id)
    machine = _own_operating_point(machine_type, "ABB-303", hours=200)
    models = model_set_for(machine_type=machine_type)
    assert models is not None
    ModelVersion.objects.filter(id=models.versions["failure_classifier"]).update(data_source=Dataset.Source.REAL)
    models = model_set_for(machine_type=machine_type)  # the set carries its champions' data sources
    assert models is not None
    frame = stored_frame(machine_type=machine_type, machine_ids=[machine.id], models=models)
    moved, learning = frame_relative_to_baselines(machine_type=machine_type, frame=frame, models=models)
    assert moved is frame and learning == {}
    prediction = machine_predict(machine=machine)
    assert prediction.state != "learning" and prediction.learning is None
    assert MachineBaseline.objects.get(machine=machine).ready_at is not None  # learned all the same
