"""When PM plan occurrences fall due (planning/preventive_schedule.py): month ends, a leap day, a
year end, lead times, missed occurrences, and usage plans' estimates. Plain dates, no database."""

from __future__ import annotations

from datetime import date

import pytest

from planning.preventive_schedule import Next, add_months, calendar_due, calendar_next, usage_next


def monthly(start: date, n: int, every: int = 1) -> list[date]:
    return [calendar_due(start=start, every=every, unit="months", k=k) for k in range(n)]


def test_every_month_from_the_31st_keeps_the_31st_where_the_month_has_one() -> None:
    assert monthly(date(2027, 1, 31), 4) == [date(2027, 1, 31), date(2027, 2, 28), date(2027, 3, 31),
                                             date(2027, 4, 30)]
    assert monthly(date(2028, 1, 31), 3) == [date(2028, 1, 31), date(2028, 2, 29), date(2028, 3, 31)]  # leap


def test_a_leap_day_start_and_a_year_end() -> None:
    assert [calendar_due(start=date(2028, 2, 29), every=12, unit="months", k=k) for k in range(5)] == [
        date(2028, 2, 29), date(2029, 2, 28), date(2030, 2, 28), date(2031, 2, 28), date(2032, 2, 29)]
    assert monthly(date(2026, 11, 30), 4) == [date(2026, 11, 30), date(2026, 12, 30), date(2027, 1, 30),
                                              date(2027, 2, 28)]
    assert monthly(date(2026, 12, 31), 2, every=3) == [date(2026, 12, 31), date(2027, 3, 31)]
    assert calendar_due(start=date(2026, 12, 28), every=1, unit="weeks", k=1) == date(2027, 1, 4)
    assert calendar_due(start=date(2028, 2, 28), every=1, unit="days", k=1) == date(2028, 2, 29)
    assert add_months(date(2026, 1, 31), -2) == date(2025, 11, 30)


def test_an_unknown_unit_is_a_bug() -> None:
    with pytest.raises(ValueError):
        calendar_due(start=date(2026, 1, 1), every=1, unit="running_hours", k=1)


def test_calendar_next_with_lead_time() -> None:
    start = date(2026, 12, 10)
    # The first occurrence is the start date; with 7 days' lead it is ready from 3 Dec.
    assert calendar_next(start=start, every=2, unit="weeks", lead_days=7, after=None,
                         today=date(2026, 12, 2)) == Next(0, start, False)
    assert calendar_next(start=start, every=2, unit="weeks", lead_days=7, after=None,
                         today=date(2026, 12, 3)) == Next(0, start, True)
    # Once generated, the next one is two weeks on, ready a week before it.
    assert calendar_next(start=start, every=2, unit="weeks", lead_days=7, after=0,
                         today=date(2026, 12, 10)) == Next(1, date(2026, 12, 24), False)
    assert calendar_next(start=start, every=2, unit="weeks", lead_days=7, after=0,
                         today=date(2026, 12, 17)).ready


def test_missed_occurrences_are_not_back_filled() -> None:
    # Started in January, nothing generated, today is 20 May: only May's is generated, not five.
    upcoming = calendar_next(start=date(2026, 1, 15), every=1, unit="months", lead_days=0, after=None,
                             today=date(2026, 5, 20))
    assert upcoming == Next(4, date(2026, 5, 15), True)
    # A lead time longer than the interval: the next one is generated early, none is skipped.
    upcoming = calendar_next(start=date(2026, 1, 1), every=1, unit="weeks", lead_days=10, after=0,
                             today=date(2026, 1, 1))
    assert upcoming == Next(1, date(2026, 1, 8), True)


def test_usage_next() -> None:
    # 500 h plans: 430 h run, 10 h a day -> due in 7 days; ready with a 7-day lead, not with 6.
    assert usage_next(every=500, used=430, per_day=10, lead_days=7, after=None, today=date(2026, 12, 1)) == Next(
        1, date(2026, 12, 8), True, 500.0)
    assert not usage_next(every=500, used=430, per_day=10, lead_days=6, after=None, today=date(2026, 12, 1)).ready
    # Past the mark: due today, whatever the rate.
    assert usage_next(every=500, used=520, per_day=0, lead_days=0, after=None, today=date(2026, 12, 1)) == Next(
        1, date(2026, 12, 1), True, 500.0)
    # Not running lately: no date can be estimated, nothing is generated.
    assert usage_next(every=500, used=600, per_day=0, lead_days=30, after=1, today=date(2026, 12, 1)) == Next(
        2, None, False, 1000.0)
    # 1,730 h and nothing generated since the first: the third mark (1,500) is the one due, not the second.
    assert usage_next(every=500, used=1730, per_day=10, lead_days=0, after=1, today=date(2026, 12, 1)).sequence == 3


def test_after_an_edit_no_day_already_done_is_made_again() -> None:
    # Monthly from 31 Jan 2028, the first made; then changed to every 2 weeks from 3 Jan: 17 and
    # 31 Jan are on or before the day done, so the next is 14 Feb (occurrence 3 of the new schedule).
    upcoming = calendar_next(start=date(2028, 1, 3), every=2, unit="weeks", lead_days=0, after=0,
                             today=date(2028, 2, 1), last_due=date(2028, 1, 31))
    assert upcoming == Next(3, date(2028, 2, 14), False)
    # A usage plan changed from every 500 h to every 200 h after its 500 h mark: next is 600 h.
    upcoming = usage_next(every=200, used=520, per_day=10, lead_days=0, after=1, today=date(2028, 2, 1),
                          last_usage=500.0)
    assert (upcoming.sequence, upcoming.due_usage) == (3, 600.0)
