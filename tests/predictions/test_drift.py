"""Drift: PSI and KS on samples (pure), drift checks of the trained ABB motor's four champions
against streams the tests generate (same simulator, another seed: ok; signals scaled: drifted and
an event), moved stored outputs, the scheduled run and the on-demand job, and who may read and
start them (API and model page). Cycle-indexed data (each machine's latest steps) is checked in
test_cycle_indexed.py, on the fleet trained there once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context
from scipy.stats import ks_2samp

from engine import drift
from jobs.models import Job
from machines.live import readings_push
from machines.models import MachineType
from machines.services import machine_create
from predictions.models import (
    DriftReference,
    DriftReport,
    ModelEvent,
    ModelVersion,
    OutcomeSnapshot,
    Prediction,
)
from predictions.services import drift as drift_service
from predictions.services.drift import (
    drift_check,
    drift_check_start,
    drift_reference_ensure,
    drift_response,
    models_monitor,
)
from predictions.tasks import drift_check_task

FLEET = 40  # machines in a generated stream: fewer differ from the training fleet by themselves (at 24
# one-day steps gave a drift share of 0.104 against the 0.10 threshold)
WINDOW_DAYS = 700  # covers whole simulated runs (100-600 steps of the ABB motor's one day)

# --- pure ---------------------------------------------------------------------------------------


def test_psi_is_near_zero_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    reference, same = rng.normal(0, 1, 5_000), rng.normal(0, 1, 5_000)
    assert drift.psi_samples(reference, same) < 0.02
    assert drift.psi_samples(reference, rng.normal(1.0, 1, 5_000)) > 0.5
    assert drift.psi_samples(reference, rng.normal(0, 2.0, 5_000)) > 0.3
    assert drift.psi_samples(reference, [np.nan, np.nan]) is None


def test_psi_of_known_bins():
    # Two bins at 0: reference 50/50, recent 90/10 -> 0.4 ln(0.9/0.5) + (-0.4) ln(0.1/0.5)
    expected = 0.4 * np.log(0.9 / 0.5) - 0.4 * np.log(0.1 / 0.5)
    assert drift.psi([0.0], [0.5, 0.5], [-1.0] * 9 + [1.0]) == pytest.approx(expected)


@pytest.mark.parametrize("shift", [0.0, 0.05, 0.3])
def test_ks_matches_scipy(shift):
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 800), rng.normal(shift, 1, 1_300)
    expected = ks_2samp(a, b, method="asymp")
    assert drift.ks_statistic(a, b) == pytest.approx(expected.statistic, abs=1e-12)
    assert drift.ks_pvalue(drift.ks_statistic(a, b), len(a), len(b)) == pytest.approx(expected.pvalue, rel=0.05,
                                                                                       abs=1e-6)


def test_ks_against_a_sketch_is_close_to_ks_against_all_rows():
    rng = np.random.default_rng(2)
    reference, recent = rng.gamma(2.0, 1.0, 50_000), rng.gamma(2.2, 1.0, 4_000)
    summary = drift.sketch(reference)
    assert len(summary["sample"]) == drift.SAMPLE and len(summary["shares"]) == drift.BINS
    full = ks_2samp(reference, recent).statistic
    assert drift.ks_statistic(summary["sample"], recent) == pytest.approx(full, abs=2 / drift.SAMPLE)


def test_feature_drift_and_status():
    rng = np.random.default_rng(3)
    reference = drift.sketch(rng.normal(0, 1, 5_000))
    same = drift.feature_drift("a", reference, rng.normal(0, 1, 2_000))
    moved = drift.feature_drift("b", reference, rng.normal(0.8, 1, 2_000))
    too_few = drift.feature_drift("c", reference, [0.1] * (drift.MIN_VALUES - 1))
    assert not same.drifted and moved.drifted and too_few.psi is None
    assert drift.drift_share([same, moved, too_few]) == 0.5
    assert drift.drift_status(0.5, None, threshold=0.1) == "drifted"
    assert drift.drift_status(0.05, 0.3, threshold=0.1) == "warning"
    assert drift.drift_status(0.05, 0.1, threshold=0.1) == "ok"
    assert drift.drift_status(None, None, threshold=0.1) == "no_data"


# --- checks on generated streams ------------------------------------------------------------------


def _stream(document: dict[str, Any], *, seed: int, scale: float = 1.0) -> list[dict[str, Any]]:
    """A fleet from the simulator, each machine's run moved to end within the last hour, numeric
    sensors multiplied by `scale`."""
    from engine.synthetic.simulator import simulate_fleet

    table = simulate_fleet(document, machines=FLEET, seed=seed)
    numeric = {s["name"] for s in document["sensors"] if s["kind"] != "categorical"}
    rows = table.select(["machine", "ts", *[s["name"] for s in document["sensors"]]]).to_pylist()
    last: dict[str, Any] = {}
    for row in rows:
        last[row["machine"]] = max(row["ts"], last.get(row["machine"], row["ts"]))
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    items = []
    for row in rows:
        shift = now - timedelta(hours=1) - last[row["machine"]]
        values = {k: (v * scale if k in numeric else v) for k, v in row.items()
                  if k not in ("machine", "ts") and v is not None and v == v}
        items.append({"machine": f"S{seed}-{row['machine']}", "ts": (row["ts"] + shift).isoformat(),
                      "values": values})
    return items


def _push_stream(machine_type: MachineType, *, seed: int, scale: float = 1.0) -> None:
    items = _stream(machine_type.metadata, seed=seed, scale=scale)
    for name in sorted({i["machine"] for i in items}):
        machine_create(machine_type_id=machine_type.id, name=name)
    for start in range(0, len(items), 5_000):
        result = readings_push(items=items[start:start + 5_000])
        assert not result.rejected, result.rejected[:3]


def _champion(trained) -> ModelVersion:
    return ModelVersion.objects.select_related("machine_type", "dataset").get(
        machine_type_id=trained.machine_type_id, kind="failure_classifier", status="champion")


def test_reference_is_computed_once_from_the_training_dataset(db, trained_motor, in_acme):
    version = _champion(trained_motor)
    first = drift_check(version=version, days=WINDOW_DAYS)  # no recent readings: nothing to judge
    reference = DriftReference.objects.get(version=version)
    assert first.status == "no_data" and first.rows == 0
    assert reference.rows == min(version.dataset.rows, 5_000)
    assert len(reference.features) > 100 and reference.scores["count"] == reference.rows
    sketch = next(iter(reference.features.values()))
    assert len(sketch["sample"]) <= drift.SAMPLE and len(sketch["edges"]) <= drift.BINS - 1
    drift_check(version=version, days=WINDOW_DAYS)
    assert DriftReference.objects.filter(version=version).count() == 1


@pytest.mark.clock  # the recent window counts back from the clock
def test_an_undrifted_stream_is_ok(db, trained_motor, in_acme):
    version = _champion(trained_motor)
    _push_stream(version.machine_type, seed=12)
    report = drift_check(version=version, days=WINDOW_DAYS, trigger="manual")
    assert report.machines == FLEET and report.rows > 2_000
    assert report.status == "ok", (report.drift_share, [f["feature"] for f in report.features if f["drifted"]])
    assert report.drift_share < 0.10
    assert not ModelEvent.objects.filter(version=version, action="drift_detected").exists()


@pytest.mark.clock  # the recent window counts back from the clock
def test_a_drifted_stream_is_reported_and_recorded_as_an_event(db, trained_motor, in_acme):
    version = _champion(trained_motor)
    _push_stream(version.machine_type, seed=12, scale=1.3)
    report = drift_check(version=version, days=WINDOW_DAYS)
    assert report.status == "drifted" and report.drift_share > 0.3
    assert report.features[0]["psi"] >= report.features[-1]["psi"] or report.features[-1]["psi"] is None
    event = ModelEvent.objects.get(version=version, action="drift_detected")
    assert event.details["report"] == report.id and event.details["drift_share"] == report.drift_share
    assert drift_response(report) == event  # once per report


@pytest.mark.clock  # the recent window counts back from the clock
def test_missing_data_trend(db, trained_motor, in_acme):
    version = _champion(trained_motor)
    items = _stream(version.machine_type.metadata, seed=12)
    sensor = version.machine_type.sensors[0]["name"]
    for item in items[::2]:
        item["values"].pop(sensor, None)
    for name in sorted({i["machine"] for i in items}):
        machine_create(machine_type_id=version.machine_type_id, name=name)
    readings_push(items=items)
    report = drift_check(version=version, days=WINDOW_DAYS)
    quality = {q["signal"]: q for q in report.data_quality}
    assert quality[sensor]["recent"] == pytest.approx(0.5, abs=0.05) and quality[sensor]["change"] > 0.4


@pytest.mark.clock  # the recent window counts back from the clock
def test_scheduled_run_checks_each_champion_once(db, trained_motor, in_acme):
    version = _champion(trained_motor)
    champions = ModelVersion.objects.filter(machine_type_id=version.machine_type_id, status="champion")
    # The four time-series kinds (an observation classifier belongs to observation types only).
    assert set(champions.values_list("kind", flat=True)) == set(ModelVersion.Kind.values) - {"observation_classifier"}
    assert len(models_monitor()) == champions.count()
    assert models_monitor() == []  # a duplicate delivery within the hour does nothing
    for champion in champions:
        assert DriftReport.objects.filter(version=champion, trigger="scheduled").count() == 1
    assert version.outcome_snapshots.count() == 1  # outcomes are judged on the classifier only
    assert not OutcomeSnapshot.objects.exclude(version=version).exists()


@pytest.mark.parametrize("kind", ["rul_regressor", "anomaly_detector", "sensor_forecaster"])
def test_every_kind_is_checked_on_its_own_inputs(db, trained_motor, in_acme, kind):
    version = ModelVersion.objects.select_related("machine_type", "dataset").get(
        machine_type_id=trained_motor.machine_type_id, kind=kind, status="champion")
    _push_stream(version.machine_type, seed=12)
    calm = drift_check(version=version, days=WINDOW_DAYS)
    reference = DriftReference.objects.get(version=version)
    assert calm.status == "ok" and calm.machines == FLEET, [f["feature"] for f in calm.features if f["drifted"]]
    if kind == "sensor_forecaster":  # raw signals in, no stored output to compare
        signals = {s["name"] for s in version.machine_type.metadata["sensors"] if s["kind"] != "categorical"}
        assert signals <= set(reference.features) and reference.scores == {}
    else:
        assert len(reference.features) > 100 and reference.scores["count"] == reference.rows
    _push_stream(version.machine_type, seed=13, scale=1.3)
    moved = drift_check(version=version, days=WINDOW_DAYS)
    assert moved.status == "drifted" and moved.machines == 2 * FLEET
    assert ModelEvent.objects.filter(version=version, action="drift_detected", details__report=moved.id).exists()


def test_moved_outputs_of_a_regressor_warn_when_its_inputs_did_not(db, trained_motor, in_acme):
    version = ModelVersion.objects.select_related("machine_type", "dataset").get(
        machine_type_id=trained_motor.machine_type_id, kind="rul_regressor", status="champion")
    _push_stream(version.machine_type, seed=12)
    reference = drift_reference_ensure(version=version)
    machine = version.machine_type.machines.first()
    far = 10 * float(reference.scores["edges"][-1]) + 1.0  # far beyond the reference's top bin
    for _ in range(drift_service.MIN_PREDICTIONS):
        Prediction.objects.create(machine=machine, source="scheduled", window_end=timezone.now(), horizon_h=24,
                                  probability=0.1, predicted_failure=False, rul_h=far, health_score=80.0,
                                  confidence=0.8, versions={"rul_regressor": version.id})
    report = drift_check(version=version, days=WINDOW_DAYS)
    stored = Prediction.objects.filter(versions__rul_regressor=version.id).count()  # with onboarding's own
    assert report.predictions == stored >= drift_service.MIN_PREDICTIONS and report.prediction_psi > drift.PSI_DRIFT
    assert report.status == "warning", report.drift_share
    classifier = drift_check(version=_champion(trained_motor), days=WINDOW_DAYS)
    assert classifier.predictions == stored - drift_service.MIN_PREDICTIONS  # ours name no classifier version


def test_on_demand_job_reports_drift_and_outcomes(db, trained_motor, in_acme, world):
    version = _champion(trained_motor)
    job = drift_check_start(version=version, created_by_id=world.engineer.id)
    drift_check_task.run(job.id)
    drift_check_task.run(job.id)  # a second delivery finds the job claimed
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert DriftReport.objects.filter(id=job.result["report"], trigger="manual").exists()
    assert version.outcome_snapshots.filter(id=job.result["outcomes"]).exists()
    assert DriftReport.objects.filter(version=version).count() == 1


# --- API and page ---------------------------------------------------------------------------------


def _urls(version_id: int) -> dict[str, str]:
    return {"drift": f"/api/v1/models/{version_id}/drift/", "outcomes": f"/api/v1/models/{version_id}/outcomes/",
            "check": f"/api/v1/models/{version_id}/drift/check/", "page": f"/models/{version_id}/",
            "button": f"/models/{version_id}/drift-check/"}


def test_api_reads_for_viewers_checks_for_engineers(trained_motor, client_for, world):
    with tenant_context(world.acme):
        version = _champion(trained_motor)
        drift_check(version=version, days=WINDOW_DAYS)
    urls = _urls(version.id)
    viewer = client_for("viewer")
    reports = viewer.get(urls["drift"])
    assert reports.status_code == 200 and reports.json()[0]["status"] == "no_data"
    assert viewer.get(urls["outcomes"]).status_code == 200
    assert viewer.post(urls["check"]).status_code == 403
    started = client_for("engineer").post(urls["check"])
    assert started.status_code == 202 and started.json()["kind"] == "models.drift_check"
    for url in (urls["drift"], urls["outcomes"]):
        assert client_for("globex_owner", tenant=world.globex).get(url).status_code == 404
        assert client_for("outsider").get(url).status_code == 404
    assert client_for("owner", tenant=world.globex).post(urls["check"]).status_code == 404


def test_api_checks_every_kind_and_only_classifiers_take_outcomes(trained_motor, client_for, world):
    with tenant_context(world.acme):
        rul = ModelVersion.objects.get(machine_type_id=trained_motor.machine_type_id, kind="rul_regressor",
                                       status="champion")
    started = client_for("engineer").post(_urls(rul.id)["check"])
    assert started.status_code == 202, started.content
    with tenant_context(world.acme):
        job = Job.objects.get(id=started.json()["id"])
        drift_check_task.run(job.id)
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, job.error
        assert "outcomes" not in job.result and not rul.outcome_snapshots.exists()
    page = client_for("viewer").get(_urls(rul.id)["page"]).content.decode()
    assert "Drift" in page and "Live outcomes" not in page
    assert client_for("viewer").get(_urls(rul.id)["drift"]).json()[0]["id"] == job.result["report"]


def test_model_page_shows_drift_and_the_button_to_engineers(trained_motor, client_for, world):
    with tenant_context(world.acme):
        version = _champion(trained_motor)
        _push_stream(version.machine_type, seed=12, scale=1.3)
        report = drift_check(version=version, days=WINDOW_DAYS)
    urls = _urls(version.id)
    html = client_for("engineer").get(urls["page"]).content.decode()
    assert "Drift" in html and "badge bad" in html and "Check drift now" in html
    assert report.features[0]["feature"] in html and "Live outcomes" in html
    viewer_page = client_for("viewer").get(urls["page"])
    assert viewer_page.status_code == 200 and "Check drift now" not in viewer_page.content.decode()
    assert client_for("viewer").post(urls["button"]).status_code == 403
    assert client_for("globex_owner", tenant=world.globex).post(urls["button"]).status_code == 404
    assert client_for("globex_owner", tenant=world.globex).get(urls["page"]).status_code == 404
    started = client_for("engineer").post(urls["button"])
    assert started.status_code == 302
    with tenant_context(world.acme):
        assert Job.objects.filter(kind="models.drift_check").exists()

