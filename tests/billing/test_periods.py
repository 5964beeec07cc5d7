"""Billing periods at the edges of the calendar: the last second of a month, of a year and of a
leap day, each with the clock pinned (time-machine), so the figures hold whatever day it is."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine

from billing import reporting
from billing.access import subscription_standing
from billing.models import Plan, Subscription
from billing.services import usage_period_start, usage_predictions, usage_record_predictions

pytestmark = pytest.mark.clock

# (the last second of a period, the period it belongs to, the next period)
EDGES = [
    (datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC), date(2027, 1, 1), date(2027, 2, 1)),  # month end
    (datetime(2027, 4, 30, 23, 59, 59, tzinfo=UTC), date(2027, 4, 1), date(2027, 5, 1)),  # a 30-day month
    (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), date(2026, 12, 1), date(2027, 1, 1)),  # year end
    (datetime(2028, 2, 29, 23, 59, 59, tzinfo=UTC), date(2028, 2, 1), date(2028, 3, 1)),  # leap day
    (datetime(2027, 2, 28, 23, 59, 59, tzinfo=UTC), date(2027, 2, 1), date(2027, 3, 1)),  # no leap day
]
IDS = ["month-end", "30-day-month", "year-end", "leap-day", "february"]


@pytest.mark.parametrize(("last_second", "period", "following"), EDGES, ids=IDS)
def test_the_clock_decides_the_period_up_to_its_last_second(last_second, period, following):
    with time_machine.travel(last_second, tick=False):
        assert usage_period_start() == period
    with time_machine.travel(last_second + timedelta(seconds=1), tick=False):
        assert usage_period_start() == following


@pytest.mark.parametrize(("last_second", "period", "following"), EDGES, ids=IDS)
def test_usage_of_an_ended_period_is_billed_at_its_last_second(last_second, period, following):
    # A report sent days into the next period still dates the usage inside its own period, or
    # Stripe would put it on the next invoice.
    late = datetime.combine(following, datetime.min.time(), tzinfo=UTC) + timedelta(days=3)
    assert reporting._event_time(period, late) == int(last_second.timestamp())
    assert reporting._event_time(period, last_second - timedelta(hours=1)) == int(last_second.timestamp()) - 3600


@pytest.mark.parametrize(("last_second", "period", "following"), EDGES, ids=IDS)
def test_predictions_counted_across_midnight_land_in_their_own_periods(db, world, last_second, period, following):
    tenant = world.acme.id
    with time_machine.travel(last_second, tick=False):
        usage_record_predictions(tenant_id=tenant, count=7)
    with time_machine.travel(last_second + timedelta(seconds=1), tick=False):
        usage_record_predictions(tenant_id=tenant, count=5)
        assert usage_predictions(tenant_id=tenant) == 5  # the new period starts from zero
    assert usage_predictions(tenant_id=tenant, at=last_second) == 7
    assert reporting.period_predictions(tenant_id=tenant, period_start=period) == 7
    assert reporting.period_predictions(tenant_id=tenant, period_start=following) == 5


def _past_due(since: datetime) -> Subscription:
    return Subscription(plan=Plan(code="starter", name="Starter"), status="past_due", past_due_since=since)


@pytest.mark.parametrize(("since", "read_only_from", "notices"), [
    # Seven days of grace over a leap day: Feb 29 counts as a day.
    (datetime(2028, 2, 25, 9, tzinfo=UTC), datetime(2028, 3, 3, 9, tzinfo=UTC),
     {datetime(2028, 2, 29, 12, tzinfo=UTC): "since 25 Feb; update it at /billing/ before 3 Mar,",
      datetime(2028, 3, 3, 8, 59, 59, tzinfo=UTC): "since 25 Feb; update it at /billing/ before 3 Mar,"}),
    # Over a year end: a date of another year than today's is shown with its year.
    (datetime(2026, 12, 28, 9, tzinfo=UTC), datetime(2027, 1, 4, 9, tzinfo=UTC),
     {datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC): "since 28 Dec; update it at /billing/ before 4 Jan 2027,",
      datetime(2027, 1, 1, tzinfo=UTC): "since 28 Dec 2026; update it at /billing/ before 4 Jan,"}),
])
def test_grace_period_over_a_leap_day_and_a_year_end(settings: Any, since, read_only_from, notices):
    settings.BILLING_GRACE_DAYS = 7
    for moment, notice in notices.items():
        with time_machine.travel(moment, tick=False):
            standing = subscription_standing(_past_due(since))
            assert standing.past_due and not standing.read_only
            assert notice in standing.notice
    with time_machine.travel(read_only_from, tick=False):
        assert subscription_standing(_past_due(since)).read_only
