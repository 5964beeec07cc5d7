"""Usage beyond a plan's included predictions, reported to Stripe as meter events.

Per tenant and period (a calendar month, UTC, like `UsageCounter`): overage = max(0,
predictions - plan.included_predictions) on a plan that bills overage. `UsageReport` remembers
how much of it Stripe has; each run sends the difference as one meter event whose identifier,
`<tenant id>-<YYYY-MM>-<new total>`, is derived from what is being billed.

Never billed twice, never lost, in three short steps, each in its own transaction with the
report row locked (concurrent runs for one tenant queue behind each other):

1. flush: a `pending_overage` left by an earlier run (it crashed after or while sending) is sent
   again, same identifier and same value. Stripe refuses an identifier it already holds, which
   the gateway reports as "already recorded": either way it is now in Stripe, and the row says so;
2. stage: the new total is written to `pending_overage` and committed *before* sending, so a
   crash from here on is repaired by step 1 of the next run rather than re-sent as a new total;
3. flush again: send it and record it.

Stripe keeps identifiers unique for at least 24 hours; the job runs hourly, so a crashed report
is retried well inside that window.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db import transaction

from billing import stripe_gateway
from billing.models import Plan, Subscription, UsageCounter, UsageReport
from billing.selectors import subscription_with_plan
from billing.services import usage_period_start

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodReport:
    period_start: date
    overage: int  # predictions beyond the included amount so far
    sent: int  # units that reached Stripe in this run (resent duplicates count as 0)


def overage_for(*, plan: Plan, predictions: int) -> int:
    if not plan.allows_overage or plan.included_predictions is None:
        return 0
    return max(0, predictions - plan.included_predictions)


def meter_identifier(*, tenant_id: int, period_start: date, total: int) -> str:
    return f"{tenant_id}-{period_start:%Y-%m}-{total}"


def _period_end(period_start: date) -> datetime:
    following = (period_start.replace(day=28) + timedelta(days=4)).replace(day=1)
    return datetime(following.year, following.month, 1, tzinfo=UTC)


def period_predictions(*, tenant_id: int, period_start: date) -> int:
    counted = UsageCounter.objects.filter(tenant_id=tenant_id, period_start=period_start).values_list(
        "predictions", flat=True).first()
    return int(counted or 0)


def _event_time(period_start: date, now: datetime) -> int:
    # Usage of a period that has ended belongs to its last second, not to the next period.
    return int(min(now, _period_end(period_start) - timedelta(seconds=1)).timestamp())


def _flush(*, report_id: int, customer_id: str, now: datetime) -> int:
    """Send the pending event, if any, and record it; returns the units newly accepted."""
    with transaction.atomic():
        report = UsageReport.objects.select_for_update().get(pk=report_id)
        if report.pending_overage is None:
            return 0
        total, value = report.pending_overage, report.pending_overage - report.reported_overage
        identifier = meter_identifier(tenant_id=report.tenant_id, period_start=report.period_start, total=total)
        accepted = value > 0 and stripe_gateway.meter_event_create(
            customer_id=customer_id, value=value, identifier=identifier,
            timestamp=_event_time(report.period_start, now))
        report.reported_overage, report.pending_overage, report.last_identifier = total, None, identifier
        report.save(update_fields=["reported_overage", "pending_overage", "last_identifier", "updated_at"])
    return value if accepted else 0


def _stage(*, report_id: int, overage: int) -> bool:
    """Commit the new total as pending, before anything is sent. False: nothing new to send."""
    with transaction.atomic():
        report = UsageReport.objects.select_for_update().get(pk=report_id)
        if report.pending_overage is not None or overage <= report.reported_overage:
            return report.pending_overage is not None
        report.pending_overage = overage
        report.save(update_fields=["pending_overage", "updated_at"])
    return True


def usage_report_period(*, subscription: Subscription, period_start: date, now: datetime) -> PeriodReport:
    tenant_id = subscription.tenant_id
    predictions = period_predictions(tenant_id=tenant_id, period_start=period_start)
    overage = overage_for(plan=subscription.plan, predictions=predictions)
    report = UsageReport.objects.filter(tenant_id=tenant_id, period_start=period_start).first()
    if report is None and overage == 0:
        return PeriodReport(period_start, 0, 0)
    report = report or UsageReport.objects.get_or_create(tenant_id=tenant_id, period_start=period_start)[0]
    customer = subscription.stripe_customer_id
    sent = _flush(report_id=report.id, customer_id=customer, now=now)
    if _stage(report_id=report.id, overage=overage):
        sent += _flush(report_id=report.id, customer_id=customer, now=now)
    return PeriodReport(period_start, overage, sent)


def usage_report_tenant(*, tenant_id: int, now: datetime | None = None) -> list[PeriodReport]:
    """Report the previous and the current period (the previous one's last hour is reported
    after it ends). Safe to run twice, or twice at once."""
    moment = now or datetime.now(UTC)
    subscription = subscription_with_plan(tenant_id=tenant_id)
    if subscription is None or not subscription.stripe_customer_id:
        return []
    current = usage_period_start(moment)
    previous = usage_period_start(datetime.combine(current - timedelta(days=1), datetime.min.time(), UTC))
    reports = [usage_report_period(subscription=subscription, period_start=p, now=moment) for p in (previous, current)]
    for report in reports:
        if report.sent:
            logger.info("tenant %s %s: reported %s more predictions of overage (total %s)",
                        tenant_id, report.period_start, report.sent, report.overage)
    return reports


def reportable_tenant_ids() -> list[int]:
    """Active tenants with a Stripe customer: the only ones who can owe overage."""
    return list(Subscription.objects.exclude(stripe_customer_id="").filter(tenant__is_active=True)
                .order_by("tenant_id").values_list("tenant_id", flat=True))
