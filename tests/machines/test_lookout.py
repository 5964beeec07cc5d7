"""Amazon Lookout for Equipment datasets import as they are: component folders joined on time,
label ranges as failure events."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from machines.models import FailureEvent, Machine
from machines.reading_store import rul_labels
from machines.selectors import readings_for_machine
from machines.services import machine_type_adopt

PUMP = "centrifugal-pump"


def _dataset(tmp_path, pump_doc, mode: str = "Cavitation"):
    numeric = [s for s in pump_doc["sensors"] if s["kind"] == "numeric"]
    a, b = numeric[0]["name"], numeric[1]["name"]
    (tmp_path / "ds" / "motor").mkdir(parents=True)
    (tmp_path / "ds" / "hydraulics").mkdir(parents=True)
    (tmp_path / "ds" / "motor" / "motor.csv").write_text(
        "Timestamp," + a + ",Spare_Signal\n" + "".join(f"2019-01-01 00:{m:02d}:00,{1 + m / 10},9\n" for m in range(20)))
    (tmp_path / "ds" / "hydraulics" / "part1.csv").write_text(
        "timestamp," + b + "\n" + "".join(f"2019-01-01T00:{m:02d}:00,{2 + m / 10}\n" for m in range(5, 25)))
    labels = tmp_path / "labels.csv"
    labels.write_text(f"2019-01-01T00:08:00,2019-01-01T00:12:00\n2019-01-01 00:15:00,2019-01-01 00:18:00,{mode}\n")
    return a, b, labels


def test_component_folders_and_label_ranges(world, db, tmp_path, capsys):
    with tenant_context(world.acme):
        pump = machine_type_adopt(key=PUMP)
    a, b, labels = _dataset(tmp_path, pump.metadata)
    call_command("import_lookout", "--tenant", "acme", "--type", PUMP, "--machine", "Pump-7",
                 "--labels", str(labels), str(tmp_path / "ds"))
    out = capsys.readouterr().out
    assert "Components hydraulics, motor: 25 timestamps, 25 stored" in out
    assert "2 failure events" in out and "motor/Spare_Signal" in out
    with tenant_context(world.acme):
        machine = Machine.objects.get(name="Pump-7")
        rows = dict(readings_for_machine(machine=machine))
        values = list(rows.values())
        assert set(values[0]) == {a} and set(values[10]) == {a, b} and set(values[-1]) == {b}  # outer join
        events = FailureEvent.objects.filter(machine=machine).order_by("occurred_at")
        assert [e.occurred_at.minute for e in events] == [12, 18]
        assert "00:08:00" in events[0].notes
        assert [e.failure_mode for e in events] == ["", "cavitation"]  # "Cavitation" names it
        ruls = rul_labels(machine_id=machine.id)
        assert ruls[0]["rul_seconds"] == 12 * 60 and ruls[-1]["censored"]


def test_a_label_naming_no_failure_mode_is_refused_and_nothing_is_stored(world, db, tmp_path):
    with tenant_context(world.acme):
        pump = machine_type_adopt(key=PUMP)
    _, _, labels = _dataset(tmp_path, pump.metadata, mode="nonsense")
    with pytest.raises(CommandError, match=r"line 2: 'nonsense' is neither a failure mode .*cavitation"):
        call_command("import_lookout", "--tenant", "acme", "--type", PUMP, "--machine", "Pump-7",
                     "--labels", str(labels), str(tmp_path / "ds"))
    with tenant_context(world.acme):
        assert not Machine.objects.filter(name="Pump-7").exists() and not FailureEvent.objects.exists()


def test_a_folder_without_component_files_or_timestamps_is_refused(world, db, tmp_path):
    with tenant_context(world.acme):
        machine_type_adopt(key=PUMP)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CommandError, match="No component CSV files"):
        call_command("import_lookout", "--tenant", "acme", "--type", PUMP, "--machine", "P", str(tmp_path / "empty"))
    (tmp_path / "bad" / "c").mkdir(parents=True)
    (tmp_path / "bad" / "c" / "c.csv").write_text("time,x\n1,2\n")
    with pytest.raises(CommandError, match="no Timestamp column"):
        call_command("import_lookout", "--tenant", "acme", "--type", PUMP, "--machine", "P", str(tmp_path / "bad"))


def test_non_finite_values_in_a_component_file_are_rejected_rows(world, db, tmp_path):
    from machines.lookout import lookout_import

    with tenant_context(world.acme):
        pump = machine_type_adopt(key=PUMP)
    sensor = next(s["name"] for s in pump.metadata["sensors"] if s["kind"] == "numeric")
    (tmp_path / "ds" / "motor").mkdir(parents=True)
    values = ["1.5", "inf", "-inf", "Infinity", "1e39", "2.5"]
    (tmp_path / "ds" / "motor" / "motor.csv").write_text(
        f"Timestamp,{sensor}\n" + "".join(f"2019-01-01 00:{m:02d}:00,{v}\n" for m, v in enumerate(values)))
    with tenant_context(world.acme):
        imported = lookout_import(folder=tmp_path / "ds", machine_type_key=PUMP, machine_name="Pump-8")
        stored = readings_for_machine(machine=Machine.objects.get(name="Pump-8"))
    assert (imported.result.rows_stored, imported.result.rows_rejected) == (2, 4)
    assert dict(imported.result.rejected_by_reason) == {"non_finite": 4}
    assert [values[sensor] for _, values in stored] == [1.5, 2.5]
