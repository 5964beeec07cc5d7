"""Past due and lapsed subscriptions: a grace period with warnings, then read-only (402 on every
change) except paying and leaving; reads always work; scheduled scoring stops."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.access import PAST_DUE_WARNING, lapsed_allows, subscription_standing
from billing.models import Plan, Subscription
from tests.conftest import reading_after_last

# Rerun under a shifted clock (faketime) by `make test`: see scripts/shifted_clock_tests.sh.
pytestmark = pytest.mark.clock

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _subscription(**fields: Any) -> Subscription:
    return Subscription(plan=Plan(code="starter", name="Starter"), **fields)


def _set(world: Any, **fields: Any) -> None:
    Subscription.objects.filter(tenant=world.acme).update(**fields)  # rolled back after the test


def _past_due(world: Any, days: int) -> None:
    _set(world, status="past_due", past_due_since=timezone.now() - timedelta(days=days))


def test_the_standing_of_each_state(settings):
    settings.BILLING_GRACE_DAYS = 7
    assert subscription_standing(None, now=NOW).notice == ""
    assert subscription_standing(_subscription(status="active"), now=NOW).notice == ""
    fresh = subscription_standing(_subscription(status="past_due", past_due_since=NOW - timedelta(days=2)), now=NOW)
    assert fresh.past_due and not fresh.read_only
    assert fresh.notice == ("Your payment is past due since 18 Nov; update it at /billing/ before 25 Nov, "
                            "or the organization becomes read-only.")
    lapsed = subscription_standing(_subscription(status="past_due", past_due_since=datetime(2026, 11, 3, tzinfo=UTC)),
                                   now=NOW)
    assert lapsed.read_only and lapsed.notice == (
        "Your subscription is past due since 3 Nov; payments can be updated at /billing/. "
        "Until then the organization is read-only.")
    assert subscription_standing(_subscription(status="canceled"), now=NOW).read_only
    trial = _subscription(status="trialing", trial_ends_at=datetime(2025, 12, 30, tzinfo=UTC))
    assert subscription_standing(trial, now=NOW).notice.startswith("Your free trial ended on 30 Dec 2025;")
    trial.trial_ends_at = NOW + timedelta(days=1)
    assert not subscription_standing(trial, now=NOW).read_only


def test_what_a_read_only_tenant_may_still_change():
    allowed = [("POST", "/api/v1/billing/checkout/"), ("POST", "/billing/checkout/"), ("POST", "/accounts/logout/"),
               ("POST", "/api/v1/tenant/exports/"), ("DELETE", "/api/v1/tenant/"),
               ("POST", "/api/v1/tenant/deactivate/")]
    refused = [("PATCH", "/api/v1/tenant/"), ("POST", "/api/v1/machines/"), ("DELETE", "/api/v1/machines/1/"),
               ("POST", "/api/v1/predictions/")]
    assert all(lapsed_allows(method=m, path=p) for m, p in allowed)
    assert not any(lapsed_allows(method=m, path=p) for m, p in refused)
    assert lapsed_allows(method="POST", path="/organization/settings/", action="export")
    assert not lapsed_allows(method="POST", path="/organization/settings/", action="rename")


def test_after_the_grace_period_the_api_is_read_only(client_for, key_client, world):
    _past_due(world, 10)
    engineer = client_for("engineer")
    refused = engineer.post("/api/v1/machines/", {"name": "M-1", "machine_type": "x"}, content_type="application/json")
    assert refused.status_code == 402
    error = refused.json()["error"]
    assert error["code"] == "subscription_lapsed" and "read-only" in error["message"]
    assert error["details"]["status"] == "past_due" and error["details"]["upgrade_url"] == "/billing/"
    assert engineer.get("/api/v1/machines/").status_code == 200  # reads always work
    assert key_client(["write"]).post("/api/v1/readings/", [], content_type="application/json").status_code == 402
    assert key_client(["read"]).get("/api/v1/me/").status_code == 200
    owner = client_for("owner")
    assert owner.patch("/api/v1/tenant/", {"name": "X"}, content_type="application/json").status_code == 402
    assert owner.post("/api/v1/tenant/exports/").status_code == 202  # leaving with the data
    wrong = owner.delete("/api/v1/tenant/", {"confirm_slug": "nope"}, content_type="application/json")
    assert wrong.status_code == 400  # reached the service: deleting stays possible


def test_outsiders_learn_nothing_about_payments(client_for, world):
    _past_due(world, 10)
    assert client_for("outsider").post("/api/v1/machines/", {}, content_type="application/json").status_code == 404
    assert client_for(None).post("/api/v1/machines/", {}, content_type="application/json").status_code == 401
    assert client_for("viewer").post("/api/v1/machines/", {}, content_type="application/json").status_code == 403


def test_within_the_grace_period_writes_work_with_a_warning(client_for, world):
    _past_due(world, 2)
    response = client_for("engineer").post("/api/v1/machine-types/adopt/", {"key": "centrifugal-pump"},
                                           content_type="application/json")
    assert response.status_code == 201 and response["Warning"] == PAST_DUE_WARNING
    assert client_for("viewer").get("/api/v1/machines/")["Warning"] == PAST_DUE_WARNING
    assert "Warning" not in client_for("outsider").get("/api/v1/machines/")


def test_canceled_and_ended_trials_are_read_only_too(client_for, world):
    _set(world, status="canceled")
    assert client_for("engineer").post("/api/v1/machine-types/adopt/", {"key": "centrifugal-pump"},
                                       content_type="application/json").status_code == 402
    _set(world, status="trialing", trial_ends_at=timezone.now() - timedelta(hours=1))
    refused = client_for("engineer").post("/api/v1/machine-types/adopt/", {"key": "centrifugal-pump"},
                                          content_type="application/json")
    assert refused.status_code == 402 and "free trial ended" in refused.json()["error"]["message"]
    _set(world, status="active")
    assert client_for("engineer").post("/api/v1/machine-types/adopt/", {"key": "centrifugal-pump"},
                                       content_type="application/json").status_code == 201


def test_pages_show_the_banner_and_refuse_changes_when_read_only(client_for, world):
    _past_due(world, 2)
    page = client_for("viewer").get("/")
    assert page.status_code == 200 and b'id="billing-notice"' in page.content
    assert b"Your payment is past due since" in page.content
    _past_due(world, 10)
    admin = client_for("admin")
    refused = admin.post("/organization/settings/", {"action": "rename", "name": "Renamed"})
    assert refused.status_code == 402 and b"read-only" in refused.content
    exported = admin.post("/organization/settings/", {"action": "export"})
    assert exported.status_code == 302  # leaving with the data stays possible
    assert client_for("admin").get("/organization/settings/").status_code == 200
    _set(world, status="active")
    assert b'id="billing-notice"' not in client_for("viewer").get("/").content


@pytest.mark.django_db
def test_scheduled_scoring_stops_for_a_read_only_tenant(trained_motor, world):
    from predictions import tasks
    from predictions.models import Prediction

    def scheduled() -> int:
        with tenant_context(world.acme):
            return Prediction.objects.filter(machine_id=trained_motor.machine_id,
                                             source=Prediction.Source.SCHEDULED).count()

    before = scheduled()
    _past_due(world, 10)
    with tenant_context(world.acme):
        assert tasks.fleet_score_task.run() == 0
    assert scheduled() == before
    _past_due(world, 1)  # within the grace period: scoring goes on
    with tenant_context(world.acme):
        reading_after_last("ABB-101")  # rolled back with the test; beat's run scores what is new
        assert tasks.fleet_score_task.run() >= 1
    assert scheduled() == before + 1
