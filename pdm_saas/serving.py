"""The product's serving processes, started the way `make run` starts them: Procfile.dev's `web`
(gunicorn, HTTP), `ws` (daphne, WebSockets) and `proxy` (HAProxy, the one public address that
routes /ws/ to `ws` and the rest to `web`). The browser tests and the HTTP benchmark serve through
this, so what they exercise is what `make run` and docker/compose.yaml run (docs/deploy.md,
"Serving"). Plain Python: nothing here imports Django.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCFILE = ROOT / "Procfile.dev"
SERVING = ("web", "ws", "proxy")


@dataclass(frozen=True)
class Ports:
    proxy: int  # the public address
    web: int
    ws: int

    def env(self) -> dict[str, str]:
        """The variables Procfile.dev's serving lines read (the Makefile sets them for `make run`)."""
        return {"PDM_PROXY_PORT": str(self.proxy), "PDM_WEB_PORT": str(self.web), "PDM_WS_PORT": str(self.ws)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_ports(proxy: int | None = None) -> Ports:
    return Ports(proxy=proxy or free_port(), web=free_port(), ws=free_port())


def port_listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def procfile_commands() -> dict[str, str]:
    """Procfile.dev as name -> shell command."""
    lines = (line.split(":", 1) for line in PROCFILE.read_text().splitlines() if ":" in line)
    return {name.strip(): command.strip() for name, command in lines}


@contextmanager
def serving(ports: Ports, *, env: Mapping[str, str], logs: Path, timeout: float = 60) -> Iterator[Ports]:
    """web, ws and proxy running until the block ends; each logs to `logs`/<name>.log. The proxy
    starts last, so the public port answers only when both servers behind it listen."""
    commands = procfile_commands()
    logs.mkdir(parents=True, exist_ok=True)
    # As `make run` does: the servers are the ones installed beside this Python.
    path = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', os.defpath)}"
    with ExitStack() as stack:
        for name, port in (("web", ports.web), ("ws", ports.ws), ("proxy", ports.proxy)):
            stack.enter_context(_process(name, commands[name], env={**env, **ports.env(), "PATH": path},
                                         log=logs / f"{name}.log", port=port, timeout=timeout))
        yield ports


@contextmanager
def _process(name: str, command: str, *, env: Mapping[str, str], log: Path, port: int,
             timeout: float) -> Iterator[None]:
    """`command` through sh as honcho runs it, in a session of its own so that stopping it stops
    its children too (granian's workers)."""
    with log.open("w") as out:
        child = subprocess.Popen(["sh", "-c", command], cwd=ROOT, env=dict(env), stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + timeout
        while not port_listening(port):
            if child.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{log.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not listen on {port} within {timeout:.0f} s: {command}")
            time.sleep(0.1)
        yield
    finally:
        _stop(child)


def _stop(child: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(child.pid, signal.SIGTERM)
    except ProcessLookupError:  # already gone, children and all
        pass
    try:
        child.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
