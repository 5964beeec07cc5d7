"""The alarm history's filters, read from a query string in one place for the page, the API
(`/api/v1/alerts/`) and both exports, so that an export holds exactly the rows the page lists.

The period is a range of calendar days, `from` and `to` both included, read in a time zone: the
organization's (Settings), or the request's `tz`. A day runs from one local midnight to the next,
so it lasts 23 or 25 hours when the clocks change (docs/alerts.md, "Alarm history"). Alerts are in
the period when they *opened* in it.

A value that cannot be read is refused, naming the filter and what it takes: a typo must not
turn into "no alerts" or "all alerts" without the user noticing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from maintenance import selectors
from maintenance.models import Alert
from maintenance.selectors import AlarmFilters
from pdm_saas.errors import InvalidInput
from tenants.time_zones import DEFAULT as DEFAULT_ZONE
from tenants.time_zones import time_zones

# What people read for each state: the stored status, except "handled", which is an active alert
# a live work order is on (Alert.display_status), and "active", any alert not resolved yet.
STATES: dict[str, str] = {
    "active": "Not resolved (open, acknowledged or being handled)",
    "open": "Open, nobody on it",
    "acknowledged": "Acknowledged",
    "handled": "Being handled (a work order is on it)",
    "resolved": "Resolved",
}
KINDS: dict[str, str] = {Alert.Kind.FAILURE: "Failure risk", Alert.Kind.ANOMALY: "Unusual readings"}
SEVERITIES: dict[str, str] = dict(Alert.Severity.choices)
ORDERINGS: dict[str, str] = {"-opened_at": "Newest first", "opened_at": "Oldest first"}
FIRST_YEAR, LAST_YEAR = 1900, 2200  # the reading store's range; also keeps day arithmetic in bounds
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")  # date.fromisoformat alone also takes 20260329 and 2026-W13-1
TEXT_LIMIT = 120  # a machine name's and a failure mode's column width, with room


def alarm_filters_parse(params: Mapping[str, str], *, time_zone: str) -> AlarmFilters:
    """Read the filters from a query string (`machine`, `failure_mode`, `kind`, `severity`,
    `state`, `from`, `to`, `tz`, `ordering`). `time_zone` is the organization's ("" when never
    set: UTC). Raises InvalidInput naming every filter it could not read."""
    errors: dict[str, str] = {}
    zone = _zone(params.get("tz", ""), time_zone, errors)
    first = _day(params, "from", errors)
    last = _day(params, "to", errors)
    if first and last and last < first:
        errors["to"] = f"The period ends ({last}) before it starts ({first})."
    machine = _text(params, "machine", errors)
    filters = AlarmFilters(
        machine=machine, machine_id=_machine_id(machine, errors), failure_mode=_failure_mode(params, errors),
        kind=_choice(params, "kind", KINDS, errors), severity=_choice(params, "severity", SEVERITIES, errors),
        state=_choice(params, "state", STATES, errors),
        opened_from=local_midnight(first, zone) if first else None,
        opened_before=local_midnight(last + timedelta(days=1), zone) if last else None,
        oldest_first=_choice(params, "ordering", ORDERINGS, errors) == "opened_at", time_zone=zone)
    if errors:
        raise InvalidInput(" ".join(errors.values()), code="invalid_filter",
                           details={name: [message] for name, message in errors.items()})
    return filters


def local_midnight(day: date, zone: str) -> datetime:
    """The first instant of `day` in `zone`, in UTC. Where a zone skips midnight (its clocks jump
    from 23:59 to 01:00), fold 0 reads 00:00 at the old offset: the instant of the jump, which is
    when that day starts."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def _machine_id(name: str, errors: dict[str, str]) -> int | None:
    machine_id = selectors.machine_id_by_name(name=name) if name else None
    if name and machine_id is None:
        errors["machine"] = f"No machine is named '{name}' (filter 'machine'); give a machine's name."
    return machine_id


def _failure_mode(params: Mapping[str, str], errors: dict[str, str]) -> str:
    mode = _text(params, "failure_mode", errors)
    if mode and mode not in selectors.alarm_failure_modes():
        errors["failure_mode"] = (f"No machine type here has a failure mode named '{mode}' (filter 'failure_mode'); "
                                  "give a mode's name as /api/v1/machine-types/ lists them.")
        return ""
    return mode


def _zone(given: str, organization: str, errors: dict[str, str]) -> str:
    if not given:
        return organization or DEFAULT_ZONE
    if given not in time_zones():
        errors["tz"] = f"Unknown time zone '{given[:64]}' (filter 'tz'); use a name such as Europe/Berlin."
        return DEFAULT_ZONE
    return given


def _day(params: Mapping[str, str], name: str, errors: dict[str, str]) -> date | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    try:
        day = date.fromisoformat(value) if DAY.fullmatch(value) else None
    except ValueError:  # 2026-02-30
        day = None
    if day is None or not FIRST_YEAR <= day.year <= LAST_YEAR:
        errors[name] = (f"'{value[:40]}' is not a date (filter '{name}'); use YYYY-MM-DD, "
                        f"a year from {FIRST_YEAR} to {LAST_YEAR}.")
        return None
    return day


def _choice(params: Mapping[str, str], name: str, choices: Mapping[str, str], errors: dict[str, str]) -> str:
    value = params.get(name, "").strip()
    if value and value not in choices:
        errors[name] = f"'{value[:40]}' is not a {name.replace('_', ' ')} (filter '{name}'); use one of: " \
                       f"{', '.join(choices)}."
        return ""
    return value


def _text(params: Mapping[str, str], name: str, errors: dict[str, str]) -> str:
    value = params.get(name, "").strip()
    if len(value) > TEXT_LIMIT or any(ord(char) < 32 for char in value):
        errors[name] = f"The filter '{name}' takes a name of at most {TEXT_LIMIT} printable characters."
        return ""
    return value
