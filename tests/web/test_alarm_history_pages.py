"""The alarm history page (`/alerts/history/`), its exports and the machine page's alerts card:
local times and words, filters and pages, the exports holding exactly the page's rows, a filter
that cannot be read shown with a 400, and who may see what."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from django_tenants.utils import tenant_context
from openpyxl import load_workbook

from maintenance.services.work_orders import work_order_create
from maintenance.templatetags.machine_alarms import RECENT
from maintenance.views.alarm_history import ROWS_PER_PAGE
from tests.maintenance.alarm_helpers import History, alert_at, berlin_history, utc

PAGE = "/alerts/history/"
EXPORT = "/alerts/history/export/"
PERIOD = {"from": "2026-10-25", "to": "2026-10-26"}


@pytest.fixture
def history(world, motor) -> History:
    return berlin_history(world.acme, motor, engineer=world.engineer)


def row_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr id="alarm-(\d+)"', html)]


def test_the_page_lists_alerts_in_words_and_the_organizations_time(client_for, history):
    page = client_for("viewer").get(PAGE, PERIOD)
    assert page.status_code == 200
    html = page.content.decode()
    assert row_ids(html) == [history.anomaly.id, history.autumn.id]
    assert "times in Europe/Berlin" in html and "2 alerts" in html
    autumn = html[html.index(f'id="alarm-{history.autumn.id}"'):]
    assert "Drive-end bearing wear" in autumn and "Failure risk 91%" in autumn and "Critical" in autumn
    assert '<time datetime="2026-10-25T02:30:00+02:00">2026-10-25 02:30</time>' in autumn  # before the change
    assert '<time datetime="2026-10-25T02:30:00+01:00">2026-10-25 02:30</time>' in autumn  # resolved an hour later
    assert "Resolved" in autumn and "HYPERLINK" in autumn
    anomaly = html[html.index(f'id="alarm-{history.anomaly.id}"'):html.index(f'id="alarm-{history.autumn.id}"')]
    assert "Unusual readings" in anomaly and "More unusual than 99.95% of its normal readings" in anomaly


def test_filters_are_kept_in_the_form_and_the_export_links(client_for, history):
    html = client_for("viewer").get(PAGE, {**PERIOD, "state": "resolved", "machine": "Motor-001"}).content.decode()
    assert row_ids(html) == [history.autumn.id]
    assert '<option value="resolved" selected>' in html and '<option value="Motor-001" selected>' in html
    assert 'value="2026-10-25"' in html and 'value="2026-10-26"' in html
    assert f'href="{EXPORT}?from=2026-10-25&amp;to=2026-10-26&amp;state=resolved&amp;machine=Motor-001&amp;file=csv"' \
           in html
    assert f'href="{EXPORT}?from=2026-10-25&amp;to=2026-10-26&amp;state=resolved&amp;machine=Motor-001&amp;file=xlsx"' \
           in html


def test_being_handled_reads_so_and_links_its_work_order(client_for, world, motor):
    alert = alert_at(world.acme, motor, utc(2026, 11, 2, 8), status="open", resolved_at=None)
    with tenant_context(world.acme):
        order = work_order_create(machine_id=motor.id, alert_id=alert.id, title="Regrease", actor_id=None)
    html = client_for("viewer").get(PAGE, {"state": "handled", "machine": "Motor-001"}).content.decode()
    assert row_ids(html) == [alert.id]
    assert "Being handled" in html and f'href="/work-orders/{order.id}/">WO-{order.id} (Open)</a>' in html
    assert alert.id not in row_ids(client_for("viewer").get(PAGE, {"state": "open"}).content.decode())


def test_the_exports_hold_exactly_the_pages_rows(client_for, history):
    viewer = client_for("viewer")
    params = {"from": "2026-10-24", "to": "2026-10-25", "ordering": "opened_at"}
    shown = row_ids(viewer.get(PAGE, params).content.decode())
    assert shown == [history.before.id, history.autumn.id]
    lines = list(csv.reader(io.StringIO(b"".join(viewer.get(EXPORT, {**params, "file": "csv"})
                                                .streaming_content).decode("utf-8-sig"))))
    assert [int(line[0]) for line in lines[1:]] == shown
    book = load_workbook(io.BytesIO(b"".join(viewer.get(EXPORT, {**params, "file": "xlsx"}).streaming_content)))
    assert [row[0] for row in book["Alarm history"].iter_rows(min_row=2, values_only=True)] == shown


def test_pages_of_fifty_keep_the_filters(client_for, world, motor):
    start = utc(2026, 6, 1)
    with tenant_context(world.acme):
        for n in range(ROWS_PER_PAGE + 3):
            alert_at(world.acme, motor, start + timedelta(hours=n))
    viewer = client_for("viewer")
    first = viewer.get(PAGE, {"machine": "Motor-001"}).content.decode()
    assert len(row_ids(first)) == ROWS_PER_PAGE and "Page 1 of 2" in first
    assert 'href="?machine=Motor-001&amp;page=2"' in first
    second = viewer.get(PAGE, {"machine": "Motor-001", "page": 2}).content.decode()
    assert len(row_ids(second)) == 3


def test_too_many_rows_for_a_file_show_the_limit_instead_of_a_link(client_for, history, settings):
    settings.ALARM_EXPORT_MAX_ROWS = {"csv": 2, "xlsx": 1}
    viewer = client_for("viewer")
    html = viewer.get(PAGE, PERIOD).content.decode()  # two alerts
    assert ">CSV</a>" in html and ">Excel</a>" not in html and "Excel: more than 1" in html
    refused = viewer.get(EXPORT, {**PERIOD, "file": "xlsx"})  # an old link: the page says why
    assert refused.status_code == 400
    assert "This export would hold 2 alerts; one file holds at most 1." in refused.content.decode()


def test_a_filter_that_cannot_be_read_is_a_400_page_naming_it(client_for, history):
    for path in (PAGE, EXPORT):
        response = client_for("viewer").get(path, {"from": "2026-10-32", "state": "closed"})
        assert response.status_code == 400
        html = response.content.decode()
        assert "&#x27;2026-10-32&#x27; is not a date (filter &#x27;from&#x27;)" in html
        assert "&#x27;closed&#x27; is not a state" in html and row_ids(html) == []
    bad_format = client_for("viewer").get(EXPORT, {"file": "pdf"})
    assert bad_format.status_code == 400 and "is not an export format" in bad_format.content.decode()


def test_the_machine_page_shows_its_latest_alerts_and_links_the_history(client_for, world, motor):
    start = utc(2026, 6, 1)
    alerts = [alert_at(world.acme, motor, start + timedelta(days=n)) for n in range(RECENT + 2)]
    html = client_for("viewer").get(f"/machines/{motor.id}/").content.decode()
    card = html[html.index('id="machine-alarm-history"'):]
    shown = [int(found) for found in re.findall(r'<tr id="machine-alarm-(\d+)"', card)]
    assert shown == [alert.id for alert in reversed(alerts)][:RECENT]
    assert f'href="{PAGE}?machine=Motor-001" class="small" id="machine-alarm-history-link">All {RECENT + 2} in the ' \
           f'history</a>' in card
    assert "Drive-end bearing wear" in card and "Resolved" in card


def test_the_machine_page_without_alerts(client_for, motor):
    html = client_for("viewer").get(f"/machines/{motor.id}/").content.decode()
    card = html[html.index('id="machine-alarm-history"'):]
    assert "No alerts." in card and ">History</a>" in card


@pytest.mark.parametrize("path", [PAGE, EXPORT, f"{EXPORT}?file=xlsx"])
def test_another_tenants_user_gets_404_and_nobody_signed_in_goes_to_login(client_for, history, path):
    assert client_for("globex_owner").get(path).status_code == 404
    anonymous = client_for(None).get(path)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")


def test_another_tenants_alerts_never_show(client_for, world, history):
    html = client_for("globex_owner", tenant=world.globex).get(PAGE).content.decode()
    assert not {history.autumn.id, history.anomaly.id, history.before.id} & set(row_ids(html))
    assert "Motor-001" not in html


def test_a_viewer_reads_but_the_history_takes_no_writes(client_for, history):
    viewer = client_for("viewer")
    html = viewer.get(PAGE).content.decode()
    main = html[html.index("<main>"):]
    assert ">Acknowledge<" not in main and ">Resolve<" not in main and 'method="post"' not in main
    assert viewer.post(PAGE).status_code == 403 and viewer.post(EXPORT).status_code == 403
