"""The low-stock email: a spare part fell to its reorder point (planning.stock marks the crossing).

Sent to the organization's owners, admins and engineers, the people who order parts and plan the
work, like an alert's email (maintenance.notifications). Once per crossing, even when the task is
delivered twice: the send is claimed with a conditional update first.
"""

from __future__ import annotations

from django.core.mail import send_mail
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.roles import Role
from planning.models import SparePart
from tenants.db import connection
from tenants.selectors import tenant_link

RECIPIENT_ROLES = (Role.OWNER, Role.ADMIN, Role.ENGINEER)


def _claimed(part_id: int) -> bool:
    """True for the one caller that may send the email of the part's current crossing."""
    return SparePart.objects.filter(id=part_id, low_since__isnull=False).filter(
        Q(low_notified_at__isnull=True) | Q(low_notified_at__lt=F("low_since"))).update(
        low_notified_at=timezone.now()) == 1


def low_stock_text(part: SparePart) -> tuple[str, str]:
    """The email's subject and body."""
    link = tenant_link(tenant=connection.tenant, path=f"{reverse('planning:index')}#parts")
    subject = f"Low stock: {part.name} ({part.in_stock} left, reorder at {part.reorder_point})"
    body = (f"{part.name} is down to {part.in_stock} in stock, at or below its reorder point of "
            f"{part.reorder_point}. An order placed today arrives in {part.lead_time_days} days.\n\n"
            f"Spare parts: {link}")
    return subject, body


def low_stock_notify(*, part_id: int) -> bool:
    """Email the part's low stock once per crossing. True when sent."""
    if not _claimed(part_id):
        return False
    part = SparePart.objects.get(id=part_id)
    subject, body = low_stock_text(part)
    recipients = list(Membership.objects.filter(tenant_id=connection.tenant.id, role__in=RECIPIENT_ROLES)
                      .values_list("user__email", flat=True))
    send_mail(subject=subject, message=body, from_email=None, recipient_list=recipients, fail_silently=False)
    return True
