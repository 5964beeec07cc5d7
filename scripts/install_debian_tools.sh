#!/bin/sh
# Debian packages the test suite and `make run` drive, installed when missing (idempotent):
# - chromium: the browser suite drives it through Playwright (Playwright's own browser download
#   needs a CDN this network does not reach);
# - docker-compose: `docker-compose config` validates docker/compose.yaml without a Docker engine
#   (tests/test_docker_config.py);
# - faketime: `make test` reruns the calendar-dependent tests under a shifted clock
#   (scripts/shifted_clock_tests.sh);
# - haproxy: the one public address of `make run` and of the browser tests, routing /ws/ to daphne
#   and the rest to gunicorn (docker/haproxy/haproxy.cfg);
# - wrk: `make bench` loads the HTTP server with it (benchmarks/engine.py --parts http), since a
#   Python load generator would take the cores the server is measured on.
set -e
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v docker-compose >/dev/null 2>&1 || missing="$missing docker-compose"
command -v faketime >/dev/null 2>&1 || missing="$missing faketime"
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
if [ -z "$missing" ]; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "Installing Debian's$missing for the tests..."
$SUDO apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing >/dev/null
