"""Starting real processes (Celery worker, the web servers) against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from pdm_saas.serving import free_port as free_port  # re-exported: the tests' one way to pick ports
from pdm_saas.serving import free_ports, serving
from pdm_saas.serving import port_listening as port_listening

ROOT = Path(__file__).resolve().parent.parent


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
def web_stack(*, port: int, logs: Path) -> Iterator[None]:
    """What `make run` serves, against the test database until the block ends: HAProxy on
    127.0.0.1:`port` sending /ws/ to daphne and the rest to granian's WSGI workers
    (pdm_saas.serving, Procfile.dev). Each server logs into the folder `logs`."""
    with serving(free_ports(proxy=port), env=child_env(), logs=logs):
        yield


def module_stack(name: str) -> Any:
    """A module-scoped `stack` fixture: `web_stack` on a free port for the module's tests, its
    servers logging under a folder called `name`. For the browser modules whose servers need no
    environment of their own (`stack = module_stack("parts")`)."""

    @pytest.fixture(scope="module")
    def stack(world: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
        port = free_port()
        with django_db_blocker.unblock(), web_stack(port=port, logs=tmp_path_factory.mktemp(name)):
            yield port

    return stack
