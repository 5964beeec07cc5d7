"""Categorical sensors (AI4I's product `Type`: L / M / H) travel through files, live readings and
the reading store, and come back as their category."""

from __future__ import annotations

import json

from django.core.management import call_command
from django_tenants.utils import tenant_context

from machines.models import FailureEvent, Machine
from machines.selectors import readings_for_machine
from machines.services import machine_type_adopt

AI4I = "ai4i-milling-machine"
HEADER = ("UDI,Product ID,Type,Air temperature [K],Process temperature [K],Rotational speed [rpm],"
          "Torque [Nm],Tool wear [min],Machine failure\n")


def _rows(count: int) -> str:
    types = "LMH"
    return "".join(
        f"{i},{types[i % 3]}{i:05d},{types[i % 3]},{298.1 + i / 100:.2f},{308.6 + i / 100:.2f},{1500 + i},"
        f"{40.0 + i / 10:.1f},{i * 2},{1 if i == count - 5 else 0}\n"
        for i in range(1, count + 1)
    )


def _mapping() -> dict:
    return {"time_column": "UDI", "time_format": "cycle", "machine_name": "Mill-1", "create_unknown_machines": True,
            "failure_column": "Machine failure",
            "sensors": {"Type": "product_type", "Air temperature [K]": "air_temp_k",
                        "Process temperature [K]": "process_temp_k", "Rotational speed [rpm]": "speed_rpm",
                        "Torque [Nm]": "torque_nm", "Tool wear [min]": "tool_wear_min"}}


def test_single_machine_file_with_label_and_categorical_column_in_one_command(world, db, tmp_path, capsys):
    with tenant_context(world.acme):
        machine_type_adopt(key=AI4I)
    data = tmp_path / "ai4i2020.csv"
    data.write_text(HEADER + _rows(60) + "61,X00061,X,298,308,1500,40,0,0\n")
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps(_mapping()))
    call_command("ingest_file", "--tenant", "acme", "--type", AI4I, "--mapping", str(mapping), str(data))
    out = capsys.readouterr().out
    assert "61 rows read, 60 stored" in out and "1 rejected" in out and "1 failure events" in out
    with tenant_context(world.acme):
        machine = Machine.objects.get(name="Mill-1")
        rows = readings_for_machine(machine=machine)
        assert [values["product_type"] for _, values in rows[:4]] == ["M", "H", "L", "M"]
        assert rows[0][1]["speed_rpm"] == 1501.0
        failure = FailureEvent.objects.get(machine=machine)
        assert failure.occurred_at.timestamp() == 55  # cycle 55 of the run


def test_unknown_category_is_a_row_rejection_with_its_reason(client_for, world, db):
    with tenant_context(world.acme):
        machine_type = machine_type_adopt(key=AI4I)
        Machine.objects.create(machine_type=machine_type, name="Mill-2")
    body = [{"machine": "Mill-2", "ts": 1_790_000_000 + i, "values": {"product_type": kind, "speed_rpm": 1500}}
            for i, kind in enumerate(["L", "H", "Q", " M "])]
    result = client_for("engineer").post("/api/v1/readings/", body, content_type="application/json").json()
    assert result["stored"] == 3
    assert result["rejected"] == [{"index": 2, "reason": "unknown category 'Q' in column 'product_type' "
                                                         "(known: L, M, H)"}]
