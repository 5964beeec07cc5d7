"""Real training with normal operation only (no failure events), at the data's own sampling rate:
47 ms readings train an anomaly detector at 20 ms steps, and a file is scored per step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow.parquet as pq
import pytest
from sklearn.metrics import roc_auc_score

from engine.bundles import ANOMALY, FAILURE, FORECAST, RUL, Bundle
from engine.frames import frame_from_columns, step_hours_for
from engine.scoring import ModelSet
from machines.live import readings_push
from machines.services import machine_create, machine_type_import
from predictions.models import Dataset, ModelVersion
from predictions.services.batch_files import score_file
from predictions.services.real_training import train_on_real_data

T0 = datetime(2016, 4, 20, 10, 35, 12, 940_000, tzinfo=UTC)
STEP_20_MS = 0.02 / 3600
DOCUMENT = {
    "schema_version": 1, "key": "pick-place-cell", "name": "Pick-and-place cell", "category": "other",
    "sensors": [
        {"name": name, "label": name, "unit": "", "kind": "numeric", "sampling_interval_s": 0.05,
         "ranges": {"normal": [-2000, 2000], "warning": [-2500, 2500], "critical": [-5000, 5000]}}
        for name in ("speed", "current", "gripper")],
    "failure_modes": [{"name": "jam", "label": "Jam", "affected_signals": [], "symptoms": ["stops"],
                       "recommended_action": "Clear the jam.", "repair_cost": 100, "downtime_hours": 1,
                       "mean_time_to_failure_hours": 1000}],
    "operating_regimes": [{"name": "run", "label": "Run", "share": 1, "signal_levels": {}}],
    "costs": {"currency": "EUR", "downtime_per_hour": 10, "planned_maintenance": 10,
              "unplanned_failure_multiplier": 2},
}


def _cell(rows: int, start: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Seconds after T0 (47 ms apart, a controller's cycle, +-3 ms jitter) and the cell's signals: the drive's speed
    follows a 4 s cycle, its current follows the speed, the gripper is a 0/1 state."""
    index = np.arange(start, start + rows)
    seconds = 0.047 * index + rng.uniform(-0.003, 0.003, rows)
    speed = 1000 * np.sin(2 * np.pi * seconds / 4) + rng.normal(0, 20, rows)
    return seconds, {"speed": speed, "current": 0.3 * speed + rng.normal(0, 10, rows),
                     "gripper": (speed > 0).astype(float)}


def _push(name: str, seconds: np.ndarray, values: dict[str, np.ndarray]) -> None:
    items = [{"machine": name, "ts": (T0 + timedelta(seconds=float(s))).isoformat(),
              "values": {k: float(v[i]) for k, v in values.items()}} for i, s in enumerate(seconds)]
    assert not readings_push(items=items).rejected


def test_the_step_follows_the_sampling_rate_up_to_an_hour():
    assert step_hours_for(0.047) == pytest.approx(STEP_20_MS)  # the largest round step not longer
    assert step_hours_for(0.05) == pytest.approx(0.05 / 3600)
    assert step_hours_for(60.0) == pytest.approx(1 / 60)
    assert step_hours_for(3599.0) == 1.0  # an hourly clock running a second early stays hourly
    assert step_hours_for(86_400.0) == 1.0 and step_hours_for(None) == 1.0 and step_hours_for(0.0) == 1.0


def test_sub_second_readings_keep_one_step_each_and_boundaries_are_exact():
    rng = np.random.default_rng(0)
    seconds, values = _cell(1000, 0, rng)
    epoch = T0.timestamp() + seconds
    frame = frame_from_columns(np.array(["c"] * 1000, dtype=object), epoch, values, {}, DOCUMENT,
                               step_hours=STEP_20_MS)
    assert frame.num_rows == 1000  # hourly steps would have made one
    # 1461148512.94 / 0.02 is 73057425646.99999 in floating point: the reading still starts its step.
    exact = frame_from_columns(np.array(["c"], dtype=object), np.array([1461148512.94]), {"speed": np.array([1.0])},
                               {}, DOCUMENT, step_hours=STEP_20_MS)
    assert exact.column("ts")[0].as_py() == datetime(2016, 4, 20, 10, 35, 12, 940_000, tzinfo=UTC)


@pytest.mark.django_db
def test_real_training_without_failures_trains_the_detector_at_the_data_step_and_scores_a_file(in_acme, tmp_path):
    machine_type = machine_type_import(document=DOCUMENT)
    machine_create(machine_type_id=machine_type.id, name="cell-1")
    rng = np.random.default_rng(1)
    seconds, values = _cell(4000, 0, rng)
    _push("cell-1", seconds, values)

    summary = train_on_real_data(machine_type=machine_type)

    assert summary["normal_operation_only"] and summary["step_hours"] == pytest.approx(STEP_20_MS)
    dataset = Dataset.objects.get(id=summary["dataset"]["id"])
    assert dataset.source == "real" and dataset.rows == 4000  # every 50 ms reading its own step
    for kind in (FAILURE, RUL):  # what was skipped, and what it needs
        assert "at least 3 are needed" in summary["skipped"][kind] and "0 failure" in summary["skipped"][kind]
    assert "sampled this fast" in summary["skipped"][FORECAST]  # hour-scale horizons at 20 ms steps
    champion = ModelVersion.objects.get(machine_type=machine_type, kind=ANOMALY, status="champion")
    assert champion.data_source == "real" and [d["kind"] for d in summary["decisions"]] == [ANOMALY]
    assert not ModelVersion.objects.filter(machine_type=machine_type, kind=FAILURE).exists()

    # The next 1,000 readings, 30 of them a jam: full current while the speed reads 0.
    seconds, values = _cell(1000, 4000, rng)
    jam = np.zeros(1000, bool)
    jam[600:630] = True
    values["speed"][jam], values["current"][jam] = 0.0, 900.0
    source = tmp_path / "next.csv"
    stamps = [(T0 + timedelta(seconds=float(s))).isoformat() for s in seconds]
    source.write_text("time,speed,current,gripper\n" + "".join(
        f"{t},{values['speed'][i]},{values['current'][i]},{values['gripper'][i]}\n" for i, t in enumerate(stamps)))
    target = tmp_path / "scores.parquet"
    result = score_file(machine_type=machine_type, source=source, target=target,
                        mapping={"time_column": "time", "machine_name": "cell-1"})

    scores = pq.read_table(target)
    assert result.rows_read == 1000 and result.predictions == scores.num_rows == 1000  # a score per reading
    score = np.asarray(scores.column("anomaly_score"))
    assert roc_auc_score(jam, score) > 0.95
    assert np.asarray(scores.column("anomalous"))[jam].mean() > 0.8
    assert set(np.asarray(scores.column("most_unusual_signal"))[jam]) <= {"speed", "current"}
    assert "gripper" not in set(np.asarray(scores.column("most_unusual_signal")))  # a state, left out


@pytest.mark.django_db
def test_real_training_with_too_few_failures_trains_what_needs_none_and_says_what_the_rest_need(
        trained_motor, in_acme):
    from machines.models import FailureEvent

    machine_type = ModelVersion.objects.filter(machine_type_id=trained_motor.machine_type_id).first().machine_type
    FailureEvent.objects.filter(machine__machine_type=machine_type).delete()
    summary = train_on_real_data(machine_type=machine_type)
    assert summary["normal_operation_only"] and summary["dataset"]["failures"] == 0
    assert "at least 3 are needed" in summary["skipped"][FAILURE] and FAILURE not in {
        d["kind"] for d in summary["decisions"]}
    anomaly = next(d for d in summary["decisions"] if d["kind"] == ANOMALY)
    assert anomaly["promoted"]  # over the simulated champion: this fleet's own normal
    assert ModelVersion.objects.get(id=anomaly["best"]).data_source == "real"


def test_a_detector_at_another_step_than_the_classifier_does_not_score_its_steps():
    hourly = Bundle(FAILURE, object(), {"step_hours": 1.0, "time_scale": 1.0})
    fast = Bundle(ANOMALY, "detector", {"step_hours": STEP_20_MS, "time_scale": 1.0})
    assert ModelSet({}, {FAILURE: hourly, ANOMALY: fast}).detector() is None
    same = Bundle(ANOMALY, "detector", {"step_hours": 1.0, "time_scale": 1.0})
    assert ModelSet({}, {FAILURE: hourly, ANOMALY: same}).detector() == "detector"
