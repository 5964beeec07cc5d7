"""Starting real processes (Celery worker, ASGI server) against the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def child_env() -> dict[str, str]:
    """The environment of this test run, with DATABASE_URL pointing at the *test* database."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db.get("PASSWORD"):
        auth += ":" + quote(db["PASSWORD"])
    host = quote(db["HOST"] or db["OPTIONS"].get("host") or "127.0.0.1", safe="")  # may be a socket path
    url = f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"
    return dict(os.environ, DATABASE_URL=url, PYTHONUNBUFFERED="1")


def wait_for(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@contextmanager
def process(
    args: list[str], *, log: Path, ready: Callable[[str], bool], timeout: float = 60
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """Run `args` from the repo root, wait until `ready(log text)`, stop it afterwards."""
    with log.open("w") as out:
        child = subprocess.Popen(args, cwd=ROOT, env=child_env(), stdout=out, stderr=subprocess.STDOUT)
    try:
        def is_ready() -> bool:
            if child.poll() is not None:
                raise AssertionError(f"{args[0]} exited early:\n{log.read_text()[-3000:]}")
            return ready(log.read_text())

        wait_for(is_ready, timeout=timeout, what=" ".join(args[:3]))
        yield child, log
    finally:
        if child.poll() is None:
            child.terminate()
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def python_bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


@contextmanager
def asgi_server(*, port: int, log: Path) -> Iterator[None]:
    """Daphne serving the project on 127.0.0.1:`port` against the test database until the block
    ends (the browser tests' server)."""
    args = [python_bin("daphne"), "-b", "127.0.0.1", "-p", str(port), "pdm_saas.asgi:application"]
    with process(args, log=log, ready=lambda _: port_listening(port)):
        yield
