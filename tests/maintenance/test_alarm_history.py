"""The alarm history's filters and reads (maintenance/alarm_filters.py, selectors.alarm_history):
periods of local days at their boundaries (month and year ends, the days clocks change), the
states people read (incl. "being handled"), and filters that cannot be read refused by name."""

from __future__ import annotations

from datetime import date

import pytest
from django_tenants.utils import tenant_context

from machines.services import machine_create
from maintenance.alarm_filters import alarm_filters_parse, local_midnight
from maintenance.selectors import AlarmFilters, alarm_history, machine_alarm_history
from maintenance.services.work_orders import work_order_create, work_order_transition
from pdm_saas.errors import InvalidInput
from tests.maintenance.alarm_helpers import acknowledged, alert_at, resolved, utc

OWN = {"Motor-001", "Motor-002"}  # the tests' machines: alerts other modules committed in acme are not theirs


def ids(params: dict[str, str], *, zone: str = "") -> list[int]:
    alerts = alarm_history(filters=alarm_filters_parse(params, time_zone=zone))
    return [alert.id for alert in alerts if alert.machine.name in OWN]


@pytest.mark.parametrize(("zone", "day", "inside", "outside"), [
    # Berlin's clocks go forward on 2026-03-29: the day lasts 23 hours, 23:00 UTC to 22:00 UTC.
    ("Europe/Berlin", "2026-03-29", [utc(2026, 3, 28, 23, 0), utc(2026, 3, 29, 21, 59, 59)],
     [utc(2026, 3, 28, 22, 59, 59), utc(2026, 3, 29, 22, 0)]),
    # ... and back on 2026-10-25: 25 hours, 22:00 UTC to 23:00 UTC the next day.
    ("Europe/Berlin", "2026-10-25", [utc(2026, 10, 24, 22, 0), utc(2026, 10, 25, 22, 59, 59)],
     [utc(2026, 10, 24, 21, 59, 59), utc(2026, 10, 25, 23, 0)]),
    # The last day of the year in Tokyo ends at 15:00 UTC, nine hours before the UTC year does.
    ("Asia/Tokyo", "2026-12-31", [utc(2026, 12, 30, 15, 0), utc(2026, 12, 31, 14, 59, 59)],
     [utc(2026, 12, 30, 14, 59, 59), utc(2026, 12, 31, 15, 0)]),
    # A leap day in New York, whose evening is already March in UTC.
    ("America/New_York", "2028-02-29", [utc(2028, 2, 29, 5, 0), utc(2028, 3, 1, 4, 59, 59)],
     [utc(2028, 2, 29, 4, 59, 59), utc(2028, 3, 1, 5, 0)]),
])
def test_a_day_runs_from_local_midnight_to_local_midnight(world, motor, zone, day, inside, outside):
    alerts = {at: alert_at(world.acme, motor, at) for at in [*inside, *outside]}
    with tenant_context(world.acme):
        found = ids({"from": day, "to": day}, zone=zone)
    assert sorted(found) == sorted(alerts[at].id for at in inside)


def test_a_period_across_a_month_end_includes_both_days_in_the_organizations_zone(world, motor):
    # New York, 2026-02-28 to 2026-03-01: 05:00 UTC on the 28th to 05:00 UTC on March 2nd.
    stamps = [utc(2026, 2, 28, 4, 59), utc(2026, 2, 28, 5, 0), utc(2026, 3, 1, 0, 0), utc(2026, 3, 2, 4, 59),
              utc(2026, 3, 2, 5, 0)]
    alerts = [alert_at(world.acme, motor, at) for at in stamps]
    with tenant_context(world.acme):
        in_new_york = ids({"from": "2026-02-28", "to": "2026-03-01"}, zone="America/New_York")
        in_utc = ids({"from": "2026-02-28", "to": "2026-03-01"}, zone="")  # no zone set: UTC
        in_tz = ids({"from": "2026-02-28", "to": "2026-03-01", "tz": "UTC"}, zone="America/New_York")
    assert in_new_york == [a.id for a in reversed(alerts[1:4])]  # newest first
    assert in_utc == in_tz == [a.id for a in reversed(alerts[:3])]


def test_an_open_ended_period(world, motor):
    early, late = alert_at(world.acme, motor, utc(2026, 1, 1, 12)), alert_at(world.acme, motor, utc(2026, 6, 1, 12))
    with tenant_context(world.acme):
        assert ids({"from": "2026-03-01"}) == [late.id]
        assert ids({"to": "2026-03-01"}) == [early.id]


def test_where_clocks_skip_midnight_the_day_starts_at_the_jump():
    # Santiago goes from 23:59:59 (-04) straight to 01:00 (-03) on 2026-09-06.
    assert local_midnight(date(2026, 9, 6), "America/Santiago") == utc(2026, 9, 6, 4, 0)
    assert local_midnight(date(2026, 9, 7), "America/Santiago") == utc(2026, 9, 7, 3, 0)


def test_states_as_people_read_them(world, motor):
    at = utc(2026, 5, 4, 8)
    active = {"status": "open", "resolved_at": None}
    fresh = alert_at(world.acme, motor, at, mode="bearing_wear", **active)
    seen = acknowledged(world.acme, alert_at(world.acme, motor, at, mode="misalignment", **active),
                        by=world.engineer, at=at)
    worked_on = alert_at(world.acme, motor, at, mode="cooling_obstruction", **active)
    done = resolved(world.acme, alert_at(world.acme, motor, at, mode="stator_insulation_degradation", **active),
                    at=at)
    with tenant_context(world.acme):
        order = work_order_create(machine_id=motor.id, alert_id=worked_on.id, title="Clean the fins", actor_id=None)
        assert set(ids({"state": "open"})) == {fresh.id}  # the handled one is no longer "open"
        assert set(ids({"state": "acknowledged"})) == {seen.id}
        assert set(ids({"state": "handled"})) == {worked_on.id}
        assert set(ids({"state": "resolved"})) == {done.id}
        assert set(ids({"state": "active"})) == {fresh.id, seen.id, worked_on.id}
        work_order_transition(order_id=order.id, to_status="cancelled", actor_id=None)
        assert set(ids({"state": "open"})) == {fresh.id, worked_on.id}  # nobody on it any more


def test_machine_mode_kind_severity_and_order(world, motor):
    with tenant_context(world.acme):
        other = machine_create(machine_type_id=motor.machine_type_id, name="Motor-002")
    first = alert_at(world.acme, motor, utc(2026, 4, 1), mode="bearing_wear", severity="critical", probability=0.93)
    second = alert_at(world.acme, other, utc(2026, 4, 2), mode="misalignment")
    third = alert_at(world.acme, motor, utc(2026, 4, 3), mode="", kind="anomaly", probability=0.9995)
    with tenant_context(world.acme):
        assert ids({"machine": "Motor-001"}) == [third.id, first.id]
        assert ids({"machine": "Motor-001", "ordering": "opened_at"}) == [first.id, third.id]
        assert ids({"failure_mode": "misalignment"}) == [second.id]
        assert ids({"kind": "anomaly"}) == [third.id]
        assert ids({"severity": "critical"}) == [first.id]
        assert ids({"machine": "Motor-002", "severity": "critical"}) == []
        rows, total = machine_alarm_history(machine_id=motor.id, limit=1)
        assert ([alert.id for alert in rows], total) == ([third.id], 2)


@pytest.mark.parametrize(("params", "field", "words"), [
    ({"from": "2026-13-01"}, "from", "'2026-13-01' is not a date (filter 'from'); use YYYY-MM-DD"),
    ({"to": "2026-02-30"}, "to", "'2026-02-30' is not a date"),
    ({"from": "20260301"}, "from", "is not a date"),
    ({"from": "0001-01-01"}, "from", "a year from 1900 to 2200"),
    ({"from": "2026-03-02", "to": "2026-03-01"}, "to", "The period ends (2026-03-01) before it starts (2026-03-02)."),
    ({"tz": "Mars/Olympus"}, "tz", "Unknown time zone 'Mars/Olympus'"),
    ({"state": "closed"}, "state", "'closed' is not a state (filter 'state'); use one of: active, open, "
                                   "acknowledged, handled, resolved."),
    ({"kind": "fire"}, "kind", "use one of: failure, anomaly"),
    ({"severity": "high"}, "severity", "use one of: warning, critical"),
    ({"ordering": "probability"}, "ordering", "use one of: -opened_at, opened_at"),
    ({"machine": "Motor-999"}, "machine", "No machine is named 'Motor-999'"),
    ({"failure_mode": "gremlins"}, "failure_mode", "No machine type here has a failure mode named 'gremlins'"),
    ({"machine": "Motor\x00-001"}, "machine", "at most 120 printable characters"),
])
def test_a_filter_that_cannot_be_read_is_refused_by_name(world, motor, params, field, words):
    with tenant_context(world.acme), pytest.raises(InvalidInput) as refused:
        alarm_filters_parse(params, time_zone="Europe/Berlin")
    assert words in refused.value.message
    assert refused.value.code == "invalid_filter" and list(refused.value.details) == [field]


def test_every_unreadable_filter_is_named_at_once(world, motor):
    with tenant_context(world.acme), pytest.raises(InvalidInput) as refused:
        alarm_filters_parse({"from": "yesterday", "state": "closed", "tz": "Nowhere"}, time_zone="")
    assert set(refused.value.details) == {"from", "state", "tz"}


def test_the_filters_read(world, motor):
    with tenant_context(world.acme):
        filters = alarm_filters_parse({"machine": " Motor-001 ", "from": "2026-03-29", "to": "2026-03-29",
                                       "state": "handled", "ordering": "opened_at"}, time_zone="Europe/Berlin")
    assert filters == AlarmFilters(machine="Motor-001", machine_id=motor.id, state="handled",
                                   opened_from=utc(2026, 3, 28, 23), opened_before=utc(2026, 3, 29, 22),
                                   oldest_first=True, time_zone="Europe/Berlin")
