"""`{{ when|relative_time }}`: "5 minutes ago" that keeps moving in the browser.

The filter writes `<time datetime="<ISO 8601>" data-relative title="<date>">5 minutes ago</time>`;
static/js/relative_time.js re-words every such element from the browser's clock, so a page left
open does not say "2 minutes ago" an hour later. Both sides use the same units and words
(`phrase` here, `phrase` there). Registered as a template library in settings (TEMPLATES
"libraries"): `{% load relative_time %}`.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()

# Largest unit first; a month is 30 days and a year 365, as in the script.
UNITS = (("year", 365 * 86400), ("month", 30 * 86400), ("week", 7 * 86400),
         ("day", 86400), ("hour", 3600), ("minute", 60))


def phrase(seconds: float) -> str:
    """How long ago (positive) or ahead (negative) `seconds` is, in its largest whole unit."""
    span = abs(seconds)
    if span < 60:
        return "just now" if seconds >= 0 else "in under a minute"
    unit, size = next((unit, size) for unit, size in UNITS if span >= size)
    count = int(span // size)
    words = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{words} ago" if seconds >= 0 else f"in {words}"


@register.filter
def relative_time(value: datetime | None, empty: str = "") -> str | SafeString:
    if value is None:
        return empty
    seconds = (timezone.now() - value).total_seconds()
    return format_html('<time datetime="{}" data-relative title="{}">{}</time>',
                       value.isoformat(), timezone.localtime(value).strftime("%Y-%m-%d %H:%M %Z"),
                       phrase(seconds))
