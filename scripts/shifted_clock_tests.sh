#!/bin/sh
# Reruns the tests that depend on the calendar (marker `clock`: billing periods and usage
# reports, quotas, grace periods, alert cooldown and escalation, drift windows, the weekly email,
# job sweeping, monthly reading partitions) under a shifted system clock, with Debian's faketime.
# Each run starts a minute before a boundary, so the session's shared world is built on one side
# of it and most tests run on the other: a month end (a 30-day month), a year end, and the night
# into 29 February. faketime shifts this process and every child it starts (Celery workers, the
# ASGI server); PostgreSQL and Redis keep the real clock, as they would for a client in another
# time zone of the calendar.
# Usage: scripts/shifted_clock_tests.sh [extra pytest arguments]
set -eu
PY="${PY:-.venv/bin/python}"
command -v faketime >/dev/null 2>&1 || { echo "faketime is missing: run 'make install' (scripts/install_debian_tools.sh)"; exit 2; }
for instant in "2027-04-30 23:59:00" "2027-12-31 23:59:00" "2028-02-28 23:59:30"; do
  echo "== tests marked 'clock', with the clock starting at $instant UTC (faketime) =="
  TZ=UTC faketime "$instant" "$PY" -m pytest -m clock "$@"
done
