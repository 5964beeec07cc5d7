"""Every absolute link we build comes from the configured site address (PDM_SITE_URL) with the
tenant's host: invitations, password resets, the weekly summary, signup's answer, the sign-in
links mail and the demo's banner. The server here "runs elsewhere": on port 8010 (the reported
bug: links said 8000), and once behind HTTPS on the standard port."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from django.core import mail
from django.core.checks import run_checks
from django.test import Client
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.roles import Actor, Role
from accounts.services import invitation_create
from insights.services import weekly_summary_send
from tenants.schema_names import public_url, tenant_url

from .conftest import PASSWORD

ELSEWHERE = "http://localhost:8010"
MONDAY = timezone.make_aware(datetime(2026, 11, 23, 7, 0))  # a weekly-summary Monday


@pytest.fixture
def elsewhere(settings: Any) -> str:
    settings.SITE_URL = ELSEWHERE
    return ELSEWHERE


def _links(text: str) -> list[str]:
    return re.findall(r"https?://[^\s\"'<>]+", text)


def test_links_take_scheme_and_port_from_the_site_address(settings):
    settings.SITE_URL = "https://localhost"
    assert tenant_url("acme.localhost", "/x/") == "https://acme.localhost/x/"
    assert public_url("/signup/") == "https://localhost/signup/"
    settings.SITE_URL = ELSEWHERE
    assert tenant_url("acme.localhost", "/x/") == "http://acme.localhost:8010/x/"


def test_invitation_links_in_the_mail_the_page_and_the_api(db, world, elsewhere, client_for,
                                                          django_capture_on_commit_callbacks):
    actor = Actor(tenant_id=world.acme.id, role=Role.ADMIN, user_id=world.admin.id)
    with django_capture_on_commit_callbacks(execute=True):
        invitation_create(actor=actor, email="mailed@acme.test", role=Role.VIEWER)
    (mailed,) = _links(mail.outbox[-1].body)
    assert mailed.startswith("http://acme.localhost:8010/accounts/invitations/")
    page = client_for("admin").post("/accounts/organization/invitations/", {"email": "paged@acme.test",
                                                                            "role": Role.VIEWER})
    shown = re.search(r'id="accept-url">([^<]+)<', page.content.decode())
    assert shown and shown.group(1).startswith("http://acme.localhost:8010/accounts/invitations/")
    api = client_for("admin").post("/api/v1/invitations/", {"email": "api@acme.test", "role": Role.VIEWER},
                                   content_type="application/json")
    assert api.json()["accept_url"].startswith("http://acme.localhost:8010/accounts/invitations/")


def test_password_reset_link(db, world, elsewhere):
    # Asked for on the port the browser happens to use: the link still says the site's.
    Client(HTTP_HOST="acme.localhost:9999").post("/accounts/password-reset/", {"email": "engineer@acme.test"})
    (link,) = _links(mail.outbox[-1].body)
    assert link.startswith("http://acme.localhost:8010/accounts/password-reset/")


@pytest.mark.clock
def test_weekly_summary_link(db, world, elsewhere):
    with tenant_context(world.acme):
        assert weekly_summary_send(now=MONDAY) == 2
    assert "http://acme.localhost:8010/insights/?days=7" in _links(mail.outbox[-1].body)
    html, _ = mail.outbox[-1].alternatives[0]  # type: ignore[attr-defined]
    assert all(link.startswith("http://acme.localhost:8010/") for link in _links(html))


def test_signup_api_login_url(db, world, elsewhere):
    done = Client(HTTP_HOST="localhost:7777").post("/api/v1/signup/", {
        "organization_name": "Initech", "slug": "initech", "owner_email": "o@initech.test",
        "owner_password": PASSWORD}, content_type="application/json")
    assert done.json()["login_url"] == "http://initech.localhost:8010/accounts/login/"


def test_sign_in_links_mail(db, world, elsewhere):
    Client(HTTP_HOST="localhost").post("/login/", {"action": "mail", "email": "owner@acme.test"})
    assert _links(mail.outbox[-1].body) == ["http://acme.localhost:8010/accounts/login/"]


def test_demo_banner(db, world, elsewhere, capsys):
    from django.core.management import call_command

    call_command("demo_seed")
    out = capsys.readouterr().out
    assert "http://demo.localhost:8010/accounts/login/" in out and "http://localhost:8010/api/v1/docs/" in out
    assert ":8000" not in out


@pytest.mark.parametrize("address", ["http://evil.test:8010", "ftp://localhost", "http://localhost:8010/app"])
def test_a_site_address_we_do_not_serve_is_refused_at_startup(settings, address):
    settings.SITE_URL = address
    assert "pdm.E011" in {problem.id for problem in run_checks()}


def test_the_development_site_address_passes_the_check(settings):
    settings.SITE_URL = ELSEWHERE
    assert "pdm.E011" not in {problem.id for problem in run_checks()}
