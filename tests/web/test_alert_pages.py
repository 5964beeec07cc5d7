"""The alerts inbox: filters, ordering, acknowledge / resolve (plain POST and htmx row swaps),
opening a work order from an alert, role checks and tenant isolation."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from maintenance.models import Alert, WorkOrder
from maintenance.services.alerts import alert_raise, alert_resolve

INBOX = "/alerts/"


def _raise(world, motor, mode: str = "bearing_wear", probability: float = 0.9) -> Alert:
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode=mode, probability=probability).alert
        assert alert is not None
        return alert


@pytest.fixture
def alert(world, motor) -> Alert:
    return _raise(world, motor)


def _status(world, alert: Alert) -> str:
    with tenant_context(world.acme):
        return Alert.objects.get(id=alert.id).status


def test_inbox_lists_alerts_with_machine_link_and_details(client_for, alert):
    page = client_for("viewer").get(INBOX)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="/machines/{alert.machine_id}/"' in html and "Motor-001" in html
    assert "Drive-end bearing wear" in html and "90%" in html and "Critical" in html


def test_viewer_sees_no_action_buttons_and_engineer_does(client_for, alert):
    viewer = client_for("viewer").get(INBOX).content.decode()
    assert ">Acknowledge<" not in viewer and ">Resolve<" not in viewer and ">Open work order<" not in viewer
    engineer = client_for("engineer").get(INBOX).content.decode()
    assert ">Acknowledge<" in engineer and ">Resolve<" in engineer and ">Open work order<" in engineer
    assert f'hx-post="/alerts/{alert.id}/acknowledge/"' in engineer


def test_active_alerts_come_first_then_newest(client_for, world, motor):
    resolved = _raise(world, motor, "misalignment")
    older_open = _raise(world, motor, "bearing_wear")
    with tenant_context(world.acme):
        alert_resolve(alert_id=resolved.id, user_id=None)
        Alert.objects.filter(id=resolved.id).update(opened_at=timezone.now())  # the newest, but done
    newer_open = _raise(world, motor, "cooling_obstruction")
    html = client_for("viewer").get(INBOX).content.decode()
    positions = [html.index(f'id="alert-{a.id}"') for a in (newer_open, older_open, resolved)]
    assert positions == sorted(positions)


def test_filters_by_status_and_severity(client_for, world, motor):
    warning = _raise(world, motor, "misalignment", probability=0.6)
    critical = _raise(world, motor, "bearing_wear", probability=0.95)
    with tenant_context(world.acme):
        alert_resolve(alert_id=critical.id, user_id=None)
    viewer = client_for("viewer")
    resolved = viewer.get(INBOX, {"status": "resolved"}).content.decode()
    assert f'id="alert-{critical.id}"' in resolved and f'id="alert-{warning.id}"' not in resolved
    warnings = viewer.get(INBOX, {"severity": "warning"}).content.decode()
    assert f'id="alert-{warning.id}"' in warnings and f'id="alert-{critical.id}"' not in warnings
    assert viewer.get(INBOX, {"status": "bogus"}).status_code == 200  # bad filters show everything


def test_acknowledge_without_js_redirects_back_with_a_message(client_for, world, alert):
    response = client_for("engineer").post(f"/alerts/{alert.id}/acknowledge/", {"back": "status=open"}, follow=True)
    assert response.redirect_chain[-1][0] == f"{INBOX}?status=open"
    assert "Alert acknowledged." in response.content.decode()
    with tenant_context(world.acme):
        acknowledged = Alert.objects.get(id=alert.id)
        assert acknowledged.status == "acknowledged" and acknowledged.acknowledged_by_id == world.engineer.id


def test_acknowledge_with_htmx_returns_only_the_row(client_for, world, alert):
    response = client_for("engineer").post(f"/alerts/{alert.id}/acknowledge/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html.startswith("<tr") and f'<tr id="alert-{alert.id}"' in html and "<html" not in html
    assert "Acknowledged" in html and ">Acknowledge<" not in html and ">Resolve<" in html
    assert _status(world, alert) == "acknowledged"


def test_a_second_acknowledge_shows_the_service_error_in_the_row(client_for, alert):
    engineer = client_for("engineer")
    engineer.post(f"/alerts/{alert.id}/acknowledge/")
    again = engineer.post(f"/alerts/{alert.id}/acknowledge/", HTTP_HX_REQUEST="true")
    assert "cannot be acknowledged" in again.content.decode()
    plain = engineer.post(f"/alerts/{alert.id}/acknowledge/", follow=True)
    assert "cannot be acknowledged" in plain.content.decode()


def test_resolve_with_a_note(client_for, world, alert):
    response = client_for("engineer").post(f"/alerts/{alert.id}/resolve/", {"note": "Greased, vibration normal"},
                                           HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Resolved" in response.content.decode()
    with tenant_context(world.acme):
        resolved = Alert.objects.get(id=alert.id)
        assert resolved.status == "resolved" and resolved.resolution_note == "Greased, vibration normal"


def test_open_work_order_links_it_to_the_alert_and_goes_to_its_page(client_for, world, alert):
    response = client_for("engineer").post(f"/alerts/{alert.id}/work-order/")
    with tenant_context(world.acme):
        order = WorkOrder.objects.get(alert_id=alert.id)
    assert response.status_code == 302 and response["Location"] == f"/work-orders/{order.id}/"
    assert order.title == "Drive-end bearing wear on Motor-001" and order.priority == "urgent"
    assert order.created_by_id == world.engineer.id and order.machine_id == alert.machine_id
    inbox = client_for("viewer").get(INBOX).content.decode()
    assert f'href="/work-orders/{order.id}/"' in inbox


def test_open_work_order_takes_a_title(client_for, world, alert):
    client_for("engineer").post(f"/alerts/{alert.id}/work-order/", {"title": "Check the DE bearing"})
    with tenant_context(world.acme):
        assert WorkOrder.objects.get(alert_id=alert.id).title == "Check the DE bearing"


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "work-order"])
def test_a_viewer_cannot_act(client_for, world, alert, action):
    response = client_for("viewer").post(f"/alerts/{alert.id}/{action}/", {"note": "x"})
    assert response.status_code == 403
    assert _status(world, alert) == "open"
    with tenant_context(world.acme):
        assert not WorkOrder.objects.filter(alert_id=alert.id).exists()


def test_actions_need_post(client_for, alert):
    assert client_for("engineer").get(f"/alerts/{alert.id}/acknowledge/").status_code == 405


@pytest.mark.parametrize("path", [INBOX, "/alerts/{id}/acknowledge/", "/alerts/{id}/resolve/",
                                  "/alerts/{id}/work-order/"])
def test_another_tenants_user_gets_404(client_for, world, alert, path):
    client = client_for("globex_owner")
    url = path.format(id=alert.id)
    response = client.get(url) if url == INBOX else client.post(url)
    assert response.status_code == 404
    assert _status(world, alert) == "open"


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "work-order"])
def test_an_acme_alert_id_on_globex_host_is_404(client_for, world, alert, action):
    response = client_for("globex_owner", tenant=world.globex).post(f"/alerts/{alert.id}/{action}/")
    assert response.status_code == 404
    assert _status(world, alert) == "open"


def test_anonymous_goes_to_login(client_for, alert):
    response = client_for(None).get(INBOX)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    posted = client_for(None).post(f"/alerts/{alert.id}/acknowledge/")
    assert posted.status_code == 302 and "/accounts/login/" in posted["Location"]


def test_inbox_says_when_an_alert_opens_and_words_a_verdicts_risk(client_for, world, motor):
    from maintenance.models import AlertRule

    with tenant_context(world.acme):
        AlertRule.objects.create(windows_k=3, windows_n=5, windows_clear=6)
        Alert.objects.create(machine=motor, failure_mode="bearing_wear", severity="warning", probability=0.12,
                             title="Motor-001: bearing", explanation={"verdict": {
                                 "threshold": 0.053, "windows": "4 of the last 6 windows at risk"}})
    html = client_for("viewer").get(INBOX).content.decode()
    assert "at risk in 3 of its last 5 steps of readings" in html and "after 6 steps in a row without risk" in html
    assert "high (12%, alert level 5%)" in html and "4 of the last 6 windows at risk" in html


# --- an alert being handled (issue 16) ------------------------------------------------------------


def test_an_alert_with_a_live_work_order_links_it_instead_of_offering_another(client_for, world, alert):
    import re

    from maintenance.services.work_orders import work_order_create, work_order_transition

    def open_count() -> int:
        found = re.search(r"(\d+) open", client_for("viewer").get(INBOX).content.decode())
        assert found is not None
        return int(found[1])

    before = open_count()  # the session's trained machine may have an open alert of its own
    with tenant_context(world.acme):
        order = work_order_create(machine_id=alert.machine_id, alert_id=alert.id, title="", actor_id=None)
        work_order_transition(order_id=order.id, to_status="in_progress", actor_id=None)
    html = client_for("engineer").get(INBOX).content.decode()
    row = html[html.index(f'id="alert-{alert.id}"'):].split("</tr>")[0]
    assert 'data-status="handled"' in row and "Being handled" in row
    assert " open · 1 being handled · " in html and open_count() == before - 1  # counted apart
    assert f'href="/work-orders/{order.id}/">View WO-{order.id} (In Progress)</a>' in row
    assert "Open work order" not in row and ">Open</span>" not in row
    # a page opened before the work order existed: its button leads to that work order, not a second one
    again = client_for("engineer").post(f"/alerts/{alert.id}/work-order/")
    assert again.status_code == 302 and again["Location"] == f"/work-orders/{order.id}/"
    with tenant_context(world.acme):
        assert WorkOrder.objects.filter(alert_id=alert.id).count() == 1
        work_order_transition(order_id=order.id, to_status="cancelled", actor_id=None)
    row = client_for("engineer").get(INBOX).content.decode().split(f'id="alert-{alert.id}"')[1].split("</tr>")[0]
    assert 'data-status="open"' in row and "Open work order" in row  # cancelled: nobody is on it


def test_an_anomaly_alert_reads_as_unusual_readings(client_for, world, motor):
    with tenant_context(world.acme):
        Alert.objects.create(machine=motor, kind="anomaly", severity="warning", probability=0.9995,
                             title="Motor-001: readings unlike its normal (vibration_mm_s)",
                             explanation={"anomaly": {"windows": "4 of the last 6 steps unusual"}})
    html = client_for("viewer").get(INBOX).content.decode()
    assert "Unusual readings" in html and "More unusual than 99.95% of its normal readings" in html
    assert "4 of the last 6 steps unusual" in html
