"""System checks for dangerous production settings (run by `manage.py check --deploy`, and
by every command when DEBUG is off)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def production_settings_check(app_configs: Any, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    if (settings.SECRET_KEY == settings.DEV_SECRET_KEY or len(settings.SECRET_KEY) < 40
            or "change-me" in settings.SECRET_KEY):
        problems.append(Error("DJANGO_SECRET_KEY is a placeholder or shorter than 40 characters.",
                              hint="Set DJANGO_SECRET_KEY to a long random value.", id="pdm.E001"))
    if settings.DEBUG:
        problems.append(Error("DJANGO_DEBUG is on.", hint="Set DJANGO_DEBUG=false in production.", id="pdm.E002"))
    if "*" in settings.ALLOWED_HOSTS:
        problems.append(Error("DJANGO_ALLOWED_HOSTS contains '*': any Host header would be routed.",
                              id="pdm.E003"))
    if settings.BASE_DOMAIN == "localhost":
        problems.append(Warning("PDM_BASE_DOMAIN is localhost.", id="pdm.W001"))
    if not settings.SESSION_COOKIE_SECURE:
        problems.append(Error("Session cookies are sent over plain HTTP.",
                              hint="Set DJANGO_SECURE_COOKIES=true.", id="pdm.E004"))
    if settings.CELERY_TASK_ALWAYS_EAGER:
        problems.append(Error("CELERY_TASK_ALWAYS_EAGER runs tasks inside web requests.", id="pdm.E005"))
    return problems


@register(Tags.security, deploy=True)
def metrics_token_check(app_configs: Any, **kwargs: Any) -> list[Any]:
    """In production `/metrics` should need the bearer token (docs/monitoring.md)."""
    if not settings.DEBUG and not settings.PDM_METRICS_TOKEN:
        return [Warning(
            "PDM_METRICS_TOKEN is empty: /metrics is served only to clients on loopback or private "
            "addresses that reach web directly (no forwarding header), and a proxy that adds no such "
            "header would expose it.",
            hint="Set PDM_METRICS_TOKEN to a long random value and give Prometheus the same token.",
            id="pdm.W002")]
    return []


@register()
def debug_off_check(app_configs: Any, **kwargs: Any) -> list[Any]:
    """Without DEBUG we are in production: refuse the development secret outright."""
    if not settings.DEBUG and settings.SECRET_KEY == settings.DEV_SECRET_KEY:
        return [Error("DJANGO_DEBUG is off but DJANGO_SECRET_KEY is the public development key.",
                      hint="Set DJANGO_SECRET_KEY in production, or DJANGO_DEBUG=true on a development "
                           "machine (the make targets do).", id="pdm.E010")]
    return []


@register()
def site_url_check(app_configs: Any, **kwargs: Any) -> list[Any]:
    """Every absolute link is PDM_SITE_URL with a tenant's host (tenants/schema_names.py): an address on
    another host, or with a path, would send invitations and resets somewhere we do not serve."""
    site = urlsplit(settings.SITE_URL)
    if site.scheme in ("http", "https") and site.hostname == settings.BASE_DOMAIN.lower() and not site.path:
        return []
    return [Error(f"PDM_SITE_URL ({settings.SITE_URL!r}) is not http(s)://{settings.BASE_DOMAIN}[:port].",
                  hint="Set PDM_SITE_URL to the public site's address, e.g. https://pdm.example.com or "
                       "http://localhost:8010, with the host of PDM_BASE_DOMAIN and no path.", id="pdm.E011")]


@register()
def push_key_check(app_configs: Any, **kwargs: Any) -> list[Any]:
    """A VAPID key that is set must be one (maintenance/push.py): a placeholder would fail every
    push at send time, quietly. Empty is fine: push is off."""
    from py_vapid import Vapid02

    problems: list[Any] = []
    if settings.PUSH_VAPID_PRIVATE_KEY:
        try:
            Vapid02.from_string(settings.PUSH_VAPID_PRIVATE_KEY)
        except Exception:  # noqa: BLE001 - py-vapid raises whatever its decoders raise
            problems.append(Error("PDM_VAPID_PRIVATE_KEY is not a VAPID private key.",
                                  hint="Make one with `manage.py vapid_keys`, or leave it empty to switch Web Push "
                                       "off (docs/deploy.md, \"Web Push keys\").", id="pdm.E012"))
    if not str(settings.PUSH_VAPID_SUBJECT).startswith(("mailto:", "https://")):
        problems.append(Error("PDM_VAPID_SUBJECT must be a mailto: or https:// address (RFC 8292).", id="pdm.E013"))
    return problems
