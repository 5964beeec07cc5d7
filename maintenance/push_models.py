"""Web Push (tenant schema): a person's browsers subscribed to push, what they want pushed, and one
delivery row per notification and browser.

The rows live in the tenant's schema, not in public with a tenant column: a browser subscribed
through organization B is a row in B's schema, so A's notifications, which read A's schema only,
can never reach it, whatever else the person belongs to. Users live in public, hence
`db_constraint=False` on `user` as on the work order's assignee.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PushKind(models.TextChoices):
    """The events a person may have pushed to them (maintenance/push.py says who gets which)."""

    ALERT_OPENED = "alert.opened", "New alert on my machines"
    ALERT_ESCALATED = "alert.escalated", "Alert escalated"
    WORK_ORDER_ASSIGNED = "work_order.assigned", "Work order assigned to me"


class PushSubscription(models.Model):
    """One browser (or installed app) that accepted push for a person, as its push service gave
    it: the endpoint to POST to and the keys to encrypt for (RFC 8291)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False,
                             related_name="+")
    # Push services hand out long capability URLs (FCM's run past 200 characters).
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=100)  # the browser's P-256 public key, base64url
    auth = models.CharField(max_length=40)  # the 16-byte authentication secret, base64url
    device = models.CharField(max_length=120, blank=True)  # "Chrome on Android", for the list of devices
    created_at = models.DateTimeField(auto_now_add=True)
    last_delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"push to user {self.user_id} ({self.device or 'browser'})"


class PushPreference(models.Model):
    """A person's choice for one kind. No row means on: people who subscribed want to hear."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False,
                             related_name="+")
    kind = models.CharField(max_length=32, choices=PushKind.choices)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind"], name="pushpreference_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.kind} {'on' if self.enabled else 'off'} for user {self.user_id}"


class PushDelivery(models.Model):
    """One notification to one browser. `key` names the notification ("alert.opened:12"); the
    unique pair makes a task that runs twice send nothing twice."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENDING = "sending"
        DELIVERED = "delivered"
        FAILED = "failed"

    subscription = models.ForeignKey(PushSubscription, on_delete=models.CASCADE, related_name="deliveries")
    key = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["subscription", "key"], name="pushdelivery_once")]

    def __str__(self) -> str:
        return f"{self.key} -> {self.subscription_id} ({self.status})"
