"""Machines created in bulk from a CSV file: API and command, all rows or none."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django_tenants.utils import tenant_context

from machines.models import Machine

MOTOR = "induction-motor-siemens-1la7"


def _upload(client, content: bytes):
    return client.post("/api/v1/machines/import/", {"file": SimpleUploadedFile("m.csv", content)})


def test_semicolon_latin1_file_with_bom_free_header(client_for, world, motor_type):
    content = (f"name;machine_type;site;criticality\nPompe-Nord;{MOTOR};Usine Sète;high\n"
               f"Pompe-Sud;{MOTOR};Usine Sète;low\n").encode("latin-1")
    response = _upload(client_for("engineer"), content)
    assert response.status_code == 201, response.content
    assert [m["site"] for m in response.json()] == ["Usine Sète", "Usine Sète"]


def test_utf8_bom_comma_file(client_for, world, motor_type):
    content = f"\ufeffname,machine_type,install_date\nM-1,{MOTOR},2021-03-04\n".encode()
    assert _upload(client_for("engineer"), content).json()[0]["install_date"] == "2021-03-04"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty_file"),
        (b"name,machine_type\n", "no_rows"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary_file"),
        (b"name,machine_type\nA,x,extra\n", "ragged_row"),
        (b"name,kind\nA,x\n", "bad_columns"),
    ],
)
def test_bad_files_get_clear_errors(client_for, world, motor_type, content, code):
    response = _upload(client_for("engineer"), content)
    assert response.status_code == 400 and response.json()["error"]["code"] == code, response.content


def test_one_bad_row_imports_nothing_and_names_every_problem(client_for, world, motor_type):
    content = (f"name,machine_type,criticality,install_date\nOK-1,{MOTOR},high,\n"
               f"Bad-2,no-such-type,high,\nBad-3,{MOTOR},extreme,not-a-date\nOK-1,{MOTOR},low,\n").encode()
    response = _upload(client_for("engineer"), content)
    assert response.status_code == 400
    problems = " | ".join(response.json()["error"]["details"]["problems"])
    assert "line 3: machine_type" in problems and "line 4: criticality" in problems
    assert "line 4: install_date" in problems and "'OK-1' appears more than once" in problems
    with tenant_context(world.acme):
        assert not Machine.objects.exists()


def test_viewers_and_other_tenants_cannot_import(client_for, key_client, world, motor_type):
    content = f"name,machine_type\nX,{MOTOR}\n".encode()
    assert _upload(client_for("viewer"), content).status_code == 403
    assert _upload(client_for("globex_owner"), content).status_code == 404
    globex_key = key_client(["write"], tenant=world.globex, host="acme.localhost")
    assert _upload(globex_key, content).status_code == 400  # globex has no such type: its own tenant
    with tenant_context(world.acme):
        assert not Machine.objects.exists()


def test_commands(world, motor_type, tmp_path, capsys):
    good = tmp_path / "machines.csv"
    good.write_text(f"name,machine_type\nCmd-1,{MOTOR}\nCmd-2,{MOTOR}\n")
    call_command("machines_import", "--tenant", "acme", str(good))
    assert "Created 2 machines." in capsys.readouterr().out
    bad = tmp_path / "bad.csv"
    bad.write_text("name,machine_type\nCmd-3,nope\n")
    with pytest.raises(CommandError, match="line 2: machine_type"):
        call_command("machines_import", "--tenant", "acme", str(bad))
    call_command("machine_types", "--tenant", "acme", "library")
    assert MOTOR in capsys.readouterr().out
    call_command("machine_types", "--tenant", "globex", "adopt", "centrifugal-pump")
    call_command("machine_types", "--tenant", "globex", "list")
    assert "centrifugal-pump" in capsys.readouterr().out
    with pytest.raises(CommandError, match="already exists"):
        call_command("machine_types", "--tenant", "globex", "adopt", "centrifugal-pump")


@pytest.mark.parametrize(
    "encode",
    [lambda text: text.encode("utf-16"), lambda text: text.encode("utf-16-le"), lambda text: text.encode("cp1252")],
    ids=["utf-16-bom", "utf-16-le-no-bom", "cp1252"],
)
def test_utf16_and_windows_files_are_read(client_for, world, motor_type, encode):
    """Excel's "Unicode text" is UTF-16 with tabs; it is text, not binary."""
    content = encode(f"name\tmachine_type\tsite\nPumpe-Süd\t{MOTOR}\tWerk Köln – Halle 2\n")
    response = _upload(client_for("engineer"), content)
    assert response.status_code == 201, response.content
    assert [(m["name"], m["site"]) for m in response.json()] == [("Pumpe-Süd", "Werk Köln – Halle 2")]


def test_a_binary_file_without_zero_bytes_is_refused_in_a_few_words(client_for, world, motor_type):
    response = _upload(client_for("engineer"), b"name,machine_type\n" + bytes(range(1, 256)) * 200)
    assert response.status_code == 400 and response.json()["error"]["code"] == "binary_file"
    assert len(response.content) < 500
