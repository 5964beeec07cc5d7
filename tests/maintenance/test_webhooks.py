"""Alert notifications to a real HTTP endpoint on this machine: signed, retried, recorded."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.core import mail
from django.test import override_settings
from django_tenants.utils import tenant_context

from maintenance.models import WebhookDelivery
from maintenance.notifications import WebhookFailed, alert_notify, webhook_deliver
from maintenance.services.alerts import alert_raise

JSON = "application/json"
# The receivers here listen on 127.0.0.1, which only the operator allowance for on-premises
# installs lets webhooks reach; test_webhook_to_loopback_is_refused_by_default shows the default.
allow_loopback = override_settings(OUTBOUND_ALLOW_PRIVATE_TARGETS=True)


class Receiver:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []  # answers to give, in order; then 200
        self.location = ""  # sent as Location when set

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": self.headers, "body": body})  # case-insensitive
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()
    server = HTTPServer(("127.0.0.1", 0), state.handler())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def _endpoint(client_for, url: str) -> str:
    created = client_for("admin").post("/api/v1/webhooks/", {"name": "ops", "url": url}, content_type=JSON)
    assert created.status_code == 201
    return created.json()["secret"]


@allow_loopback
@override_settings(SITE_URL="http://localhost:8010")  # the server runs on another port than 8000
def test_alert_is_mailed_and_posted_signed_in_slack_format(client_for, motor, world, receiver):
    state, url = receiver
    secret = _endpoint(client_for, url)
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.93).alert
        assert alert_notify(alert_id=alert.id, event="alert.opened") == 1
        delivery = WebhookDelivery.objects.get()
        assert webhook_deliver(delivery_id=delivery.id) == "delivered"
        assert webhook_deliver(delivery_id=delivery.id) == "skipped"  # duplicate task: not sent twice
    assert len(state.requests) == 1
    sent = state.requests[0]
    payload = json.loads(sent["body"])
    assert payload["text"].startswith("[CRITICAL] Motor-001") and payload["blocks"]
    assert payload["pdm"]["tenant"] == "acme" and payload["pdm"]["failure_mode"] == "bearing_wear"
    assert payload["pdm"]["kind"] == "failure"  # or "anomaly": readings unlike the machine's normal
    timestamp, signature = (part.split("=", 1)[1] for part in sent["headers"]["X-PDM-Signature"].split(","))
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + sent["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    assert set(mail.outbox[-1].to) == {"owner@acme.test", "admin@acme.test", "engineer@acme.test"}
    # Both lead to the alert on the organization's host, at the configured site address.
    link = f"http://acme.localhost:8010/alerts/#alert-{alert.id}"
    assert payload["pdm"]["url"] == link and f"Open the alert: {link}" in mail.outbox[-1].body


@allow_loopback
def test_server_errors_are_retried_client_errors_are_final(client_for, motor, world, receiver):
    state, url = receiver
    _endpoint(client_for, url)
    state.statuses = [503, 400]
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.93).alert
        alert_notify(alert_id=alert.id, event="alert.opened")
        delivery = WebhookDelivery.objects.get()
        with pytest.raises(WebhookFailed):
            webhook_deliver(delivery_id=delivery.id)  # 503: the task retries with backoff
        assert webhook_deliver(delivery_id=delivery.id) == "failed"  # 400: no point retrying
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts, delivery.response_status) == ("failed", 2, 400)


@allow_loopback
def test_unreachable_endpoint_is_a_retryable_failure(client_for, motor, world):
    _endpoint(client_for, "http://127.0.0.1:9/nothing-listens")
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.93).alert
        alert_notify(alert_id=alert.id, event="alert.opened")
        delivery = WebhookDelivery.objects.get()
        with pytest.raises(WebhookFailed):
            webhook_deliver(delivery_id=delivery.id)
        delivery.refresh_from_db()
        assert delivery.status == "pending" and "Connection refused" in delivery.last_error


def test_webhooks_are_admin_only_and_per_tenant(client_for, key_client, world):
    assert client_for("engineer").get("/api/v1/webhooks/").status_code == 403
    client_for("admin").post("/api/v1/webhooks/", {"name": "ops", "url": "https://93.184.215.14/h"}, content_type=JSON)
    listed = client_for("admin").get("/api/v1/webhooks/").json()["results"]
    assert [w["name"] for w in listed] == ["ops"] and "secret" not in listed[0]
    globex = key_client(["admin"], tenant=world.globex, host="acme.localhost")
    assert globex.get("/api/v1/webhooks/").json()["count"] == 0
    bad = client_for("admin").post("/api/v1/webhooks/", {"name": "x", "url": "ftp://x"}, content_type=JSON)
    assert bad.status_code == 400


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/hook", "http://localhost:6379/",
                                 "http://169.254.169.254/latest/meta-data/", "http://[::ffff:10.0.0.1]/",
                                 "http://[::ffff:7f00:1]/"])
def test_webhook_to_an_inside_address_is_refused_with_a_clear_message(client_for, url):
    answer = client_for("admin").post("/api/v1/webhooks/", {"name": "x", "url": url}, content_type=JSON)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["message"].startswith("The webhook URL cannot be used.") and "not allowed" in error["message"]
    assert "resolves to" in error["details"]["url"][0]
    assert client_for("admin").get("/api/v1/webhooks/").json()["count"] == 0  # nothing saved


def test_webhook_to_loopback_is_refused_by_default_even_if_saved(client_for, motor, world, receiver):
    state, url = receiver
    with allow_loopback:
        _endpoint(client_for, url)  # saved under the allowance, which the operator then withdrew
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.93).alert
        alert_notify(alert_id=alert.id, event="alert.opened")
        delivery = WebhookDelivery.objects.get()
        assert webhook_deliver(delivery_id=delivery.id) == "failed"  # final: no retry can fix it
        delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_error.startswith("Refused: 127.0.0.1 resolves to")
    assert state.requests == []


@allow_loopback
def test_redirect_to_loopback_is_a_failed_delivery_and_never_followed(client_for, motor, world, receiver):
    """Even where loopback receivers are allowed, a redirect is not followed: the target it points
    to (here another loopback server standing in for an internal service) is never hit."""
    inside, inside_url = receiver
    redirector = Receiver()
    redirector.statuses = [302]
    redirector.location = inside_url.replace("/hook", "/internal")
    server = HTTPServer(("127.0.0.1", 0), redirector.handler())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        _endpoint(client_for, f"http://127.0.0.1:{server.server_address[1]}/hook")
        with tenant_context(world.acme):
            alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.93).alert
            alert_notify(alert_id=alert.id, event="alert.opened")
            delivery = WebhookDelivery.objects.get()
            assert webhook_deliver(delivery_id=delivery.id) == "failed"
            delivery.refresh_from_db()
    finally:
        server.shutdown()
    assert (delivery.status, delivery.response_status, delivery.attempts) == ("failed", 302, 1)
    assert "redirects are not followed" in delivery.last_error and redirector.location in delivery.last_error
    assert len(redirector.requests) == 1 and inside.requests == []


def test_webhook_created_inactive_receives_nothing(client_for, motor, world):
    created = client_for("admin").post("/api/v1/webhooks/", {"name": "later", "url": "https://93.184.215.14/h",
                                                             "is_active": False}, content_type=JSON)
    assert created.status_code == 201 and created.json()["endpoint"]["is_active"] is False
    with tenant_context(world.acme):
        alert = alert_raise(machine_id=motor.id, failure_mode="bearing_wear", probability=0.93).alert
        assert alert_notify(alert_id=alert.id, event="alert.opened") == 0
        assert not WebhookDelivery.objects.exists()
