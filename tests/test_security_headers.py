"""Production defaults: DEBUG off unless switched on, HSTS, a Content-Security-Policy, a
Permissions-Policy, and no Server banner from the real ASGI server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from .live import ROOT, free_port, web_stack

pytestmark = pytest.mark.django_db
SHOWN = ("DEBUG", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SESSION_COOKIE_SECURE",
         "CSRF_COOKIE_SECURE", "SITE_URL")


def _settings_in_a_clean_process(**env: str) -> dict[str, Any]:
    """The settings a process gets from the environment alone (none of this run's variables)."""
    clean = {name: value for name, value in os.environ.items()
             if not name.startswith(("DJANGO_", "PDM_", "SECURE_"))}
    script = f"import json, pdm_saas.settings as s; print(json.dumps({{n: getattr(s, n) for n in {SHOWN!r}}}))"
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=True)
    return dict(json.loads(done.stdout))


def test_debug_is_off_and_production_defaults_apply_when_nothing_is_set():
    assert _settings_in_a_clean_process() == {
        "DEBUG": False, "SECURE_HSTS_SECONDS": 31_536_000, "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SESSION_COOKIE_SECURE": True, "CSRF_COOKIE_SECURE": True, "SITE_URL": "https://localhost"}


def test_development_switches_debug_on_with_its_conveniences():
    shown = _settings_in_a_clean_process(DJANGO_DEBUG="true")
    assert shown["DEBUG"] is True and shown["SECURE_HSTS_SECONDS"] == 0  # no year-long pin on localhost
    assert (shown["SITE_URL"], shown["SESSION_COOKIE_SECURE"]) == ("http://localhost:8000", False)


def test_development_commands_switch_debug_on():
    assert "export DJANGO_DEBUG ?= true" in (ROOT / "Makefile").read_text()
    django_lines = [line for line in (ROOT / "Procfile.dev").read_text().splitlines()
                    if not line.startswith("proxy:")]  # HAProxy runs no Django
    assert len(django_lines) == 5
    for line in django_lines:
        assert "DJANGO_DEBUG=${DJANGO_DEBUG:-true} " in line, line


def _assert_browser_policies(response: Any) -> None:
    policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert "unsafe" not in policy
    assert directives["connect-src"] == "'self' wss://acme.localhost ws://acme.localhost"  # live updates
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "geolocation=()" in response.headers["Permissions-Policy"]


@override_settings(SECURE_HSTS_SECONDS=31_536_000)  # the production default (DEBUG off)
def test_a_page_and_an_api_answer_carry_the_security_headers(client_for):
    page = client_for("viewer").get("/", secure=True)
    api = client_for("viewer").get("/api/v1/machines/", secure=True)
    assert page.status_code == 200 and "text/html" in page["Content-Type"]
    assert api.status_code == 200 and api["Content-Type"] == "application/json"
    for response in (page, api):
        _assert_browser_policies(response)
        assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    plain = client_for("viewer").get("/")
    assert "Strict-Transport-Security" not in plain.headers  # HSTS over HTTPS only, as the RFC says
    _assert_browser_policies(plain)


def test_templates_carry_no_inline_script_style_or_handler():
    """The policy refuses them: each would silently stop working in the browser."""
    offenders = []
    for path in (ROOT / "templates").rglob("*.html"):
        if path.name == "weekly_summary.html":
            continue  # an email body: no browser policy applies, and mail clients need inline styles
        text = path.read_text()
        for marker in ("<script>", "<style", " style=", " onsubmit=", " onclick=", " onchange=", " onload="):
            if marker in text:
                offenders.append(f"{path.relative_to(ROOT)}: {marker.strip()}")
    assert offenders == []


@pytest.fixture
def committed(world: Any, django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        yield


@pytest.mark.live
def test_the_public_address_sends_no_server_banner(committed: None, tmp_path: Path) -> None:
    """Through the proxy `make run` and compose put in front (docker/haproxy/haproxy.cfg): neither
    HAProxy nor granian nor daphne names itself."""
    port = free_port()
    with web_stack(port=port, logs=tmp_path):
        request = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers={"Host": "localhost"})
        with urllib.request.urlopen(request, timeout=10) as response:
            ok = response.headers
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page/", timeout=10)  # noqa: S310
            raise AssertionError("expected a 4xx")
        except urllib.error.HTTPError as error:
            refused = error.headers
    for headers in (ok, refused):
        assert "Server" not in headers, headers.get("Server")
    assert "Content-Security-Policy" in ok


def test_error_pages_keep_the_policy_in_production_and_drop_it_for_django_debug_pages(client_for, settings):
    settings.DEBUG = False
    assert "Content-Security-Policy" in client_for("viewer").get("/no-such-page/").headers
    settings.DEBUG = True  # Django's technical 404 page styles itself inline
    missing = client_for("viewer").get("/no-such-page/")
    assert missing.status_code == 404 and "Content-Security-Policy" not in missing.headers
    assert "Permissions-Policy" in missing.headers
