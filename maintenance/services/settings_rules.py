"""Alert rules and webhook endpoints: how a tenant tunes and routes its alerts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from engine.decision import alarm_rule_check
from maintenance.models import AlertRule, WebhookEndpoint
from pdm_saas import outbound
from pdm_saas.errors import Conflict, InvalidInput, NotFound


def alert_rule_save(*, rule_id: int | None = None, **fields: Any) -> AlertRule:
    rule = AlertRule() if rule_id is None else AlertRule.objects.filter(id=rule_id).first()
    if rule is None:
        raise NotFound("No such alert rule.")
    for name, value in fields.items():
        setattr(rule, name, value)
    if rule.machine_id and rule.machine_type_id:
        raise InvalidInput("A rule is for one machine or for one machine type, not both.")
    if not 0 < rule.warning_probability <= rule.critical_probability <= 1:
        raise InvalidInput("Need 0 < warning_probability <= critical_probability <= 1.",
                           details={"warning_probability": ["out of order"]})
    if rule.anomaly_threshold is not None and not 0.9 <= rule.anomaly_threshold <= 1:
        raise InvalidInput("anomaly_threshold is the share of normal windows less unusual: between 0.9 and 1, "
                           "or null to raise no anomaly alerts.", details={"anomaly_threshold": ["out of range"]})
    try:
        alarm_rule_check(k=rule.windows_k, n=rule.windows_n, clear=rule.windows_clear)
    except ValueError as exc:
        raise InvalidInput(f"windows_k of windows_n, cleared after windows_clear: {exc}.",
                           details={"windows_clear": [str(exc)]}) from exc
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError as exc:
        raise Conflict("A rule for this target already exists; edit it instead.", code="rule_exists") from exc
    return rule


@dataclass(frozen=True)
class IssuedEndpoint:
    endpoint: WebhookEndpoint
    secret: str  # shown once, to verify X-PDM-Signature


def webhook_endpoint_create(*, name: str, url: str, is_active: bool = True) -> IssuedEndpoint:
    """Save an endpoint whose URL reaches only public addresses (checked again at each delivery)."""
    try:
        outbound.url_vet(url)
    except outbound.OutboundRefused as exc:
        raise InvalidInput(f"The webhook URL cannot be used. {exc}", details={"url": [str(exc)]}) from exc
    secret = f"whsec_{secrets.token_urlsafe(24)}"
    endpoint = WebhookEndpoint.objects.create(name=name, url=url, secret=secret, is_active=is_active)
    return IssuedEndpoint(endpoint, secret)
