"""The weekly summary email: recipients, opt-out, once per week, and its beat schedule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from django_tenants.utils import tenant_context

from insights.models import WeeklySummary
from insights.services import summary_preference_set, weekly_summary_send
from insights.tasks import weekly_summary_task
from maintenance.models import Alert
from pdm_saas.celery import app as celery_app

pytestmark = [pytest.mark.django_db, pytest.mark.clock]  # clock: see scripts/shifted_clock_tests.sh
MONDAY = timezone.make_aware(datetime(2026, 11, 23, 7, 0))


def test_admins_and_owners_get_it_once_a_week(world: Any, motor: Any) -> None:
    with tenant_context(world.acme):
        Alert.objects.create(machine=motor, failure_mode="x", severity="warning", probability=0.6, title="t")
        assert weekly_summary_send(now=MONDAY) == 2
        assert weekly_summary_send(now=MONDAY + timedelta(days=3)) == 0  # same week: nothing
        assert WeeklySummary.objects.get().recipients == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["admin@acme.test", "owner@acme.test"]
    message = mail.outbox[0]
    assert "Acme Mills" in message.subject
    assert "Open alerts: 1" in message.body
    assert "Failures caught before they happened: 0" in message.body
    assert "http://acme." in message.body and "/insights/?days=7" in message.body  # the email's period
    html, kind = message.alternatives[0]  # type: ignore[attr-defined]
    assert kind == "text/html" and "Open alerts: <b>1</b>" in html
    with tenant_context(world.acme):
        assert weekly_summary_send(now=MONDAY + timedelta(days=7)) == 2  # next week
    assert len(mail.outbox) == 4


def test_opt_out(world: Any) -> None:
    with tenant_context(world.acme):
        summary_preference_set(user_id=world.admin.id, weekly_email=False)
        summary_preference_set(user_id=world.owner.id, weekly_email=True)
        assert weekly_summary_send(now=MONDAY) == 1
    assert [m.to for m in mail.outbox] == [["owner@acme.test"]]


def test_task_runs_in_its_tenant_and_twice_sends_once(world: Any) -> None:
    headers = {"_schema_name": world.globex.schema_name}
    with tenant_context(world.globex):
        assert weekly_summary_task.apply(headers=headers).get() == 1
        assert weekly_summary_task.apply(headers=headers).get() == 0
    assert [m.to for m in mail.outbox] == [["owner@globex.test"]]
    with tenant_context(world.acme):
        assert not WeeklySummary.objects.exists()  # globex's week, not acme's


def test_beat_schedule(settings: Any) -> None:
    entry = celery_app.conf.beat_schedule["weekly-summary"]
    assert entry["task"] == "tenants.tasks.tenants_dispatch"
    assert entry["args"] == ["insights.tasks.weekly_summary_task"]
    assert entry["schedule"].day_of_week == {1}  # Monday by default (crontab counts from Sunday)
