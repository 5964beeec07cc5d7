"""Remaining life, horizons, forecasts, similar cases, metrics and charts speak the data's own
unit (issue 14): cycles for cycle-indexed data (stored at 1970 + cycle seconds), hours for
time-stamped data, in the API and every page. A trained cycle model's scores, explanation,
forecast and live event are in test_cycle_indexed.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django_tenants.utils import tenant_context

from machines.services import machine_create, machine_type_adopt
from predictions.models import Dataset, ModelVersion, Prediction
from predictions.web_format import duration_text, steps_duration
from tests.predictions.conftest import EPOCH

CMAPSS = "turbofan-engine-cmapss"


def test_steps_duration_reads_as_time():
    hours = (0.5, 1, 12, 24, 48, 144)
    assert [steps_duration(v) for v in hours] == ["30 min", "1 h", "12 h", "24 h", "2 days", "6 days"]
    assert [steps_duration(v, "cycles") for v in (1, 8)] == ["1 cycle", "8 cycles"]


def test_duration_text_keeps_cycles_cycles_and_hours_hours():
    assert [duration_text(v, "cycles") for v in (None, 0, 1.0, 3.25, 37.4, 150)] == [
        "—", "now", "1 cycle", "3.2 cycles", "37 cycles", "150 cycles"]
    assert [duration_text(v, "h") for v in (None, 3.25, 150)] == ["—", "3.2 h", "6.2 days"]


def _prediction(machine: Any, window_end: datetime, **extra: Any) -> Prediction:
    explanation = {"similar_cases": [{"machine": "E-7", "failure_mode": "hpc_degradation",
                                      "hours_before_failure": 12.0, "similarity": 0.9}],
                   "forecast": [{"signal": "t50_r", "hours_to_warning": 5.0, "hours_to_critical": 60.0}]}
    return Prediction.objects.create(
        machine=machine, versions={}, source="api", window_end=window_end, horizon_h=20.0, probability=0.7,
        predicted_failure=False, rul_h=37.0, rul_lower_h=30.0, rul_upper_h=44.0, health_score=60.0,
        confidence=0.4, explanation=explanation, **extra)


def test_pages_show_a_cycle_machine_in_cycles_and_a_timed_one_in_hours(client_for, world, db):
    with tenant_context(world.acme):
        engine_type = machine_type_adopt(key=CMAPSS)
        engine = machine_create(machine_type_id=engine_type.id, name="Engine-1")
        clocked = machine_create(machine_type_id=engine_type.id, name="Engine-2")
        _prediction(engine, EPOCH + timedelta(hours=150))  # cycle 150: one model hour per cycle
        _prediction(clocked, datetime(2026, 3, 1, tzinfo=UTC))
    viewer = client_for("viewer")
    page = viewer.get(f"/machines/{engine.id}/").content.decode()
    assert "failure risk within 20 cycles" in page and "37 cycles" in page and "(30 cycles – 44 cycles)" in page
    assert "12 cycles before failure" in page and ">5 cycles<" in page and ">60 cycles<" in page
    assert " h<" not in page and "days" not in page
    timed = viewer.get(f"/machines/{clocked.id}/").content.decode()
    assert "failure risk within 20.0 h" in timed and "37.0 h" in timed and "12.0 h before failure" in timed
    rows = viewer.get("/fleet/rows/").content.decode()
    assert rows.count("37 cycles") == 1 and rows.count("37.0 h") == 1


def test_chart_data_of_a_cycle_machine_is_on_its_cycle_axis(client_for, world, db):
    from machines.live import readings_push

    with tenant_context(world.acme):
        engine_type = machine_type_adopt(key=CMAPSS)
        engine = machine_create(machine_type_id=engine_type.id, name="Engine-1")
        sensor = engine_type.metadata["sensors"][4]["name"]
        readings_push(items=[{"machine": "Engine-1", "ts": (EPOCH + timedelta(seconds=c)).isoformat(),
                              "values": {sensor: 640.0 + c / 100}} for c in range(1, 151)])
        _prediction(engine, EPOCH + timedelta(hours=150))
    data = client_for("viewer").get(f"/machines/{engine.id}/chart-data/").json()
    assert data["time_unit"] == "cycles" and data["seconds_per_hour"] == 1.0
    assert data["readings"]["t"][-1] == 150 and data["predictions"]["t"] == [150.0]  # not 150 x 3600


def test_the_model_page_names_a_cycle_version_s_cap_and_errors_in_cycles(client_for, world, db):
    with tenant_context(world.acme):
        engine_type = machine_type_adopt(key=CMAPSS)
        pages = {}
        for number, scale in ((1, 3600.0), (2, 1.0)):
            dataset = Dataset.objects.create(machine_type=engine_type, source="real", fingerprint=str(number) * 64,
                                             rows=100, params={"time_scale": scale})
            version = ModelVersion.objects.create(
                machine_type=engine_type, kind="rul_regressor", number=number, dataset=dataset, data_source="real",
                data_fingerprint="0" * 64, artifact_path=f"models/x/rul-{number}.zip", artifact_sha256="a" * 64,
                metrics={"rmse": 21.5, "mae": 17.2, "cap_h": 125.0, "coverage": 0.9})
            pages[scale] = version.id
    viewer = client_for("viewer")
    cycles = viewer.get(f"/models/{pages[3600.0]}/").content.decode()
    assert "RMSE cycles" in cycles, cycles
    assert "Cap cycles" in cycles
    assert "RMSE h" not in cycles and "Cap h" not in cycles
    hours = viewer.get(f"/models/{pages[1.0]}/").content.decode()
    assert "RMSE h" in hours and "Cap h" in hours
    # In words first, in the data's own unit: the mean error of 17.2 as time.
    assert "remaining life was off by 17 cycles on average" in cycles and "off by 17.2 h on average" in hours
    listed = viewer.get(f"/models/?machine_type={engine_type.id}").content.decode()
    assert "RMSE cycles" in listed and "RMSE h" in listed
    with tenant_context(world.acme):
        classifier = ModelVersion.objects.create(
            machine_type=engine_type, kind="failure_classifier", number=1, data_source="real",
            dataset=Dataset.objects.get(params__time_scale=3600.0), data_fingerprint="0" * 64,
            artifact_path="models/x/clf-1.zip", artifact_sha256="a" * 64,
            metrics={"f1": 0.5, "horizon_h": 20.0, "rows": 100, "positive_rate": 0.1, "recall": 0.5, "fpr": 0.1})
    page = viewer.get(f"/models/{classifier.id}/").content.decode()
    assert "a failure within the horizon of 20 cycles" in page and "RUL MAE cycles" in page
    assert "Horizon cycles" in page
