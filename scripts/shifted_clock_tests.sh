#!/bin/sh
# Reruns the tests that depend on the calendar (marker `clock`: billing periods and usage
# reports, quotas, grace periods, alert cooldown and escalation, drift windows, the weekly email,
# job sweeping, monthly reading partitions) under a shifted system clock, with Debian's faketime.
# Each run starts a minute before a boundary, so the session's shared world is built on one side
# of it and most tests run on the other: a month end (a 30-day month), a year end, and the night
# into 29 February. faketime shifts this process and every child it starts (Celery workers, the
# ASGI server); PostgreSQL and Redis keep the real clock, as they would for a client in another
# time zone of the calendar.
#
# The three runs go side by side (most of their time is spent waiting on the database and on
# real workers), each with its own test database and Redis databases (tests/env_plugin.py), then
# their outputs are printed in order. Fails if any run fails.
# Usage: scripts/shifted_clock_tests.sh [extra pytest arguments]
set -u
PY="${PY:-.venv/bin/python}"
command -v faketime >/dev/null 2>&1 || { echo "faketime is missing: run 'make install' (scripts/install_debian_tools.sh)"; exit 2; }
checkout=$(printf %s "$PWD" | cksum | cut -d' ' -f1)  # two checkouts never share a test database
logs=$(mktemp -d)
run=0
for shift in "2027-04-30 23:59:00|13,14,15" "2027-12-31 23:59:00|7,8,9" "2028-02-28 23:59:30|3,4,5"; do
  run=$((run + 1))
  instant=${shift%|*}
  echo "$instant" > "$logs/$run.instant"
  (
    DATABASE_TEST_NAME="test_pdm_clock${run}_${checkout}" PDM_TEST_REDIS_DBS=${shift#*|} TZ=UTC \
      faketime "$instant" "$PY" -m pytest -m clock "$@" > "$logs/$run.log" 2>&1
    echo $? > "$logs/$run.rc"
  ) &
done
wait
failed=0
for n in $(seq 1 "$run"); do
  echo "== tests marked 'clock', with the clock starting at $(cat "$logs/$n.instant") UTC (faketime) =="
  cat "$logs/$n.log"
  [ "$(cat "$logs/$n.rc")" = "0" ] || failed=1
done
rm -rf "$logs"
exit "$failed"
