"""`make run` / `make test` on a machine with no Postgres or Redis: the embedded fall-backs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.live

PROBE = (
    "import django, os; django.setup();"
    "from django.db import connection; import redis;"
    "connection.ensure_connection();"
    "print('db', connection.settings_dict['NAME'], connection.cursor().connection.info.server_version);"
    "print('redis', redis.Redis.from_url(os.environ['REDIS_URL']).ping())"
)


def test_embedded_postgres_and_redis_start_serve_django_and_stop(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(PDM_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="pdm_saas.settings")
    done = subprocess.run(
        [sys.executable, "scripts/devservices.py", "--embedded", "--", sys.executable, "-c", PROBE],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.split()
    assert lines[:2] == ["db", "pdm_saas"] and int(lines[2]) >= 150000
    assert "redis True" in done.stdout
    assert "started embedded PostgreSQL" in done.stderr and "started embedded redis-server" in done.stderr
    # Both were stopped when the command ended: nothing listens on the socket or port any more.
    assert not (tmp_path / "pgserver" / "postmaster.pid").exists()
