"""Writes of the insights app: a member's weekly-summary preference, and sending the weekly
summary email once per tenant and ISO week."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Membership
from accounts.roles import Role
from insights import selectors
from insights.models import SummaryPreference, WeeklySummary
from tenants.db import connection
from tenants.schema_names import host_for_slug, tenant_url

SUMMARY_ROLES = (Role.ADMIN, Role.OWNER)


def summary_preference_set(*, user_id: int, weekly_email: bool) -> SummaryPreference:
    preference, _ = SummaryPreference.objects.update_or_create(user_id=user_id,
                                                               defaults={"weekly_email": weekly_email})
    return preference


def summary_recipients() -> list[str]:
    """The emails of this tenant's admins and owners who did not opt out."""
    opted_out = set(SummaryPreference.objects.filter(weekly_email=False).values_list("user_id", flat=True))
    members = (Membership.objects.filter(tenant=connection.tenant, role__in=SUMMARY_ROLES, user__is_active=True)
               .select_related("user").order_by("user__email"))
    return [m.user.email for m in members if m.user_id not in opted_out]


def week_start_of(moment: datetime) -> date:
    day = timezone.localdate(moment)
    return day - timedelta(days=day.weekday())


def weekly_summary_send(*, now: datetime | None = None) -> int:
    """Email this week's summary to the recipients, once per ISO week: the `WeeklySummary` row
    (unique week) is written in the same transaction as the sending, so a second run that week
    sends nothing, and a failed send is retried by the next run. Returns the emails sent."""
    now = now or timezone.now()
    week = week_start_of(now)
    with transaction.atomic():
        row, created = WeeklySummary.objects.select_for_update().get_or_create(week_start=week)
        if not created:
            return 0
        recipients = summary_recipients()
        if recipients:
            summary = selectors.weekly_summary(now=now)
            # The link opens the page on the email's period, so it shows the same figures.
            path = f"/insights/?days={summary['period'].days}"
            context = {**summary, "organization": connection.tenant.name,
                       "url": tenant_url(host_for_slug(connection.tenant.slug), path), "week": week}
            subject = f"{connection.tenant.name}: weekly maintenance summary, week of {week:%d %b %Y}"
            text = render_to_string("insights/weekly_summary.txt", context)
            html = render_to_string("insights/weekly_summary.html", context)
            messages = []
            for email in recipients:  # one message each: recipients do not see each other
                message = EmailMultiAlternatives(subject=subject, body=text, to=[email])
                message.attach_alternative(html, "text/html")
                messages.append(message)
            get_connection().send_messages(messages)
        row.recipients = len(recipients)
        row.save(update_fields=["recipients"])
    return len(recipients)
