"""Overage reported to Stripe's meter: exactly once, across retries, crashes and concurrent runs."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
import redis
import time_machine
from django.db import connection as default_connection
from django.db import connections

from billing import reporting, stripe_gateway
from billing.models import Plan, Subscription, UsageCounter, UsageReport
from billing.tasks import usage_report_dispatch, usage_report_task
from pdm_saas.celery import app as celery_app
from tests.billing.conftest import usage_set
from tests.live import free_port

# Rerun under a shifted clock (faketime) by `make test`: see scripts/shifted_clock_tests.sh.
pytestmark = pytest.mark.clock

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PERIOD = date(2026, 11, 1)
CUSTOMER = "cus_acme_usage"


def _on_plan(tenant: Any, code: str, customer: str = CUSTOMER) -> Subscription:
    Subscription.objects.filter(tenant=tenant).update(plan=Plan.objects.get(code=code), status="active",
                                                       stripe_customer_id=customer)
    return Subscription.objects.get(tenant=tenant)


def _count(tenant: Any, predictions: int, period: date = PERIOD) -> None:
    usage_set(tenant.id, predictions, period)


def _report(tenant: Any, now: datetime = NOW) -> int:
    return sum(r.sent for r in reporting.usage_report_tenant(tenant_id=tenant.id, now=now))


def test_overage_is_sent_once_then_only_what_is_new(stripe, world):
    _on_plan(world.acme, "starter")  # 10,000 included
    _count(world.acme, 10_250)
    assert _report(world.acme) == 250
    assert _report(world.acme) == 0  # nothing new: nothing sent
    _count(world.acme, 10_400)
    assert _report(world.acme) == 150
    assert [(e["identifier"], e["payload"]["value"]) for e in stripe.meter_events] == [
        (f"{world.acme.id}-2026-11-250", "250"), (f"{world.acme.id}-2026-11-400", "150")]
    event = stripe.meter_events[0]
    assert event["event_name"] == "pdm_predictions" and event["payload"]["stripe_customer_id"] == CUSTOMER
    assert event["timestamp"] == int(NOW.timestamp())
    report = UsageReport.objects.get(tenant=world.acme, period_start=PERIOD)
    assert (report.reported_overage, report.pending_overage) == (400, None)


def test_within_the_included_amount_or_without_overage_nothing_is_sent(stripe, world):
    _on_plan(world.acme, "starter")
    _count(world.acme, 9_999)
    assert _report(world.acme) == 0
    _on_plan(world.acme, "trial")  # no overage: predictions stop at the limit instead
    _count(world.acme, 5_000)
    assert _report(world.acme) == 0
    Subscription.objects.filter(tenant=world.acme).update(stripe_customer_id="")
    assert reporting.usage_report_tenant(tenant_id=world.acme.id, now=NOW) == []
    assert stripe.meter_events == [] and stripe.requests == []


def test_the_previous_periods_last_usage_is_billed_in_that_period(stripe, world):
    _on_plan(world.acme, "growth")  # 100,000 included
    _count(world.acme, 100_010, period=date(2026, 10, 1))
    assert _report(world.acme, now=datetime(2026, 11, 1, 0, 30, tzinfo=UTC)) == 10
    (event,) = stripe.meter_events
    assert event["timestamp"] == int(datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC).timestamp())
    assert event["identifier"] == f"{world.acme.id}-2026-10-10"


class Crash(Exception):
    pass


@pytest.fixture
def crash_after_sending(monkeypatch) -> Iterator[list[bool]]:
    """The next meter event reaches Stripe, then the worker dies before saving."""
    real = stripe_gateway.meter_event_create
    armed = [True]

    def send_then_die(**kwargs: Any) -> bool:
        accepted = real(**kwargs)
        if armed[0]:
            armed[0] = False
            raise Crash("killed after the gateway call")
        return accepted

    monkeypatch.setattr(stripe_gateway, "meter_event_create", send_then_die)
    yield armed


def test_a_report_retried_after_a_crash_bills_exactly_once(stripe, world, crash_after_sending):
    _on_plan(world.acme, "starter")
    _count(world.acme, 10_300)
    with pytest.raises(Crash):
        _report(world.acme)
    report = UsageReport.objects.get(tenant=world.acme, period_start=PERIOD)
    assert (report.reported_overage, report.pending_overage) == (0, 300)  # sent, not yet recorded
    assert _report(world.acme) == 0  # the resend is refused as a duplicate: already billed
    assert len(stripe.calls("/v1/billing/meter_events")) == 2
    assert stripe.metered_total(CUSTOMER) == 300
    report.refresh_from_db()
    assert (report.reported_overage, report.pending_overage) == (300, None)


def test_usage_arriving_between_the_crash_and_the_retry_is_billed_once_too(stripe, world, crash_after_sending):
    _on_plan(world.acme, "starter")
    _count(world.acme, 10_300)
    with pytest.raises(Crash):
        _report(world.acme)
    _count(world.acme, 10_500)  # more predictions before the next run
    assert _report(world.acme) == 200
    assert stripe.metered_total(CUSTOMER) == 500
    assert [e["identifier"] for e in stripe.meter_events] == [f"{world.acme.id}-2026-11-300",
                                                             f"{world.acme.id}-2026-11-500"]


def test_a_crash_before_stripe_answers_is_resent_and_counted(stripe, world, settings):
    _on_plan(world.acme, "starter")
    _count(world.acme, 10_050)
    settings.STRIPE_API_BASE = f"http://127.0.0.1:{free_port()}"  # nothing listens: the call never arrives
    try:
        with pytest.raises(stripe_gateway.BillingUnavailable):
            _report(world.acme)
    finally:
        settings.STRIPE_API_BASE = stripe.url
    report = UsageReport.objects.get(tenant=world.acme, period_start=PERIOD)
    assert (report.reported_overage, report.pending_overage) == (0, 50) and stripe.meter_events == []
    assert _report(world.acme) == 50
    assert stripe.metered_total(CUSTOMER) == 50


@pytest.fixture
def committed_globex(world, django_db_blocker, stripe_settings) -> Iterator[Any]:
    """Globex on Starter with committed usage (threads need committed rows); restored after."""
    with django_db_blocker.unblock():
        before = Subscription.objects.get(tenant=world.globex)
        _on_plan(world.globex, "starter", customer="cus_globex")
        _count(world.globex, 10_700)
        try:
            yield world.globex
        finally:
            UsageReport.objects.filter(tenant=world.globex).delete()
            UsageCounter.objects.filter(tenant=world.globex).delete()
            before.save()


@time_machine.travel(NOW)  # the task reads the clock to pick the period the usage was counted in
def test_concurrent_and_duplicate_runs_bill_exactly_once(committed_globex, stripe_settings, django_db_blocker):
    stripe = stripe_settings
    results: list[int] = []
    barrier = threading.Barrier(4)

    def run() -> None:
        try:
            barrier.wait()
            results.append(_report(committed_globex))
        finally:
            connections.close_all()

    with django_db_blocker.unblock():
        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(results) == [0, 0, 0, 700]
        assert usage_report_task.run(committed_globex.id) == 0  # the task, delivered again: nothing new
        assert stripe.metered_total("cus_globex") == 700 and len(stripe.meter_events) == 1
        report = UsageReport.objects.get(tenant=committed_globex, period_start=PERIOD)
        assert report.reported_overage == 700
    default_connection.close()


@pytest.fixture
def broker_queue(settings: Any) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The messages waiting in the default queue of this run's broker (its own Redis database,
    tests/env_plugin.py), oldest first. kombu's Redis transport keeps each queue as a list named
    after it; the queue is emptied before and after so nothing reaches another test's worker."""
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = settings.CELERY_TASK_DEFAULT_QUEUE
    client.delete(queue)

    def messages() -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in reversed(client.lrange(queue, 0, -1))]  # LPUSHed

    try:
        yield messages
    finally:
        client.delete(queue)
        client.close()


def test_beat_dispatches_one_task_per_tenant_with_a_customer(stripe, world, broker_queue):
    _on_plan(world.acme, "starter")
    Subscription.objects.filter(tenant=world.globex).update(stripe_customer_id="")
    assert usage_report_dispatch() == 1
    (message,) = broker_queue()
    headers = message["headers"]
    args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
    assert headers["task"] == "billing.tasks.usage_report_task" and (args, kwargs) == ([world.acme.id], {})
    assert headers["_schema_name"] == world.acme.schema_name


def test_beat_schedules_the_dispatch():
    entry = celery_app.conf.beat_schedule["report-usage-to-stripe"]
    assert entry["task"] == "billing.tasks.usage_report_dispatch"
    assert entry["schedule"].total_seconds() == 3600
