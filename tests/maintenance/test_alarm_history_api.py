"""The alarm history through the API: `/api/v1/alerts/` with the history's filters, and
`/api/v1/alerts/export/` as CSV and Excel, each parsed back and compared with what the list says;
bad filters as 400s that say why; another tenant and a viewer kept to what they may do."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

import pytest
from django_tenants.utils import tenant_context
from openpyxl import load_workbook

from machines.services import machine_create, machine_type_adopt
from maintenance.models import Alert
from tests.conftest import MOTOR
from tests.maintenance.alarm_helpers import NOTE, History, alert_at, berlin_history, utc

LIST = "/api/v1/alerts/"
EXPORT = "/api/v1/alerts/export/"
PERIOD = {"from": "2026-10-25", "to": "2026-10-26"}  # Berlin days: 2026-10-24 22:00 UTC to 2026-10-26 23:00 UTC
HEADINGS = ["Alert", "Machine", "Site", "Kind", "Failure mode", "Severity", "State", "Failure risk (%)",
            "More unusual than (% of its normal readings)", "Title", "Opened (Europe/Berlin)",
            "Acknowledged (Europe/Berlin)", "Acknowledged by", "Resolved (Europe/Berlin)", "Occurrences",
            "Escalations", "Work order", "Resolution note", "Opened (UTC, ISO 8601)"]


@pytest.fixture
def history(world, motor) -> History:
    return berlin_history(world.acme, motor, engineer=world.engineer)


def own(results: list[dict[str, Any]], history: History) -> list[int]:
    """The listed ids of the fixture's alerts, in order: other modules may have committed alerts in acme."""
    mine = {history.autumn.id, history.anomaly.id, history.before.id}
    return [a["id"] for a in results if a["id"] in mine]


def csv_rows(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # Excel then reads it as UTF-8
    return list(csv.reader(io.StringIO(body[1:])))


def test_the_list_takes_the_history_filters_in_the_organizations_zone(key_client, history):
    reader = key_client(["read"])
    listed = reader.get(LIST, PERIOD).json()
    assert [a["id"] for a in listed["results"]] == [history.anomaly.id, history.autumn.id]
    in_utc = reader.get(LIST, {**PERIOD, "tz": "UTC"}).json()  # the 24th's last UTC hours are out too
    assert [a["id"] for a in in_utc["results"]] == [history.anomaly.id, history.autumn.id]
    assert [a["id"] for a in reader.get(LIST, {"from": "2026-10-24", "to": "2026-10-24", "tz": "UTC"})
            .json()["results"]] == [history.before.id]
    by_state = reader.get(LIST, {"state": "resolved", "machine": "Motor-001"}).json()["results"]
    assert [a["id"] for a in by_state] == [history.autumn.id]
    assert own(reader.get(LIST, {"kind": "anomaly"}).json()["results"], history) == [history.anomaly.id]


def test_the_apis_own_filters_and_ordering_still_apply(key_client, history):
    reader = key_client(["read"])
    by_probability = reader.get(LIST, {**PERIOD, "ordering": "-probability"}).json()["results"]
    assert [a["id"] for a in by_probability] == [history.anomaly.id, history.autumn.id]
    oldest = reader.get(LIST, {"ordering": "opened_at", "page_size": 500}).json()["results"]
    assert own(oldest, history) == [history.before.id, history.autumn.id, history.anomaly.id]
    assert [a["id"] for a in reader.get(LIST, {"status": "open", **PERIOD}).json()["results"]] == [history.anomaly.id]
    plant_b = reader.get(LIST, {"machine__site": "Plant B", "from": "2026-10-24", "to": "2026-10-26"}).json()
    assert [a["id"] for a in plant_b["results"]] == [history.before.id]


@pytest.mark.parametrize(("params", "words"), [
    ({"from": "25.10.2026"}, "'25.10.2026' is not a date (filter 'from'); use YYYY-MM-DD"),
    ({"from": "2026-10-26", "to": "2026-10-25"}, "The period ends (2026-10-25) before it starts (2026-10-26)."),
    ({"tz": "Berlin"}, "Unknown time zone 'Berlin' (filter 'tz')"),
    ({"state": "closed"}, "'closed' is not a state (filter 'state')"),
    ({"machine": "Motor-999"}, "No machine is named 'Motor-999'"),
])
@pytest.mark.parametrize("path", [LIST, EXPORT])
def test_a_bad_filter_is_a_400_that_says_why(key_client, history, path, params, words):
    response = key_client(["read"]).get(path, params)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_filter" and words in error["message"]
    assert list(error["details"]) == [next(iter(params)) if "to" not in params else "to"]


def test_csv_export_holds_the_listed_rows_in_words_and_local_times(key_client, history, world):
    reader = key_client(["read"])
    response = reader.get(EXPORT, {**PERIOD, "file": "csv"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="alarm-history-2026-10-25_2026-10-26.csv"'
    heading, *rows = csv_rows(response)
    assert heading == HEADINGS
    listed = [a["id"] for a in reader.get(LIST, PERIOD).json()["results"]]
    assert [int(row[0]) for row in rows] == listed == [history.anomaly.id, history.autumn.id]
    anomaly, autumn = (dict(zip(HEADINGS, row, strict=True)) for row in rows)
    # The clocks went back at 03:00 CEST: opened at 02:30 CEST, resolved at 02:30 CET, an hour later.
    assert autumn == {
        "Alert": str(history.autumn.id), "Machine": "Motor-001", "Site": "Plant A", "Kind": "Failure risk",
        "Failure mode": "Drive-end bearing wear", "Severity": "Critical", "State": "Resolved",
        "Failure risk (%)": "91.0", "More unusual than (% of its normal readings)": "",
        "Title": "bearing_wear on Motor-001", "Opened (Europe/Berlin)": "2026-10-25 02:30:00",
        "Acknowledged (Europe/Berlin)": "2026-10-25 02:45:00", "Acknowledged by": world.engineer.email,
        "Resolved (Europe/Berlin)": "2026-10-25 02:30:00", "Occurrences": "3", "Escalations": "0",
        "Work order": "", "Resolution note": "'" + NOTE, "Opened (UTC, ISO 8601)": "2026-10-25T00:30:00Z"}
    assert (anomaly["Kind"], anomaly["Failure mode"], anomaly["State"]) == ("Unusual readings",) * 2 + ("Open",)
    assert (anomaly["Failure risk (%)"], anomaly["More unusual than (% of its normal readings)"]) == ("", "99.95")
    assert (anomaly["Opened (Europe/Berlin)"], anomaly["Resolved (Europe/Berlin)"]) == ("2026-10-26 10:00:00", "")


def test_excel_export_holds_the_same_rows_with_times_as_times(key_client, history, world):
    response = key_client(["read"]).get(EXPORT, {**PERIOD, "file": "xlsx", "state": "resolved"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="alarm-history-2026-10-25_2026-10-26.xlsx"' in response["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)))["Alarm history"]
    heading, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert heading == HEADINGS and len(rows) == 1
    row = dict(zip(HEADINGS, rows[0], strict=True))
    assert row["Alert"] == history.autumn.id and row["Failure risk (%)"] == 91.0 and row["Occurrences"] == 3
    assert row["Opened (Europe/Berlin)"] == datetime(2026, 10, 25, 2, 30)
    assert row["Resolved (Europe/Berlin)"] == datetime(2026, 10, 25, 2, 30)
    assert row["Acknowledged by"] == world.engineer.email
    assert row["More unusual than (% of its normal readings)"] is None
    note = sheet.cell(row=2, column=HEADINGS.index("Resolution note") + 1)
    assert (note.value, note.data_type) == (NOTE, "s")  # text, not a formula
    assert sheet.freeze_panes == "A2"


def test_the_export_answers_whatever_the_client_accepts(key_client, history):
    response = key_client(["read"]).get(EXPORT, PERIOD, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and len(csv_rows(response)) == 3
    bad = key_client(["read"]).get(EXPORT, {"file": "pdf"}, HTTP_ACCEPT="text/csv")
    assert bad.status_code == 400 and bad.json()["error"]["message"].startswith("'pdf' is not an export format")


def test_an_export_past_the_limit_is_refused_before_a_byte(key_client, history, settings):
    settings.ALARM_EXPORT_MAX_ROWS = {"csv": 2, "xlsx": 1}
    reader = key_client(["read"])
    three_days = {"from": "2026-10-24", "to": "2026-10-26"}
    refused = reader.get(EXPORT, {**three_days, "file": "xlsx"})
    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "code": "export_too_large", "details": {"alerts": 3, "limit": 1},
        "message": "This export would hold 3 alerts; one file holds at most 1. Narrow the period or the filters."}
    assert reader.get(EXPORT, {**three_days, "file": "csv"}).status_code == 400
    assert len(csv_rows(reader.get(EXPORT, PERIOD))) == 3  # two alerts: allowed in CSV
    assert reader.get(EXPORT, {**PERIOD, "file": "xlsx"}).status_code == 400  # not in a workbook


def test_a_big_export_streams_every_row(key_client, world, motor):
    with tenant_context(world.acme):
        Alert.objects.bulk_create([Alert(machine=motor, failure_mode="bearing_wear", severity="warning",
                                         status="resolved", probability=0.6, title=f"#{n}") for n in range(4500)])
    response = key_client(["read"]).get(EXPORT, {"machine": "Motor-001"})
    assert response.streaming  # never built whole in memory
    assert len(csv_rows(response)) == 4501  # more than two chunks of 2,000


def test_another_tenant_sees_none_of_the_rows(key_client, client_for, history, world, motor):
    globex_reader = key_client(["read"], tenant=world.globex)
    other = alert_at(world.globex, _globex_machine(world), utc(2026, 10, 25, 12))
    listed = globex_reader.get(LIST, {"page_size": 500}).json()["results"]  # ids repeat across schemas: names tell
    assert other.id in [a["id"] for a in listed] and {a["machine"] for a in listed} == {"G-1"}
    rows = csv_rows(globex_reader.get(EXPORT))
    assert {row[1] for row in rows[1:]} == {"G-1"} and "Motor-001" not in str(rows)
    assert globex_reader.get(LIST, {"machine": "Motor-001"}).status_code == 400  # not a machine of theirs
    stranger = client_for("globex_owner")  # signed in to globex, asking acme's host
    assert stranger.get(LIST).status_code == 404 and stranger.get(EXPORT).status_code == 404


def test_a_viewer_reads_and_exports_but_cannot_act(client_for, history, world):
    viewer = client_for("viewer")
    assert viewer.get(LIST, PERIOD).status_code == 200
    assert viewer.get(EXPORT, {**PERIOD, "file": "xlsx"}).status_code == 200
    assert viewer.post(EXPORT).status_code == 403  # a write: refused before the method is looked at
    assert viewer.post(f"{LIST}{history.anomaly.id}/acknowledge/").status_code == 403
    with tenant_context(world.acme):
        assert Alert.objects.get(id=history.anomaly.id).status == "open"


def test_the_openapi_schema_describes_the_filters_and_the_export(client_for):
    schema = client_for("viewer").get("/api/v1/schema/?format=json").json()
    listed = {p["name"] for p in schema["paths"][LIST]["get"]["parameters"]}
    assert {"machine", "failure_mode", "kind", "severity", "state", "from", "to", "tz", "ordering"} <= listed
    export = schema["paths"][EXPORT]["get"]
    params = {p["name"]: p for p in export["parameters"]}
    assert params["file"]["schema"]["enum"] == ["csv", "xlsx"] and "state" in params
    assert set(export["responses"]["200"]["content"]) == {
        "text/csv; charset=utf-8", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _globex_machine(world):
    with tenant_context(world.globex):
        return machine_create(machine_type_id=machine_type_adopt(key=MOTOR).id, name="G-1")
