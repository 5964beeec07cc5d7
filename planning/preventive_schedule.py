"""When a preventive (PM) plan's occurrences fall due: plain dates and numbers, no Django.

Calendar plans: occurrence k (k = 0, 1, 2...) is due on the start date plus k intervals, each
counted from the start date, not from the previous occurrence: every month from 31 January is
28 (or 29) February, then 31 March, not 28 March. A day past the end of a shorter month is that
month's last day.

Usage plans: occurrence k (k = 1, 2...) is due when the machine has run k x the interval (running
hours or cycles) since the start date.

Missed occurrences are not back-filled: when several are already past (the scheduler was down, a
plan was created with a start date long ago), only the latest of them is generated: one work order
for the overdue job, not a backlog of identical ones.
"""

from __future__ import annotations

import calendar
import math
from dataclasses import dataclass
from datetime import date, timedelta

CALENDAR_UNITS = ("days", "weeks", "months")
USAGE_UNITS = ("running_hours", "cycles")
SEARCH_LIMIT = 100_000  # occurrences: a daily plan over 270 years; a loop that runs away is a bug


def add_months(start: date, months: int) -> date:
    """`start` moved by `months` calendar months, its day kept or clamped to the month's last."""
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(start.day, last))


def calendar_due(*, start: date, every: int, unit: str, k: int) -> date:
    """The due date of calendar occurrence `k` (0 = the start date)."""
    if unit == "days":
        return start + timedelta(days=every * k)
    if unit == "weeks":
        return start + timedelta(weeks=every * k)
    if unit == "months":
        return add_months(start, every * k)
    raise ValueError(f"not a calendar unit: {unit}")


@dataclass(frozen=True)
class Next:
    """The next occurrence to generate: its number, when it is (or is expected to be) due, and
    whether it is time to generate it (its due date minus the lead time has come). `due_on` is
    None for a usage plan whose machine has not run lately: no date can be estimated."""

    sequence: int
    due_on: date | None
    ready: bool
    due_usage: float | None = None  # usage plans: the running hours or cycles it is due at


def calendar_next(*, start: date, every: int, unit: str, lead_days: int, after: int | None, today: date,
                  last_due: date | None = None) -> Next:
    """The calendar plan's next occurrence after occurrence `after` (None: none generated yet),
    due after `last_due` (the latest generated one's date: after an edit of the interval or the
    start date, no occurrence is made for a day already done)."""
    k = 0 if after is None else after + 1
    for _ in range(SEARCH_LIMIT):
        if last_due is None or calendar_due(start=start, every=every, unit=unit, k=k) > last_due:
            break
        k += 1
    for _ in range(SEARCH_LIMIT):
        # Skip an occurrence already past when the next one is due today or earlier too.
        if calendar_due(start=start, every=every, unit=unit, k=k + 1) > today:
            break
        k += 1
    due = calendar_due(start=start, every=every, unit=unit, k=k)
    return Next(sequence=k, due_on=due, ready=due - timedelta(days=lead_days) <= today)


def usage_next(*, every: int, used: float, per_day: float, lead_days: int, after: int | None,
               today: date, last_usage: float | None = None) -> Next:
    """The usage plan's next occurrence after occurrence `after`, with `used` units run since the
    start and `per_day` the recent daily rate (which dates the next one and applies the lead time),
    due beyond `last_usage` (the latest generated one's mark, as for `calendar_next`'s `last_due`)."""
    k = max((after or 0) + 1, math.floor(used / every),
            math.floor(last_usage / every) + 1 if last_usage is not None else 0)
    due_usage = float(k * every)
    if used >= due_usage:
        return Next(sequence=k, due_on=today, ready=True, due_usage=due_usage)
    if per_day <= 0:
        return Next(sequence=k, due_on=None, ready=False, due_usage=due_usage)
    days_left = (due_usage - used) / per_day
    return Next(sequence=k, due_on=today + timedelta(days=math.ceil(days_left)), ready=days_left <= lead_days,
                due_usage=due_usage)
