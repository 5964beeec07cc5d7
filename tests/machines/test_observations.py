"""Observation types: metadata, array cells summarised per row, labels stored per row, an
unknown label refused with nothing stored."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from engine.array_summaries import STATISTICS, array_summaries, summary_slots
from engine.metadata_checks import metadata_validate
from machines.models import MachineType, ObservationLabel, Upload
from machines.observations import array_column
from machines.selectors import observations_of_type, readings_count
from machines.services import machine_type_import
from tests.observation_rig import MAPPING, RIG_KEY, rig_csv, rig_document, rig_rows


@pytest.fixture
def rig(db: None, world: Any) -> MachineType:
    with tenant_context(world.acme):
        return machine_type_import(document=rig_document())


def _post(client: Any, content: bytes, mapping: dict[str, Any] = MAPPING) -> Any:
    return client.post("/api/v1/uploads/", {"file": SimpleUploadedFile("cycles.csv", content),
                                            "machine_type": RIG_KEY, "mapping": json.dumps(mapping)})


def _problems(document: dict[str, Any]) -> list[str]:
    return [str(problem) for problem in metadata_validate(document)]


def test_an_observation_type_declares_its_labels_and_array_sensors():
    assert _problems(rig_document()) == []
    time_series = {**rig_document(), "data_kind": "time_series"}
    assert any("data_kind" in p for p in _problems(time_series))  # labels need an observations type
    assert any("$.sensors[1].values" in p for p in _problems(time_series))  # so do arrays
    unlabelled = {**rig_document(), "observation_labels": []}
    assert any("at least one label" in p for p in _problems(unlabelled))
    clash = rig_document()
    clash["observation_labels"][0]["name"] = "temp_c"
    assert any("already a signal name" in p for p in _problems(clash))
    two_classes = rig_document()
    two_classes["observation_labels"][1]["classes"] = ["1"]
    assert any("classes" in p for p in _problems(two_classes))


def test_array_cells_become_per_row_summaries():
    raw = pa.array(["1 2 3 4", "4;3;2;1", "", "1 x 3", " 5  5 ", None])
    column = array_column(raw, sensor="flow", header="Flow")
    assert column.bad.tolist() == [False, False, False, True, False, False]
    mean, slope = column.summaries["flow__mean"].to_pylist(), column.summaries["flow__slope"].to_pylist()
    assert mean[:2] == [2.5, 2.5] and mean[4] == 5.0
    assert slope[0] == pytest.approx(1.0) and slope[1] == pytest.approx(-1.0) and slope[4] == 0.0
    assert mean[2] is None and mean[3] is None and mean[5] is None  # empty, refused, missing
    assert list(column.summaries) == summary_slots("flow") and len(STATISTICS) == len(summary_slots("flow"))
    assert "'1 x 3'" in column.describe(3)
    # Rows of different lengths give the same summaries as each row on its own.
    ragged = array_column(pa.array(["1 2 3", "1 2 3 4 5 6 7 8 9 10 11 12"]), sensor="f", header="f")
    alone = array_summaries(np.arange(1, 13, dtype=float)[None, :])[0]
    assert np.allclose([ragged.summaries[s][1].as_py() for s in summary_slots("f")], alone, rtol=1e-6)


def test_upload_stores_one_row_per_observation_with_summaries_and_labels(client_for, world, rig, eager):
    rows = rig_rows(30, seed=1)
    rows[4][5] = ""  # an unlabelled failure flag: the row is stored, its valve label too
    with eager():
        response = _post(client_for("engineer"), rig_csv(rows))
    assert response.status_code == 202, response.content
    with tenant_context(world.acme):
        upload = Upload.objects.get(id=response.json()["id"])
        assert upload.status == "succeeded", upload.error
        assert (upload.rows_read, upload.rows_stored) == (30, 30)
        assert upload.report["sensors"]["flow"]["count"] == 30  # the quality report reads the row means
        data = observations_of_type(machine_type=MachineType.objects.get(key=RIG_KEY))
        assert len(data.ts) == 30 and "flow" not in data.slots and "flow__seg9" in data.slots
        flow = np.array([float(v) for v in rows[0][2].split()])
        first = dict(zip(data.slots, data.values[0], strict=True))
        assert first["flow__mean"] == pytest.approx(flow.mean(), rel=1e-5)
        assert first["flow__max"] == pytest.approx(flow.max(), rel=1e-5)
        assert first["temp_c"] == pytest.approx(rows[0][1])
        assert data.labels["valve"].tolist() == [row[4] for row in rows]
        assert data.labels["failed"][4] is None and data.labels["failed"][0] == str(rows[0][5])
        assert ObservationLabel.objects.filter(upload=upload).count() == 59
    # The same file again: its rows and labels are stored once.
    with eager():
        again = _post(client_for("engineer"), rig_csv(rows), mapping={**MAPPING, "create_unknown_machines": False})
    with tenant_context(world.acme):
        assert Upload.objects.get(id=again.json()["id"]).duplicates == 30
        assert ObservationLabel.objects.count() == 59


def test_an_unknown_label_refuses_the_file_and_stores_nothing(client_for, world, rig, eager):
    rows = rig_rows(30, seed=2)
    rows[17][4] = "75"  # line 19: not a valve class
    rows[3][4] = "100.0"  # the same number as class 100: accepted
    with eager():
        response = _post(client_for("engineer"), rig_csv(rows))
    with tenant_context(world.acme):
        upload = Upload.objects.get(id=response.json()["id"])
        assert upload.status == "failed"
        assert "Line 19" in upload.error and "'75'" in upload.error and "100, 90, 80" in upload.error
        assert readings_count() == 0 and ObservationLabel.objects.count() == 0


def test_label_columns_need_an_observation_type(client_for, world, motor_type):
    mapping = {"time_column": "t", "machine_name": "M-1", "sensors": {"x": "current_a"}, "labels": {"y": "valve"}}
    response = client_for("engineer").post("/api/v1/uploads/", {
        "file": SimpleUploadedFile("f.csv", b"t,x,y\n2026-01-01T00:00:00Z,1,2\n"),
        "machine_type": "induction-motor-siemens-1la7", "mapping": json.dumps(mapping)})
    assert response.status_code == 400 and "declares no observation labels" in response.content.decode()


def test_label_columns_are_guessed_by_name_or_alias(world, rig):
    from machines.ingest.mapping import mapping_complete

    with tenant_context(world.acme):
        completed = mapping_complete({"time_column": "cycle", "machine_name": "Rig-1"}, machine_type=rig,
                                     columns=["cycle", "temp_c", "Flow", "VALVE", "Machine failure", "operator"])
    assert completed["labels"] == {"VALVE": "valve", "Machine failure": "failed"}
    assert completed["sensors"] == {"temp_c": "temp_c", "Flow": "flow"}
