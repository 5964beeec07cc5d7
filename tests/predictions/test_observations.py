"""Observation types: training one classifier per label beside a plain baseline, through
train_real_data; scoring rows independently of how many are scored together."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest
from django.core.management import call_command

from engine.training.observations import train_observations
from machines.models import MachineType
from machines.services import machine_type_import
from machines.uploads import upload_create
from pdm_saas.errors import Conflict, InvalidInput
from predictions.models import ModelVersion
from predictions.services.observation_scoring import observations_predict
from predictions.services.real_training import train_on_real_data
from tests.observation_rig import HEADER, MAPPING, rig_csv, rig_document, rig_rows

pytestmark = pytest.mark.django_db


def _upload(machine_type: MachineType, content: bytes, eager: Any) -> None:
    with eager():
        upload = upload_create(chunks=[content], original_name="cycles.csv", machine_type_key=machine_type.key,
                               mapping=MAPPING)
    upload.refresh_from_db()
    assert upload.status == "succeeded", upload.error


def test_one_classifier_per_label_validated_out_of_fold_beside_the_baseline():
    rng = np.random.default_rng(0)
    labels = np.array(["a", "b", "c"] * 40, dtype=object)
    matrix = rng.normal(size=(120, 4)) + (labels == "b")[:, None] * 3.0 + (labels == "c")[:, None] * 6.0
    single = np.array(["x"] * 120, dtype=object)  # one class only: nothing to learn
    model = train_observations(matrix, ["f1", "f2", "f3", "f4"], {"kind": labels, "flat": single},
                               {"kind": ["a", "b", "c", "d"], "flat": ["x", "y"]}, seed=1)
    assert [target.name for target in model.targets] == ["kind"] and "two classes" in model.skipped["flat"]
    assert model.targets[0].classes == ["a", "b", "c"]  # declared but absent classes are not predicted
    measured, plain = model.metrics["kind"], model.baseline["kind"]
    assert measured["accuracy"] > 0.9 and plain["accuracy"] > 0.9 and measured["rows"] == 120
    assert measured["macro_f1"] >= plain["macro_f1"]  # the kept learner is never worse out of fold
    assert model.validation["split"] == "stratified k-fold" and model.validation["folds"] == 5
    classes, probabilities = model.predict(matrix[:3])["kind"]
    assert probabilities.shape == (3, 3) and np.allclose(probabilities.sum(axis=1), 1)


def test_train_real_data_on_an_observation_type_then_score_rows_alone_or_together(in_acme, eager, tmp_path):
    rig = machine_type_import(document=rig_document())
    with pytest.raises(Conflict, match="no trained model"):
        observations_predict(machine_type=rig, columns={"Temperature": pa.array(["50"])},
                             sensors={"Temperature": "temp_c"})
    rows = rig_rows(90, seed=3)
    _upload(rig, rig_csv(rows), eager)
    summary = train_on_real_data(machine_type=rig)
    assert summary["data_kind"] == "observations" and summary["dataset"]["rows"] == 90
    version = ModelVersion.objects.get(id=summary["version"])
    assert (version.kind, version.status, version.data_source) == ("observation_classifier", "champion", "real")
    assert set(version.metrics) >= {"valve", "failed"} and set(version.baseline) == {"valve", "failed"}
    assert version.metrics["valve"]["macro_f1"] > 0.9 and version.metrics["valve"]["rows"] == 90
    decisions = {d["kind"]: d for d in summary["decisions"]}
    assert [row["model"] for row in decisions["observation_classifier: valve"]["comparison"]][1] == \
        "plain XGBoost baseline"

    fresh = rig_rows(12, seed=9, start=1000)
    columns = {header: pa.array([str(row[i]) for row in fresh]) for i, header in enumerate(HEADER)}
    sensors = dict(MAPPING["sensors"])
    together = observations_predict(machine_type=rig, columns=columns, sensors=sensors)
    alone = [observations_predict(machine_type=rig, columns={h: c.slice(i, 1) for h, c in columns.items()},
                                  sensors=sensors) for i in range(len(fresh))]
    for label in ("valve", "failed"):
        assert [s.labels[label][0][0] for s in alone] == together.labels[label][0].tolist()
        assert np.allclose(np.vstack([s.labels[label][1] for s in alone]), together.labels[label][1])
    assert (together.labels["valve"][0] == np.array([row[4] for row in fresh])).mean() > 0.8

    source, target = tmp_path / "new.csv", tmp_path / "scored.csv"
    source.write_bytes(rig_csv(fresh))  # with the true labels: carried through beside the predictions
    call_command("score_file", str(source), str(target), tenant="acme", machine_type=rig.key)
    written = pa_csv.read_csv(target)
    assert written.column("cycle").to_pylist() == [row[0] for row in fresh]
    assert written.column("valve").cast(pa.string()).to_pylist() == [row[4] for row in fresh]
    assert written.column("valve_predicted").cast(pa.string()).to_pylist() == together.labels["valve"][0].tolist()
    assert {"valve_probability", "valve_p_100", "valve_p_90", "valve_p_80", "failed_p_1"} <= set(written.column_names)


def test_training_an_observation_type_without_labels_says_what_is_missing(in_acme, eager):
    rig = machine_type_import(document=rig_document())
    with pytest.raises(InvalidInput, match="No observations"):
        train_on_real_data(machine_type=rig)
    rows = rig_rows(10, seed=4)
    for row in rows:
        row[4] = row[5] = ""
    _upload(rig, rig_csv(rows), eager)
    with pytest.raises(InvalidInput, match="has a label"):
        train_on_real_data(machine_type=rig)


def test_each_tenant_trains_on_its_own_observations(world, eager, django_db_blocker):
    """globex's identical type sees none of acme's rows: training there finds nothing."""
    from django_tenants.utils import tenant_context

    with tenant_context(world.acme):
        rig = machine_type_import(document=rig_document())
        _upload(rig, rig_csv(rig_rows(30, seed=5)), eager)
    with tenant_context(world.globex):
        theirs = machine_type_import(document=rig_document())
        with pytest.raises(InvalidInput, match="No observations"):
            train_on_real_data(machine_type=theirs)
        with pytest.raises(Conflict):
            observations_predict(machine_type=theirs, columns={"Temperature": pa.array(["50"])},
                                 sensors={"Temperature": "temp_c"})





def test_time_series_paths_refuse_an_observation_type_with_the_way_forward(in_acme):
    from machines.services import machine_create
    from predictions.services.scoring import machine_predict
    from predictions.services.training import onboard_machine_type, onboarding_start

    rig = machine_type_import(document=rig_document())
    with pytest.raises(InvalidInput, match="observations type"):
        onboarding_start(machine_type=rig)
    with pytest.raises(InvalidInput, match="train_real_data"):
        onboard_machine_type(machine_type=rig)
    machine = machine_create(machine_type_id=rig.id, name="Rig-9")
    with pytest.raises(Conflict, match="score_file"):
        machine_predict(machine=machine)


def _process_run_document() -> dict[str, object]:
    """The shape of a public process-run failure set: a product type, two temperatures, speed,
    torque, tool wear; a failure flag and one 0/1 flag per failure mode; derived signals."""
    document = rig_document()
    wide = {"normal": [-1e6, 1e6], "warning": [-1e6, 1e6], "critical": [-1e6, 1e6]}
    numeric = [("air_k", "Air temperature [K]"), ("process_k", "Process temperature [K]"),
               ("speed_rpm", "Rotational speed [rpm]"), ("torque_nm", "Torque [Nm]"), ("wear_min", "Tool wear [min]")]
    document.update(key="process-runs", sensors=[
        {"name": "product_type", "label": "Type", "unit": "", "kind": "categorical", "sampling_interval_s": 1,
         "categories": ["L", "M", "H"], "aliases": ["Type"]},
        *({"name": name, "label": alias, "unit": "", "kind": "numeric", "sampling_interval_s": 1, "ranges": wide,
           "aliases": [alias]} for name, alias in numeric)],
        derived_signals=[
            {"name": "power_w", "label": "Power", "unit": "W", "formula": "torque_nm * speed_rpm * 2 * pi / 60"},
            {"name": "temp_rise_k", "label": "Temperature rise", "unit": "K", "formula": "process_k - air_k"},
            {"name": "strain", "label": "Strain", "unit": "", "formula": "wear_min * torque_nm"}],
        observation_labels=[{"name": name, "label": name, "classes": ["0", "1"], "aliases": [alias]}
                            for name, alias in (("machine_failure", "Machine failure"), ("twf", "TWF"),
                                                ("hdf", "HDF"))])
    return document


def test_process_runs_with_a_failure_flag_and_one_flag_per_mode(in_acme, eager, tmp_path):
    from machines.ingest.mapping import mapping_complete

    rng = np.random.default_rng(7)
    rows = []
    for udi in range(1, 301):
        air = rng.normal(300, 2)
        process, speed, torque, wear = air + rng.normal(10, 1), rng.normal(1500, 150), rng.normal(40, 10), udi % 240
        hdf = int(process - air < 9.5 and speed < 1450)
        twf = int(wear > 225 and udi % 3 == 0)
        rows.append([udi, f"M{udi:05d}", rng.choice(["L", "M", "H"]), f"{air:.1f}", f"{process:.1f}", f"{speed:.0f}",
                     f"{torque:.1f}", wear, int(hdf or twf), twf, hdf])
    header = ["UDI", "Product ID", "Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]",
              "Torque [Nm]", "Tool wear [min]", "Machine failure", "TWF", "HDF"]
    kind = machine_type_import(document=_process_run_document())
    mapping = mapping_complete({"time_column": "UDI", "time_format": "cycle", "machine_name": "Mill-1",
                                "create_unknown_machines": True}, columns=header, machine_type=kind)
    assert mapping["labels"] == {"Machine failure": "machine_failure", "TWF": "twf", "HDF": "hdf"}
    with eager():
        upload = upload_create(chunks=[rig_csv(rows, header=header)], original_name="runs.csv",
                               machine_type_key=kind.key, mapping=mapping)
    upload.refresh_from_db()
    assert upload.status == "succeeded" and upload.rows_stored == 300, upload.error
    summary = train_on_real_data(machine_type=kind)
    version = ModelVersion.objects.get(id=summary["version"])
    assert set(version.metrics) >= {"machine_failure", "twf", "hdf"}
    assert version.metrics["hdf"]["f1_per_class"]["1"] > 0.5  # heat dissipation: from the derived temperature rise
    assert version.metrics["twf"]["class_counts"]["1"] == sum(row[9] for row in rows)
    source, target = tmp_path / "runs.csv", tmp_path / "scored.csv"
    source.write_bytes(rig_csv([row[:8] for row in rows[:20]], header=header[:8]))
    call_command("score_file", str(source), str(target), tenant="acme", machine_type=kind.key)
    written = pa_csv.read_csv(target)
    assert written.num_rows == 20 and {"machine_failure_predicted", "twf_p_1", "hdf_p_0"} <= set(written.column_names)
    assert written.column("Product ID").to_pylist()[0] == "M00001"


def test_the_train_real_api_runs_the_observation_path_in_its_job(client_for, world, eager):
    from django_tenants.utils import tenant_context

    from jobs.models import Job

    with tenant_context(world.acme):
        rig = machine_type_import(document=rig_document())
        _upload(rig, rig_csv(rig_rows(40, seed=6)), eager)
    with eager():
        response = client_for("engineer").post("/api/v1/models/train-real/", {"machine_type": rig.key},
                                               content_type="application/json")
    assert response.status_code == 202, response.content
    with tenant_context(world.acme):
        job = Job.objects.get(id=response.json()["id"])
        assert job.status == "succeeded", job.message
        assert job.result["data_kind"] == "observations" and job.result["dataset"]["rows"] == 40
        assert ModelVersion.objects.filter(machine_type=rig, kind="observation_classifier",
                                           status="champion").count() == 1
    # The other tenant's API sees neither the type nor the job.
    assert client_for("globex_owner", tenant=world.globex).post(
        "/api/v1/models/train-real/", {"machine_type": rig.key}, content_type="application/json").status_code == 400
    assert client_for("globex_owner", tenant=world.globex).get(f"/api/v1/jobs/{job.id}/").status_code == 404
