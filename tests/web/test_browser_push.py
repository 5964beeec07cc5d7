"""Web Push from the notifications page, in a real headless Chromium against the servers `make run`
starts: the page registers the root service worker, subscribes with the server's VAPID key, and
the server stores the subscription; a notification the server then sends is received by the local
push service (tests/push_service.py), decrypted, and handed to the service worker, which shows it.

Only the browser's push service is replaced: headless Chromium has none, so an init script makes
`PushManager.prototype.subscribe` (and `getSubscription`) return a subscription whose endpoint and
keys come from the local push service. Everything else is the browser's own: the service worker
at /sw.js with sw_push.js, the notification permission, the page's script, the server's storing,
encryption and VAPID signing. The decrypted payload reaches the worker through DevTools'
`ServiceWorker.deliverPushMessage`, the browser's own way in for a push message.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from accounts.services import membership_add
from machines.models import Machine
from machines.services import machine_create, machine_type_adopt
from maintenance.management.commands.vapid_keys import vapid_private_key_new
from maintenance.push import push_notify, vapid_public_key_of
from maintenance.push_models import PushKind, PushSubscription
from maintenance.services.alerts import alert_raise
from tenants.models import Tenant
from tenants.services import tenant_signup
from tests.conftest import MOTOR, PASSWORD, committed_tenant_drop
from tests.live import free_port, web_stack
from tests.push_service import PushService, push_service

pytestmark = pytest.mark.live
SLUG = "push-plant"
OWNER, ENGINEER = "owner@push-plant.test", "engineer@push-plant.test"
PRIVATE_KEY = vapid_private_key_new()
PUBLIC_KEY = vapid_public_key_of(PRIVATE_KEY)
# The push service listens on 127.0.0.1: the on-premises allowance lets the server reach it.
SERVER_ENV = {"PDM_VAPID_PRIVATE_KEY": PRIVATE_KEY, "PDM_OUTBOUND_ALLOW_PRIVATE_TARGETS": "true"}

# Stands in for the browser's push service, nothing else: subscribe() returns the subscription the
# local push service made, after checking it was asked with this server's key.
FAKE_PUSH_SERVICE = """
(() => {
  const made = %(subscription)s;
  const expectedKey = %(key)s;
  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const subscription = () => ({
    endpoint: made.endpoint, expirationTime: null, options: { userVisibleOnly: true },
    toJSON: () => made,
    unsubscribe: async () => { localStorage.removeItem("fake-push"); return true; },
  });
  PushManager.prototype.subscribe = async function (options) {
    const key = b64url(options.applicationServerKey);
    if (key !== expectedKey) throw new DOMException("unexpected applicationServerKey " + key, "InvalidAccessError");
    localStorage.setItem("fake-push", "1");
    return subscription();
  };
  PushManager.prototype.getSubscription = async function () {
    return localStorage.getItem("fake-push") ? subscription() : null;
  };
})();
"""


@pytest.fixture(scope="module")
def service() -> Iterator[PushService]:
    with push_service() as running:
        yield running


@pytest.fixture(scope="module")
def plant(world: Any, django_db_blocker: Any) -> Iterator[Tenant]:
    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="Push Plant", slug=SLUG, owner_email=OWNER, owner_password=PASSWORD)
        engineer = User.objects.create_user(ENGINEER, PASSWORD)
        membership_add(user=engineer, tenant=signup.tenant, role=Role.ENGINEER)
        with tenant_context(signup.tenant):
            machine_create(machine_type_id=machine_type_adopt(key=MOTOR).id, name="M-1", site="Plant A")
    yield signup.tenant
    with django_db_blocker.unblock():
        committed_tenant_drop(signup.tenant, emails=[OWNER, ENGINEER])


@pytest.fixture(scope="module")
def stack(plant: Tenant, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    saved = {name: os.environ.get(name) for name in SERVER_ENV}
    os.environ.update(SERVER_ENV)  # the servers' environment (tests.live.child_env copies it)
    try:
        with django_db_blocker.unblock(), web_stack(port=port, logs=tmp_path_factory.mktemp("push")):
            yield port
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def url(port: int, path: str = "/") -> str:
    return f"http://{SLUG}.localhost:{port}{path}"


@pytest.fixture(scope="module")
def phone(browser: Any, stack: int, service: PushService) -> Iterator[Any]:
    """The engineer's phone: notifications allowed for the site, the push service replaced."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    context.set_default_timeout(20_000)
    context.grant_permissions(["notifications"], origin=url(stack, "").rstrip("/"))
    made = service.subscribe(server_key=PUBLIC_KEY)
    context.add_init_script(FAKE_PUSH_SERVICE % {"subscription": json.dumps(made), "key": json.dumps(PUBLIC_KEY)})
    tab = context.new_page()
    tab.goto(url(stack, "/accounts/login/?next=/notifications/"))
    tab.fill("input[name=username]", ENGINEER)
    tab.fill("input[name=password]", PASSWORD)
    tab.locator("form button[type=submit]").click()
    tab.wait_for_url(url(stack, "/notifications/"))
    tab.made_subscription = made
    yield tab
    context.close()


def test_the_page_subscribes_this_device_and_the_server_stores_it(phone: Any, plant: Tenant,
                                                                  django_db_blocker: Any, shots: Path) -> None:
    phone.locator("[data-push-state]", has_text="Off on this device").wait_for()  # the worker is registered
    assert not phone.get_by_role("button", name="Turn off on this device").is_visible()
    phone.get_by_role("button", name="Turn on notifications on this device").click()
    phone.locator("[data-push-state]", has_text="On: this device shows notifications").wait_for()
    assert not phone.get_by_role("button", name="Turn on notifications on this device").is_visible()
    assert "Chrome on" in phone.locator("table.push-devices tbody").inner_text()
    phone.screenshot(path=str(shots / "notifications-phone.png"), full_page=True)
    with django_db_blocker.unblock(), tenant_context(plant):
        stored = PushSubscription.objects.get()
    assert stored.endpoint == phone.made_subscription["endpoint"]
    assert (stored.p256dh, stored.auth) == (phone.made_subscription["keys"]["p256dh"],
                                            phone.made_subscription["keys"]["auth"])
    assert stored.user_id == User.objects.get(email=ENGINEER).id


def test_a_pushed_alert_is_shown_by_the_service_worker(phone: Any, plant: Tenant, stack: int, service: PushService,
                                                       django_db_blocker: Any) -> None:
    with (django_db_blocker.unblock(), tenant_context(plant),
          override_settings(PUSH_VAPID_PRIVATE_KEY=PRIVATE_KEY, OUTBOUND_ALLOW_PRIVATE_TARGETS=True)):
        machine = Machine.objects.get(name="M-1")
        alert = alert_raise(machine_id=machine.id, failure_mode="bearing_wear", probability=0.93).alert
        assert alert is not None
        assert push_notify(kind=PushKind.ALERT_OPENED, object_id=alert.id) == 1
    (message,) = service.messages_for(phone.made_subscription)
    assert message["url"] == f"/alerts/#alert-{alert.id}"
    # The decrypted payload into the service worker, as the browser's push service would deliver it.
    cdp = phone.context.new_cdp_session(phone)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(100):  # Playwright hands over DevTools events while it waits, not while we sleep
        if any(r["scopeURL"] == url(stack) for r in registrations):
            break
        phone.wait_for_timeout(100)
    registration = next(r for r in registrations if r["scopeURL"] == url(stack))
    cdp.send("ServiceWorker.deliverPushMessage", {"origin": url(stack).rstrip("/"),
                                                  "registrationId": registration["registrationId"],
                                                  "data": json.dumps(message)})
    shown = None
    for _ in range(100):  # the worker shows it asynchronously: ask until it is there
        shown = phone.evaluate("""async () => {
            const notes = await (await navigator.serviceWorker.ready).getNotifications();
            const shown = notes.map((n) => ({title: n.title, body: n.body, tag: n.tag, url: n.data.url}));
            return shown.length ? shown : null;
        }""")
        if shown:
            break
        phone.wait_for_timeout(100)
    assert shown == [{"title": "Critical alert on M-1", "body": message["body"], "tag": f"alert-{alert.id}",
                      "url": f"/alerts/#alert-{alert.id}"}]


def test_turning_it_off_forgets_the_device(phone: Any, plant: Tenant, django_db_blocker: Any) -> None:
    phone.goto(phone.url)
    phone.get_by_role("button", name="Turn off on this device").click()
    phone.get_by_role("button", name="Turn on notifications on this device").wait_for()
    with django_db_blocker.unblock(), tenant_context(plant):
        assert not PushSubscription.objects.exists()


def test_a_device_removed_from_the_list_reads_as_off_and_turns_on_again(phone: Any, plant: Tenant,
                                                                      django_db_blocker: Any) -> None:
    phone.get_by_role("button", name="Turn on notifications on this device").click()
    phone.locator("[data-push-state]", has_text="On: this device").wait_for()
    phone.locator("table.push-devices").get_by_role("button", name="Remove").click()
    phone.locator("[data-push-state]", has_text="Off on this device").wait_for()  # the browser still holds it
    phone.get_by_role("button", name="Turn on notifications on this device").click()
    phone.locator("[data-push-state]", has_text="On: this device").wait_for()
    with django_db_blocker.unblock(), tenant_context(plant):
        assert PushSubscription.objects.count() == 1
