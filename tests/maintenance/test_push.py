"""Web Push end to end against a local push service (tests/push_service.py) that checks the VAPID
signature and decrypts what it receives: who is told of what, preferences, expired subscriptions,
a task that runs twice, and isolation between organizations and people."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.test import override_settings
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from accounts.services import membership_add
from machines.services import machine_create, machine_type_adopt
from maintenance.management.commands.vapid_keys import vapid_private_key_new
from maintenance.models import Alert, WorkOrder
from maintenance.push import PushFailed, push_notify, vapid_public_key, vapid_public_key_of
from maintenance.push_models import PushDelivery, PushKind, PushSubscription
from maintenance.services.alerts import alert_raise, alerts_escalate
from maintenance.services.push import push_preferences_set, push_subscription_save
from maintenance.services.work_orders import work_order_create, work_order_update
from tests.conftest import MOTOR, PASSWORD
from tests.push_service import PushService, push_service

JSON = "application/json"
PRIVATE_KEY = vapid_private_key_new()
PUBLIC_KEY = vapid_public_key_of(PRIVATE_KEY)
# The local push service listens on 127.0.0.1, which only the operator allowance for on-premises
# installs lets outbound requests reach (pdm_saas/outbound.py); real push services are public.
push_on = override_settings(PUSH_VAPID_PRIVATE_KEY=PRIVATE_KEY, OUTBOUND_ALLOW_PRIVATE_TARGETS=True,
                            PUSH_VAPID_SUBJECT="mailto:ops@example.com")


@pytest.fixture
def service() -> Iterator[PushService]:
    with push_on, push_service() as running:
        yield running


def subscribe(client: Any, service: PushService) -> dict[str, Any]:
    """What the page's script does: subscribe the browser, hand the subscription to the server."""
    subscription = service.subscribe(server_key=PUBLIC_KEY)
    answer = client.post("/notifications/push/subscribe/", subscription, content_type=JSON)
    assert answer.status_code == 201, answer.content
    return subscription


def raise_alert(machine_id: int, probability: float = 0.93) -> Alert:
    alert = alert_raise(machine_id=machine_id, failure_mode="bearing_wear", probability=probability).alert
    assert alert is not None
    return alert


@pytest.mark.clock  # the VAPID token's expiry, the escalation delay: time pinned
def test_a_new_alert_reaches_the_engineers_browser_signed_and_encrypted(client_for, motor, world, service):
    browser = subscribe(client_for("engineer"), service)
    with time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), tick=False), tenant_context(world.acme):
        alert = raise_alert(motor.id)
        assert push_notify(kind=PushKind.ALERT_OPENED, object_id=alert.id) == 1
        assert push_notify(kind=PushKind.ALERT_OPENED, object_id=alert.id) == 0  # the task again: not twice
        delivery = PushDelivery.objects.get()
    assert service.refused == []
    (message,) = service.messages_for(browser)
    assert message == {"kind": "alert.opened", "title": "Critical alert on Motor-001", "tag": f"alert-{alert.id}",
                       "body": message["body"], "url": f"/alerts/#alert-{alert.id}"}
    assert alert.title in message["body"]
    (received,) = service.received
    # The VAPID token expires 12 hours after sending (at most 24 h, RFC 8292), for this service.
    assert received.claims == {"aud": service.origin, "sub": "mailto:ops@example.com",
                               "exp": int((datetime(2026, 3, 2, 8, 0, tzinfo=UTC) + timedelta(hours=12)).timestamp())}
    assert received.headers["urgency"] == "high"  # a critical alert
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 1, 201)


def test_the_hook_queues_the_push_after_commit(client_for, motor, world, service, eager):
    browser = subscribe(client_for("admin"), service)
    with tenant_context(world.acme), eager():
        raise_alert(motor.id)
    assert [m["kind"] for m in service.messages_for(browser)] == ["alert.opened"]


def test_a_withdrawn_subscription_is_removed_on_410(client_for, motor, world, service):
    browser = subscribe(client_for("engineer"), service)
    service.browsers[browser["endpoint"].rsplit("/", 1)[1]].answer = 410
    with tenant_context(world.acme):
        alert = raise_alert(motor.id)
        assert push_notify(kind=PushKind.ALERT_OPENED, object_id=alert.id) == 0
        assert not PushSubscription.objects.exists() and not PushDelivery.objects.exists()


def test_a_server_error_is_retried_and_a_retry_sends_only_what_is_left(client_for, motor, world, service):
    engineer, admin = subscribe(client_for("engineer"), service), subscribe(client_for("admin"), service)
    service.browsers[engineer["endpoint"].rsplit("/", 1)[1]].answer = 503
    with tenant_context(world.acme):
        alert = raise_alert(motor.id)
        with pytest.raises(PushFailed):
            push_notify(kind=PushKind.ALERT_OPENED, object_id=alert.id)
        assert PushDelivery.objects.get(subscription__user_id=world.engineer.id).status == "pending"
        service.browsers[engineer["endpoint"].rsplit("/", 1)[1]].answer = 201
        assert push_notify(kind=PushKind.ALERT_OPENED, object_id=alert.id) == 1  # the task's retry
    assert len(service.messages_for(engineer)) == 1 and len(service.messages_for(admin)) == 1


def test_preferences_are_respected_per_kind(client_for, motor, world, service):
    browser = subscribe(client_for("engineer"), service)
    with tenant_context(world.acme):
        push_preferences_set(user_id=world.engineer.id, choices={PushKind.ALERT_OPENED: False})
        alert = raise_alert(motor.id)
        assert push_notify(kind=PushKind.ALERT_OPENED, object_id=alert.id) == 0
        order = work_order_create(machine_id=motor.id, title="Check the bearing", actor_id=world.admin.id,
                                  assignee_id=world.engineer.id)
        event_id = order.events.get().id
        assert push_notify(kind=PushKind.WORK_ORDER_ASSIGNED, object_id=order.id, occurrence=event_id,
                           user_id=world.engineer.id) == 1
    assert [m["kind"] for m in service.messages_for(browser)] == ["work_order.assigned"]
    assert service.messages_for(browser)[0]["url"] == f"/work-orders/{order.id}/"


def test_my_machines_for_a_viewer_are_those_of_their_work_orders(client_for, motor, world, service):
    browser = subscribe(client_for("viewer"), service)
    with tenant_context(world.acme):
        other = machine_create(machine_type_id=motor.machine_type_id, name="Motor-002", site="Plant A")
        first = raise_alert(other.id)
        assert push_notify(kind=PushKind.ALERT_OPENED, object_id=first.id) == 0  # not one of theirs
        work_order_create(machine_id=motor.id, title="Inspect", actor_id=world.admin.id, assignee_id=world.viewer.id)
        second = raise_alert(motor.id)
        assert push_notify(kind=PushKind.ALERT_OPENED, object_id=second.id) == 1
    assert [m["url"] for m in service.messages_for(browser)] == [f"/alerts/#alert-{second.id}"]


@pytest.mark.clock  # the VAPID token's expiry, the escalation delay: time pinned
def test_escalations_go_to_admins_not_to_every_engineer(client_for, motor, world, service):
    admin, engineer = subscribe(client_for("admin"), service), subscribe(client_for("engineer"), service)
    with time_machine.travel(datetime(2026, 3, 2, 8, 0, tzinfo=UTC), tick=False), tenant_context(world.acme):
        alert = raise_alert(motor.id)
    with time_machine.travel(datetime(2026, 3, 2, 10, 0, tzinfo=UTC), tick=False), tenant_context(world.acme):
        assert alerts_escalate() == 1
        assert push_notify(kind=PushKind.ALERT_ESCALATED, object_id=alert.id) == 1
    assert [m["title"] for m in service.messages_for(admin)] == ["Escalated: Critical alert on Motor-001"]
    assert service.messages_for(engineer) == []


def test_assignment_tells_the_assignee_not_someone_who_took_it_themselves(motor, world, service, client_for, eager):
    browser = subscribe(client_for("engineer"), service)
    with tenant_context(world.acme), eager():
        order = work_order_create(machine_id=motor.id, title="Grease", actor_id=world.engineer.id,
                                  assignee_id=world.engineer.id)
    assert service.messages_for(browser) == []
    with tenant_context(world.acme), eager():
        work_order_update(order_id=order.id, actor_id=world.engineer.id, assignee_id=None)
        work_order_update(order_id=order.id, actor_id=world.admin.id, assignee_id=world.engineer.id)
    (message,) = service.messages_for(browser)
    assert message["title"] == f"WO-{order.id} assigned to you" and "Grease (Motor-001" in message["body"]


def test_a_person_in_two_organizations_hears_each_only_through_its_own_subscription(db, world, service):
    both = User.objects.create_user("both@orgs.test", PASSWORD)
    membership_add(user=both, tenant=world.acme, role=Role.ENGINEER)
    membership_add(user=both, tenant=world.globex, role=Role.ENGINEER)
    with tenant_context(world.globex):
        via_globex = service.subscribe(server_key=PUBLIC_KEY)
        push_subscription_save(user_id=both.id, endpoint=via_globex["endpoint"], **via_globex["keys"])
        globex_motor = machine_create(machine_type_id=machine_type_adopt(key=MOTOR).id, name="G-1")
    with tenant_context(world.acme):
        acme_motor = machine_create(machine_type_id=machine_type_adopt(key=MOTOR).id, name="A-1")
        acme_alert = raise_alert(acme_motor.id)
        assert push_notify(kind=PushKind.ALERT_OPENED, object_id=acme_alert.id) == 0  # acme has no browser of theirs
    with tenant_context(world.globex):
        globex_alert = raise_alert(globex_motor.id)
        assert push_notify(kind=PushKind.ALERT_OPENED, object_id=globex_alert.id) == 1
    assert [m["url"] for m in service.messages_for(via_globex)] == [f"/alerts/#alert-{globex_alert.id}"]


def test_a_removed_member_hears_nothing_more(client_for, motor, world, service):
    browser = subscribe(client_for("engineer"), service)
    world.engineer.memberships.filter(tenant=world.acme).delete()
    with tenant_context(world.acme):
        alert = raise_alert(motor.id)
        assert push_notify(kind=PushKind.ALERT_OPENED, object_id=alert.id) == 0
    assert service.messages_for(browser) == []


def test_another_organization_cannot_register_here(client_for, key_client, world, service):
    subscription = service.subscribe(server_key=PUBLIC_KEY)
    globex_owner = client_for("globex_owner")  # signed in, but on acme's host
    assert globex_owner.post("/notifications/push/subscribe/", subscription, content_type=JSON).status_code == 404
    assert client_for("outsider").post("/notifications/push/subscribe/", subscription,
                                       content_type=JSON).status_code == 404
    # A globex key on acme's host acts in globex (the key selects its organization).
    globex_key = key_client(["read"], tenant=world.globex, host="acme.localhost")
    refused = globex_key.post("/api/v1/push/subscriptions/", subscription, content_type=JSON)
    assert refused.status_code == 400 and "no person behind it" in refused.json()["error"]["message"]
    for tenant in (world.acme, world.globex):
        with tenant_context(tenant):
            assert not PushSubscription.objects.exists()


def test_bad_subscriptions_get_a_clear_400_and_store_nothing(client_for, world):
    client = client_for("viewer")
    with push_on, push_service() as service:
        good = service.subscribe(server_key=PUBLIC_KEY)
        cases = {
            "p256dh": {**good, "keys": {**good["keys"], "p256dh": "bm90IGEga2V5"}},
            "auth": {**good, "keys": {**good["keys"], "auth": "c2hvcnQ"}},
        }
        for field, body in cases.items():
            answer = client.post("/notifications/push/subscribe/", body, content_type=JSON)
            assert answer.status_code == 400 and field in answer.json()["error"]["details"], answer.content
        not_json = client.post("/notifications/push/subscribe/", "[1", content_type=JSON)
        assert not_json.status_code == 400 and "JSON object" in not_json.json()["error"]["message"]
    # Without the on-premises allowance, loopback and plain http are refused, as for webhooks.
    with override_settings(PUSH_VAPID_PRIVATE_KEY=PRIVATE_KEY):
        loopback = client.post("/notifications/push/subscribe/", {**good, "endpoint": "https://127.0.0.1/p"},
                               content_type=JSON)
        assert loopback.status_code == 400 and "loopback" in loopback.json()["error"]["message"]
        plain = client.post("/notifications/push/subscribe/", {**good, "endpoint": "http://93.184.215.14/p"},
                            content_type=JSON)
        assert plain.status_code == 400 and "https://" in plain.json()["error"]["message"]
    with tenant_context(world.acme):
        assert not PushSubscription.objects.exists()


def test_the_api_manages_ones_own_browsers_only(client_for, key_client, world, service):
    mine = service.subscribe(server_key=PUBLIC_KEY)
    created = client_for("viewer").post("/api/v1/push/subscriptions/", {**mine, "device": "Phone"}, content_type=JSON)
    assert created.status_code == 201 and "keys" not in created.json()
    subscribe(client_for("engineer"), service)
    listed = client_for("viewer").get("/api/v1/push/subscriptions/").json()
    assert [(s["endpoint"], s["device"]) for s in listed] == [(mine["endpoint"], "Phone")]
    engineers = client_for("engineer").get("/api/v1/push/subscriptions/").json()
    assert client_for("viewer").delete(f"/api/v1/push/subscriptions/{engineers[0]['id']}/").status_code == 404
    assert client_for("viewer").delete(f"/api/v1/push/subscriptions/{created.json()['id']}/").status_code == 204
    assert key_client(["predict"]).get("/api/v1/push/subscriptions/").status_code == 403  # no read scope
    assert client_for(None).get("/api/v1/push/subscriptions/").status_code == 401
    assert client_for("globex_owner").get("/api/v1/push/subscriptions/").status_code == 404
    assert client_for("viewer").get("/api/v1/push/key/").json() == {"public_key": PUBLIC_KEY, "enabled": True}


def test_preferences_through_the_api(client_for, key_client, world):
    client = client_for("viewer")
    assert client.get("/api/v1/push/preferences/").json() == {
        "alert_opened": True, "alert_escalated": True, "work_order_assigned": True}
    changed = client.put("/api/v1/push/preferences/", {"alert_escalated": False}, content_type=JSON)
    assert changed.json()["alert_escalated"] is False and changed.json()["alert_opened"] is True
    bad = client.put("/api/v1/push/preferences/", {"alert_escalated": "no", "lunch": True}, content_type=JSON)
    assert bad.status_code == 400
    assert bad.json()["error"]["details"] == {"unknown": ["lunch"], "not_boolean": ["alert_escalated"]}
    assert client_for("engineer").get("/api/v1/push/preferences/").json()["alert_escalated"] is True  # hers only
    assert client_for("globex_owner").put("/api/v1/push/preferences/", {}, content_type=JSON).status_code == 404
    assert key_client(["predict"]).put("/api/v1/push/preferences/", {}, content_type=JSON).status_code == 403


def test_the_notifications_page_and_its_choices(client_for, world):
    with push_on:
        page = client_for("viewer").get("/notifications/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'data-vapid-key="{PUBLIC_KEY}"' in html and "New alert on my machines" in html
    assert client_for("viewer").post("/notifications/", {"alert_opened": "on"}).status_code == 302
    with tenant_context(world.acme):
        from maintenance.push_selectors import push_preferences_of

        assert push_preferences_of(user_id=world.viewer.id) == {
            "alert.opened": True, "alert.escalated": False, "work_order.assigned": False}
    assert client_for("outsider").get("/notifications/").status_code == 404
    assert client_for("globex_owner").post("/notifications/", {}).status_code == 404


def test_devices_are_removed_from_the_page_by_their_owner_only(client_for, world, service):
    subscribe(client_for("engineer"), service)
    with tenant_context(world.acme):
        device = PushSubscription.objects.get()
    assert client_for("viewer").post(f"/notifications/devices/{device.id}/remove/").status_code == 302
    with tenant_context(world.acme):
        assert PushSubscription.objects.filter(id=device.id).exists()  # not the viewer's to remove
    client_for("engineer").post(f"/notifications/devices/{device.id}/remove/")
    with tenant_context(world.acme):
        assert not PushSubscription.objects.exists()


def test_the_service_worker_is_served_from_the_root(client_for):
    answer = client_for(None).get("/sw.js")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/javascript")
    assert answer["Service-Worker-Allowed"] == "/" and "no-cache" in answer["Cache-Control"]
    assert 'importScripts("/static/js/sw_push.js")' in answer.content.decode()


def test_without_a_vapid_key_push_is_off_and_says_so(client_for, motor, world):
    with override_settings(PUSH_VAPID_PRIVATE_KEY="", DEBUG=False):
        assert vapid_public_key() == ""
        with tenant_context(world.acme):
            assert push_notify(kind=PushKind.ALERT_OPENED, object_id=raise_alert(motor.id).id) == 0
            assert not PushDelivery.objects.exists()
        assert 'data-vapid-key=""' in client_for("viewer").get("/notifications/").content.decode()


def test_vapid_keys_command_makes_a_pair_and_a_development_key(tmp_path, capsys):
    call_command("vapid_keys")
    printed = capsys.readouterr().out
    private = printed.split("PDM_VAPID_PRIVATE_KEY=")[1].split()[0]
    assert vapid_public_key_of(private) in printed
    dev_file = tmp_path / "vapid_private_key"
    with override_settings(PUSH_VAPID_PRIVATE_KEY="", PUSH_VAPID_DEV_KEY_FILE=dev_file, DEBUG=True):
        call_command("vapid_keys", "--dev")
        first = dev_file.read_text()
        call_command("vapid_keys", "--dev")  # kept: a new key would orphan every subscription
        assert dev_file.read_text() == first and vapid_public_key() == vapid_public_key_of(first.strip())
        assert oct(dev_file.stat().st_mode & 0o777) == "0o600"


def test_work_orders_closed_since_assignment_are_not_pushed(motor, world, service, client_for):
    browser = subscribe(client_for("engineer"), service)
    with tenant_context(world.acme):
        order = work_order_create(machine_id=motor.id, title="Grease", actor_id=world.admin.id,
                                  assignee_id=world.engineer.id)
        WorkOrder.objects.filter(id=order.id).update(status=WorkOrder.Status.CANCELLED)
        assert push_notify(kind=PushKind.WORK_ORDER_ASSIGNED, object_id=order.id, occurrence=order.events.get().id,
                           user_id=world.engineer.id) == 0
    assert service.messages_for(browser) == []


def test_a_vapid_key_that_is_not_one_is_refused_at_startup() -> None:
    from pdm_saas.checks import push_key_check

    with override_settings(PUSH_VAPID_PRIVATE_KEY="change-me-or-empty-to-switch-push-off"):
        assert [problem.id for problem in push_key_check(None)] == ["pdm.E012"]
    with override_settings(PUSH_VAPID_PRIVATE_KEY=PRIVATE_KEY, PUSH_VAPID_SUBJECT="ops@example.com"):
        assert [problem.id for problem in push_key_check(None)] == ["pdm.E013"]
    with override_settings(PUSH_VAPID_PRIVATE_KEY=""):
        assert push_key_check(None) == []


def test_a_shared_device_belongs_to_whoever_subscribed_it_last(client_for, world, service):
    browser = subscribe(client_for("viewer"), service)
    again = client_for("engineer").post("/notifications/push/subscribe/", browser, content_type=JSON)
    assert again.status_code == 201
    with tenant_context(world.acme):
        assert list(PushSubscription.objects.values_list("user_id", flat=True)) == [world.engineer.id]
