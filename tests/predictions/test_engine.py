"""The ML engine through its services and API: onboarding, the registry, scoring, explanations,
metering, and isolation between tenants and roles."""

from __future__ import annotations

import json

import pytest
from django_tenants.utils import tenant_context

from billing.services import usage_predictions
from engine.features import document_signals
from jobs.models import Job
from machines.models import Machine, MachineType
from pdm_saas.errors import Conflict, InvalidInput
from predictions.models import Dataset, ModelEvent, ModelVersion, Prediction
from predictions.services import registry, scoring
from predictions.services.training import ONBOARD_KIND
from tests.predictions.conftest import TRAINED_KINDS, TRAINED_TYPE, failing_run_readings

JSON = "application/json"
pytestmark = pytest.mark.django_db


def test_onboarding_registers_champions_with_provenance_and_metrics(trained_motor, in_acme):
    champions = ModelVersion.objects.filter(machine_type_id=trained_motor.machine_type_id, status="champion")
    assert sorted(champions.values_list("kind", flat=True)) == sorted(TRAINED_KINDS)
    dataset = Dataset.objects.get(id=trained_motor.summary["dataset"]["id"])
    assert dataset.source == "simulated" and dataset.machines == 24 and len(dataset.fingerprint) == 64
    classifier = champions.get(kind="failure_classifier")
    assert classifier.data_source == "simulated" and classifier.data_fingerprint == dataset.fingerprint
    # Not trivial: far better than always predicting the majority class on held-out machines.
    assert classifier.metrics["f1"] > classifier.baseline["f1"] + 0.3
    assert classifier.metrics["fpr"] <= 0.1
    assert classifier.feature_importance and classifier.feature_importance[0]["importance"] > 0
    rul = champions.get(kind="rul_regressor")
    # The global views reach the registry, and the stored importance is their mean |SHAP| ranking.
    for version, output in ((classifier, "log-odds of failure within the horizon"), (rul, "remaining life")):
        view = version.global_explanation
        assert output in view["output"] and view["signals"] and view["dependence"]
        assert version.feature_importance[0]["feature"] == view["features"][0]["feature"]
    assert not champions.get(kind="anomaly_detector").global_explanation
    assert rul.metrics["r2"] > 0.3 and rul.metrics["rmse"] < rul.baseline["rmse"]
    # The registry keeps the interval coverage measured on held-out machines, the target beside it.
    models = registry.model_set_for(machine_type=MachineType.objects.get(id=trained_motor.machine_type_id))
    measured = models.bundles["rul_regressor"].model.metrics["coverage"]
    assert rul.metrics["coverage"] == pytest.approx(measured) and rul.metrics["target_coverage"] == 0.9
    assert ModelEvent.objects.filter(version=classifier, action="promoted").exists()


def test_onboarding_synthesizes_a_dataset_with_its_quality_report_and_synthesizer(trained_motor, in_acme):
    from predictions.services.registry import artifact_read

    summary = trained_motor.summary["synthetic"]
    synthesized = Dataset.objects.get(id=summary["dataset"])
    assert synthesized.source == "synthesized" and synthesized.parent_id == trained_motor.summary["dataset"]["id"]
    report = synthesized.quality_report
    assert 0.5 < report["overall"] <= 1 and 0 < report["column_shapes"] <= 1 and 0 < report["column_pair_trends"] <= 1
    assert report["columns"] and synthesized.rows > 0
    saved = synthesized.params["synthesizer"]
    assert saved["kind"] == "gaussian_copula" and saved["level"] == "window"
    assert artifact_read(saved["artifact_path"], sha256=saved["artifact_sha256"])  # stored, and intact
    assert summary["quality"]["overall"] == report["overall"]


def test_synthesize_endpoint_queues_a_job_for_writers_of_this_tenant_only(trained_motor, client_for, world):
    dataset_id = trained_motor.summary["dataset"]["id"]
    url = f"/api/v1/datasets/{dataset_id}/synthesize/"
    queued = client_for("engineer").post(url, {"kind": "tvae", "epochs": 5}, content_type=JSON)
    assert queued.status_code == 202, queued.content
    assert queued.json()["queue"] == "synth" and queued.json()["params"]["kind"] == "tvae"
    assert client_for("viewer").post(url, {}, content_type=JSON).status_code == 403
    assert client_for("globex_owner", tenant=world.globex).post(url, {}, content_type=JSON).status_code == 404
    bad = client_for("engineer").post(url, {"kind": "gan-of-my-own"}, content_type=JSON)
    assert bad.status_code == 400


def test_onboarding_scores_machines_with_readings_and_counts_them(trained_motor, in_acme, world):
    stored = Prediction.objects.filter(machine_id=trained_motor.machine_id, source="onboarding")
    assert stored.count() == 1 == trained_motor.summary["predictions"]
    prediction = stored.get()
    # The stored readings end at a failure: the model must see it coming.
    assert prediction.predicted_failure
    assert prediction.rul_h is not None and prediction.rul_lower_h <= prediction.rul_h <= prediction.rul_upper_h
    assert 0 <= prediction.health_score < 50
    explanation = prediction.explanation
    assert {"top_factors", "recommendation", "confidence", "similar_cases", "rule"} <= set(explanation)
    factor = explanation["top_factors"][0]
    assert factor["signal"] and factor["contribution"] != 0 and "zone" in factor
    assert explanation["rule"]["text"].startswith("IF ")
    assert explanation["similar_cases"] and explanation["similar_cases"][0]["failure_mode"]
    assert explanation["recommendation"]
    assert 0 <= prediction.anomaly_score <= 1 and explanation["unusual_signals"]
    forecast = explanation["forecast"]
    document = MachineType.objects.get(id=trained_motor.machine_type_id).metadata
    assert {f["signal"] for f in forecast} == set(document_signals(document))  # every signal projected
    assert all({"hours_to_warning", "hours_to_critical", "projection"} <= set(f) for f in forecast)
    assert usage_predictions(tenant_id=world.acme.id) >= 1


def test_predict_endpoint_from_stored_and_inline_readings(trained_motor, client_for, world):
    engineer = client_for("engineer")
    before = _usage(world)
    stored = engineer.post("/api/v1/predictions/", {"machine": "ABB-101"}, content_type=JSON)
    assert stored.status_code == 201, stored.content
    body = stored.json()
    assert body["machine"] == "ABB-101" and body["source"] == "api"
    for field in ("probability", "failure_mode", "rul_h", "rul_lower_h", "rul_upper_h", "health_score",
                  "explanation", "confidence"):
        assert field in body
    assert "forecast" not in body["explanation"]  # on request only: the costliest part
    projected = engineer.post("/api/v1/predictions/", {"machine": "ABB-101", "forecast": True}, content_type=JSON)
    assert projected.json()["explanation"]["forecast"]
    with tenant_context(world.acme):
        document = MachineType.objects.get(key=TRAINED_TYPE).metadata
    healthy = failing_run_readings(document, "ABB-101", seed=5)[:30]  # the first hours of a run
    inline = engineer.post("/api/v1/predictions/", {"machine": "ABB-101", "readings": [
        {"ts": r["ts"], "values": r["values"]} for r in healthy]}, content_type=JSON)
    assert inline.status_code == 201, inline.content
    assert inline.json()["probability"] < body["probability"]
    assert _usage(world) == before + 3


def test_batch_scores_every_step_and_refuses_bad_rows_whole(trained_motor, client_for, world):
    with tenant_context(world.acme):
        document = MachineType.objects.get(key=TRAINED_TYPE).metadata
    rows = failing_run_readings(document, "ABB-101", seed=7)[:50]
    engineer = client_for("engineer")
    before = _usage(world)
    ok = engineer.post("/api/v1/predictions/batch/", {"readings": rows}, content_type=JSON)
    assert ok.status_code == 201, ok.content
    assert len(ok.json()) == 50 and _usage(world) == before + 50
    bad = [*rows[:3], {"machine": "ABB-101", "ts": "yesterday", "values": {}},
           {"machine": "Nope", "ts": rows[0]["ts"], "values": {}}]
    refused = engineer.post("/api/v1/predictions/batch/", {"readings": bad}, content_type=JSON)
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert "nothing was scored" in error["message"]
    assert [r["index"] for r in error["details"]["rows"]] == [3, 4]
    too_many = engineer.post("/api/v1/predictions/batch/", {"readings": rows * 201}, content_type=JSON)
    assert too_many.status_code == 400 and "10,000" in too_many.json()["error"]["message"]
    assert _usage(world) == before + 50


def test_roles_and_tenants_are_refused(trained_motor, client_for, world):
    viewer = client_for("viewer")
    assert viewer.get("/api/v1/models/").status_code == 200
    assert viewer.post("/api/v1/predictions/", {"machine": "ABB-101"}, content_type=JSON).status_code == 403
    version_id = _champion_id(world, "failure_classifier")
    engineer = client_for("engineer")
    assert engineer.post(f"/api/v1/models/{version_id}/promote/", {}, content_type=JSON).status_code == 403
    assert viewer.post(f"/api/v1/models/{version_id}/archive/", {}, content_type=JSON).status_code == 403
    assert viewer.post("/api/v1/models/rollback/", {"machine_type": TRAINED_TYPE, "kind": "rul_regressor"},
                       content_type=JSON).status_code == 403
    assert viewer.get(f"/api/v1/models/{version_id}/events/").status_code == 200
    outsider = client_for("globex_owner")  # a member of globex, on acme's host
    assert outsider.get("/api/v1/models/").status_code == 404
    assert outsider.post("/api/v1/predictions/", {"machine": "ABB-101"}, content_type=JSON).status_code == 404
    # On its own host, globex sees none of acme's models, datasets or predictions.
    own = client_for("globex_owner", tenant=world.globex)
    for url in ("/api/v1/models/", "/api/v1/datasets/", "/api/v1/predictions/"):
        assert own.get(url).json()["count"] == 0
    assert own.get(f"/api/v1/models/{version_id}/").status_code == 404
    assert own.get(f"/api/v1/models/{version_id}/events/").status_code == 404
    assert own.post(f"/api/v1/models/{version_id}/promote/", {}, content_type=JSON).status_code == 404
    assert outsider.post(f"/api/v1/models/{version_id}/archive/", {}, content_type=JSON).status_code == 404
    assert own.post("/api/v1/predictions/", {"machine": "ABB-101"}, content_type=JSON).status_code == 400


def test_promote_and_rollback_move_the_champion_with_an_audit_trail(trained_motor, client_for, world):
    with tenant_context(world.acme):
        current = ModelVersion.objects.get(machine_type_id=trained_motor.machine_type_id, kind="failure_classifier",
                                           status="champion")
        bundle = registry.bundle_load(registry.artifact_read(current.artifact_path))
        challenger = registry.model_version_register(
            machine_type=current.machine_type, bundle=bundle, dataset=current.dataset, training_seconds=1.0)
    assert challenger.status == "candidate" and challenger.number == current.number + 1
    admin = client_for("admin")
    promoted = admin.post(f"/api/v1/models/{challenger.id}/promote/", {"note": "better"}, content_type=JSON)
    assert promoted.status_code == 200 and promoted.json()["status"] == "champion"
    with tenant_context(world.acme):
        assert ModelVersion.objects.get(id=current.id).status == "archived"
    back = admin.post("/api/v1/models/rollback/", {"machine_type": TRAINED_TYPE, "kind": "failure_classifier"},
                      content_type=JSON)
    assert back.status_code == 200 and back.json()["id"] == current.id
    with tenant_context(world.acme):
        assert ModelVersion.objects.get(id=challenger.id).status == "archived"
        actions = list(ModelEvent.objects.filter(version__in=[current, challenger]).values_list("action", flat=True))
    assert {"trained", "promoted", "archived", "rolled_back"} <= set(actions)
    events = admin.get(f"/api/v1/models/{current.id}/events/").json()
    assert events[0]["action"] == "rolled_back"
    again = admin.post("/api/v1/models/rollback/", {"machine_type": TRAINED_TYPE, "kind": "anomaly_detector"},
                       content_type=JSON)
    assert again.status_code == 409


def test_a_tampered_artifact_is_refused_not_loaded(trained_motor, in_acme):
    version = ModelVersion.objects.get(machine_type_id=trained_motor.machine_type_id, kind="rul_regressor",
                                       status="champion")
    with pytest.raises(Conflict, match="checksum"):
        registry.artifact_read(version.artifact_path, sha256="0" * 64)


def test_predicting_before_onboarding_says_what_to_do(in_acme, motor):
    with pytest.raises(Conflict, match="no trained models yet"):
        scoring.machine_predict(machine=motor)


def test_onboard_endpoint_queues_a_job_and_checks_its_parameters(client_for, world, trained_motor):
    engineer = client_for("engineer")
    queued = engineer.post("/api/v1/models/onboard/", {"machine_type": TRAINED_TYPE, "machines": 30},
                           content_type=JSON)
    assert queued.status_code == 202, queued.content
    with tenant_context(world.acme):
        job = Job.objects.get(id=queued.json()["id"])
    assert job.kind == ONBOARD_KIND and job.queue == "train" and job.params["machines"] == 30
    bad = engineer.post("/api/v1/models/onboard/", {"machine_type": TRAINED_TYPE, "machines": 2}, content_type=JSON)
    assert bad.status_code == 400
    assert client_for("viewer").post("/api/v1/models/onboard/", {"machine_type": TRAINED_TYPE},
                                     content_type=JSON).status_code == 403


def test_train_real_endpoint_takes_the_search_budget_and_a_cap(client_for, world, trained_motor):
    engineer = client_for("engineer")
    queued = engineer.post("/api/v1/models/train-real/", {"machine_type": TRAINED_TYPE, "budget_s": 60,
                                                          "max_trials": 10, "rul_cap": 125}, content_type=JSON)
    assert queued.status_code == 202, queued.content
    with tenant_context(world.acme):
        job = Job.objects.get(id=queued.json()["id"])
    assert job.queue == "train" and job.params["search"] == {"budget_s": 60, "max_trials": 10, "cap": 125}
    again = engineer.post("/api/v1/models/train-real/", {"machine_type": TRAINED_TYPE}, content_type=JSON)
    assert again.status_code == 409  # one training job per type at a time
    for wrong in ({"budget_s": 5}, {"max_trials": 1}, {"rul_cap": 0}):
        bad = engineer.post("/api/v1/models/train-real/", {"machine_type": TRAINED_TYPE, **wrong}, content_type=JSON)
        assert bad.status_code == 400 and next(iter(wrong)) in str(bad.json()), bad.content
    assert client_for("viewer").post("/api/v1/models/train-real/", {"machine_type": TRAINED_TYPE},
                                     content_type=JSON).status_code == 403


def test_scoring_readings_refuse_wrong_values(trained_motor, in_acme):
    from predictions.services.inputs import scoring_readings

    machine = Machine.objects.get(id=trained_motor.machine_id)
    with pytest.raises(InvalidInput) as caught:
        scoring_readings(items=[{"ts": "2026-01-01T00:00:00Z", "values": {"current_a": "high"}}], limit=10,
                         machine=machine)
    assert "expected a number" in caught.value.details["rows"][0]["reason"]


def test_inline_readings_refuse_non_finite_values(trained_motor, client_for, world):
    """1e400 is a JSON number Python reads as infinity; huge integers overflow a float; a
    lenient client's NaN: each refuses the request with the row's index, and nothing is scored."""
    engineer = client_for("engineer")
    before = _usage(world)
    for value in ("1e400", "-1e400", "1" + "0" * 400):
        raw = ('{"machine": "ABB-101", "readings": [{"ts": "2026-01-01T00:00:00Z", "values": {"current_a": 12}}, '
               f'{{"ts": "2026-01-01T01:00:00Z", "values": {{"current_a": {value}}}}}]}}')
        refused = engineer.post("/api/v1/predictions/", raw, content_type=JSON)
        assert refused.status_code == 400, refused.content
        rows = refused.json()["error"]["details"]["rows"]
        assert rows[0]["index"] == 1 and "expected a finite number" in rows[0]["reason"]
        batch = engineer.post("/api/v1/predictions/batch/", '{"readings": [{"machine": "ABB-101", '
                              f'"ts": "2026-01-01T00:00:00Z", "values": {{"current_a": {value}}}}}]}}',
                              content_type=JSON)
        assert batch.status_code == 400 and "finite" in batch.json()["error"]["details"]["rows"][0]["reason"]
    with tenant_context(world.acme):
        from predictions.services.inputs import scoring_readings

        machine = Machine.objects.select_related("machine_type").get(id=trained_motor.machine_id)
        with pytest.raises(InvalidInput) as caught:
            scoring_readings(items=[{"ts": "2026-01-01T00:00:00Z", "values": {"current_a": float("nan")}}],
                             limit=10, machine=machine)
        assert "expected a finite number" in caught.value.details["rows"][0]["reason"]
    assert _usage(world) == before


def _usage(world) -> int:
    return usage_predictions(tenant_id=world.acme.id)


def _champion_id(world, kind: str) -> int:
    with tenant_context(world.acme):
        return ModelVersion.objects.get(machine_type__key=TRAINED_TYPE, kind=kind, status="champion").id


def test_onboarding_command_prints_timings_and_metrics(world, db, capsys):
    from django.core.management import call_command

    call_command("onboard_machine_type", "ai4i-milling-machine", tenant="globex", machines=12, horizon_h=12)
    out = capsys.readouterr()
    assert "Onboarded ai4i-milling-machine in" in out.out and "simulate" in out.out
    assert "failure_classifier v1 (champion): f1" in out.out
    assert "100%" in out.err  # the progress bar
    with tenant_context(world.globex):
        assert ModelVersion.objects.filter(status="champion").count() == 4
    with tenant_context(world.acme):  # nothing reached the other tenant
        assert not ModelVersion.objects.filter(machine_type__key="ai4i-milling-machine").exists()


def test_real_data_command_explains_missing_data(world, db):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="No machine type"):
        call_command("train_real_data", "nope", tenant="acme")


def test_a_machines_own_champion_overrides_its_types(trained_motor, in_acme):
    type_wide = ModelVersion.objects.get(machine_type_id=trained_motor.machine_type_id, kind="failure_classifier",
                                         status="champion", machine__isnull=True)
    machine = Machine.objects.get(id=trained_motor.machine_id)
    bundle = registry.bundle_load(registry.artifact_read(type_wide.artifact_path))
    own = registry.model_version_register(machine_type=type_wide.machine_type, machine=machine, bundle=bundle,
                                          dataset=type_wide.dataset, training_seconds=1.0)
    assert own.number == 1  # numbered within (type, machine, kind)
    registry.model_version_promote(version_id=own.id)
    chosen = registry.champion_versions(machine_type_id=trained_motor.machine_type_id, machine_id=machine.id)
    assert chosen["failure_classifier"].id == own.id and chosen["rul_regressor"].machine_id is None
    others = registry.champion_versions(machine_type_id=trained_motor.machine_type_id)
    assert others["failure_classifier"].id == type_wide.id
    assert ModelVersion.objects.get(id=type_wide.id).status == "champion"  # the type's champion stays


def test_score_file_writes_one_prediction_per_step_and_counts_them(trained_motor, world, tmp_path, capsys):
    import pyarrow.csv as pa_csv
    from django.core.management import CommandError, call_command

    with tenant_context(world.acme):
        document = MachineType.objects.get(id=trained_motor.machine_type_id).metadata
    rows = failing_run_readings(document, "Field-7", seed=9)
    lines = ["unit,ts,comment," + ",".join(s["name"] for s in document["sensors"])]
    for r in rows:
        values = [str(r["values"].get(s["name"], "")) for s in document["sensors"]]
        lines.append(",".join(["Field-7", r["ts"], "ok", *values]))
    lines.append("Field-7,not a time,ok," + ",".join("1" for _ in document["sensors"]))
    source = tmp_path / "readings.csv"
    source.write_text("\n".join(lines) + "\n")
    before = _usage(world)
    target = tmp_path / "out.csv"
    call_command("score_file", str(source), str(target), tenant="acme", machine_type=TRAINED_TYPE,
                 machine_column="unit")
    out = capsys.readouterr().out
    assert f"{len(rows):,} predictions for 1 machines" in out and "1 refused" in out
    assert "Ignored columns: comment" in out
    written = pa_csv.read_csv(target)
    assert written.num_rows == len(rows) and written.column_names[:3] == ["machine", "window_end", "probability"]
    probability = written.column("probability").to_pylist()
    assert max(probability[-5:]) > max(probability[:20])  # the run ends in a failure; its start was healthy
    assert _usage(world) == before + len(rows)
    # Unnamed, the machine column `unit` is guessed as the upload form guesses it (issue 14).
    call_command("score_file", str(source), str(tmp_path / "guessed.csv"), tenant="acme", machine_type=TRAINED_TYPE)
    assert pa_csv.read_csv(tmp_path / "guessed.csv").column("probability").to_pylist() == probability
    with pytest.raises(CommandError, match="machine column 'serial' is not in the file"):
        call_command("score_file", str(source), str(tmp_path / "x.csv"), tenant="acme", machine_type=TRAINED_TYPE,
                     machine_column="serial")
    assert not (tmp_path / "x.csv").exists()
    # The same readings as a German spreadsheet saves them: semicolons, decimal commas, Latin-1.
    german = tmp_path / "messwerte.csv"
    german.write_bytes("\n".join(line.replace(",", ";").replace(".", ",") for line in lines).encode("latin-1"))
    call_command("score_file", str(german), str(tmp_path / "german.csv"), tenant="acme", machine_type=TRAINED_TYPE,
                 machine_column="unit")
    assert pa_csv.read_csv(tmp_path / "german.csv").column("probability").to_pylist() == probability


def test_score_file_takes_a_mapping_a_single_machine_and_explains(trained_motor, world, tmp_path, capsys):
    """Friction of issue 14: a file whose headers name no sensor and which has no machine column is
    scored through the ingest mapping (or --machine), and --explain writes each prediction's factors."""
    import pyarrow.csv as pa_csv
    from django.core.management import CommandError, call_command

    with tenant_context(world.acme):
        document = MachineType.objects.get(id=trained_motor.machine_type_id).metadata
    sensors = [s["name"] for s in document["sensors"]]
    rows = failing_run_readings(document, "Field-8", seed=11)
    lines = ["when," + ",".join(f"channel {i}" for i in range(len(sensors)))]
    lines += [",".join([r["ts"], *[str(r["values"].get(s, "")) for s in sensors]]) for r in rows]
    source = tmp_path / "field-8.csv"
    source.write_text("\n".join(lines) + "\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"time_column": "when", "machine_name": "Field-8",
                                   "sensors": {f"channel {i}": s for i, s in enumerate(sensors)}}))
    before = _usage(world)
    call_command("score_file", str(source), str(tmp_path / "out.csv"), tenant="acme", machine_type=TRAINED_TYPE,
                 mapping=str(mapping), explain=True)
    assert f"{len(rows):,} predictions for 1 machines" in capsys.readouterr().out
    written = pa_csv.read_csv(tmp_path / "out.csv")
    assert set(written.column("machine").to_pylist()) == {"Field-8"} and written.num_rows == len(rows)
    assert "window_end" in written.column_names and "rul_h" in written.column_names  # hour-indexed data
    factors = written.column("top_factors").to_pylist()
    assert all(factors) and factors[-1].split(" ")[0] in {*sensors, *(d["name"] for d in document.get(
        "derived_signals", []))}
    assert _usage(world) == before + len(rows)
    # The same readings with their sensors' own names: --machine alone is enough, no factors unasked.
    named = tmp_path / "named.csv"
    named.write_text("\n".join(["ts," + ",".join(sensors), *lines[1:]]) + "\n")
    call_command("score_file", str(named), str(tmp_path / "named-out.csv"), tenant="acme",
                 machine_type=TRAINED_TYPE, machine="Field-8")
    again = pa_csv.read_csv(tmp_path / "named-out.csv")
    assert again.column("probability").to_pylist() == written.column("probability").to_pylist()
    assert "top_factors" not in again.column_names
    with pytest.raises(CommandError, match="No column looks like the machine"):
        call_command("score_file", str(named), str(tmp_path / "nameless.csv"), tenant="acme",
                     machine_type=TRAINED_TYPE)
    # A mapping naming what the type does not have is refused whole, before any output.
    mapping.write_text(json.dumps({"time_column": "when", "machine_name": "Field-8",
                                   "sensors": {"channel 0": "no_such_sensor"}}))
    with pytest.raises(CommandError, match="'no_such_sensor' is not a sensor"):
        call_command("score_file", str(source), str(tmp_path / "bad.csv"), tenant="acme",
                     machine_type=TRAINED_TYPE, mapping=str(mapping))
    assert not (tmp_path / "bad.csv").exists() and _usage(world) == before + 2 * len(rows)


def test_an_upload_scores_its_machines_at_once(trained_motor, client_for, world, django_capture_on_commit_callbacks):
    """Fresh readings do not wait for the next scheduled run: the upload queues scoring of its type."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from pdm_saas.celery import app as celery_app

    with tenant_context(world.acme):
        document = MachineType.objects.get(id=trained_motor.machine_type_id).metadata
    sensors = [s["name"] for s in document["sensors"]]
    lines = [",".join(["timestamp", "machine", *sensors])]
    for item in failing_run_readings(document, "ABB-201", seed=5):
        lines.append(",".join([item["ts"], "ABB-201", *[str(item["values"].get(s, "")) for s in sensors]]))
    mapping = {"time_column": "timestamp", "machine_column": "machine", "sensors": {s: s for s in sensors},
               "create_unknown_machines": True}
    celery_app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            answer = client_for("engineer").post("/api/v1/uploads/", {
                "file": SimpleUploadedFile("abb-201.csv", "\n".join(lines).encode()),
                "machine_type": TRAINED_TYPE, "mapping": json.dumps(mapping)})
    finally:
        celery_app.conf.task_always_eager = False
    assert answer.status_code == 202, answer.content
    with tenant_context(world.acme):
        scored = Prediction.objects.filter(machine__name="ABB-201", source=Prediction.Source.SCHEDULED)
        assert scored.count() == 1 and scored.get().explanation["top_factors"]
