"""A first API key for a script, from an admin's email and password (issue 14): no session and
no CSRF cookie, scopes capped by the member's role, throttled with the sign-in counters."""

from __future__ import annotations

import datetime as dt

import time_machine
from django.test import Client
from django_tenants.utils import tenant_context

from accounts.models import ApiKey

from .conftest import PASSWORD

NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)  # start of a 15-minute lockout window
URL = "/api/v1/auth/api-keys/"


def _ask(email: str, password: str, scopes: list[str], *, host: str = "acme.localhost",
         client: Client | None = None) -> tuple[int, dict]:
    """(status, body); a 429's Retry-After is in the body as `retry_after`."""
    # enforce_csrf_checks: the endpoint must work without a CSRF cookie, as a script calls it.
    client = client or Client(HTTP_HOST=host, REMOTE_ADDR="203.0.113.7", enforce_csrf_checks=True)
    response = client.post(URL, {"email": email, "password": password, "name": "ci", "scopes": scopes},
                           content_type="application/json")
    body = response.json()
    if response.status_code == 429:
        body["retry_after"] = response["Retry-After"]
    return response.status_code, body


def test_an_admin_gets_a_working_key_without_a_session(db, world):
    status, body = _ask("admin@acme.test", PASSWORD, ["read", "admin"])
    assert status == 201, body
    assert body["api_key"]["scopes"] == ["admin", "read"] and body["key"]
    me = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {body['key']}").get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["tenant"]["slug"] == "acme"
    with tenant_context(world.acme):
        assert ApiKey.objects.get(prefix=body["api_key"]["prefix"]).created_by_id == world.admin.id


def test_a_viewer_is_refused_admin_scopes_and_any_key(db, world):
    assert _ask("viewer@acme.test", PASSWORD, ["admin"])[0] == 403
    status, body = _ask("viewer@acme.test", PASSWORD, ["read"])
    assert status == 403 and "Only an admin or owner" in body["error"]["message"]
    with tenant_context(world.acme):
        assert not ApiKey.objects.filter(name="ci").exists()


def test_another_organizations_member_and_a_wrong_password_are_401(db, world):
    assert _ask("owner@globex.test", PASSWORD, ["read"])[0] == 401  # right password, wrong organization
    assert _ask("outsider@nowhere.test", PASSWORD, ["read"])[0] == 401
    status, body = _ask("admin@acme.test", "not-the-password", ["read"])
    assert status == 401 and body["error"]["code"] == "not_authenticated"
    with tenant_context(world.acme):
        assert not ApiKey.objects.filter(name="ci").exists()


def test_wrong_passwords_count_with_the_sign_in_page(db, world):
    with time_machine.travel(NOON, tick=False):
        answers = [_ask("admin@acme.test", f"guess-{n}", ["read"])[0] for n in range(10)]
        status, body = _ask("admin@acme.test", PASSWORD, ["read"])  # the right one, too late
        page = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR="198.51.100.9").post(
            "/accounts/login/", {"username": "admin@acme.test", "password": PASSWORD})
    assert answers == [401] * 10
    assert status == 429 and "try again in 15 minutes" in body["error"]["message"] and body["retry_after"] == "900"
    assert page.status_code == 429  # the same account counter as the sign-in page


def test_a_session_is_never_accepted(db, world):
    client = Client(HTTP_HOST="acme.localhost", REMOTE_ADDR="203.0.113.7", enforce_csrf_checks=True)
    client.force_login(world.admin)
    response = client.post(URL, {"name": "ci", "scopes": ["read"]}, content_type="application/json")
    assert response.status_code == 400  # email and password are required: a session never stands in for them
    assert set(response.json()["error"]["details"]) == {"email", "password"}
    with tenant_context(world.acme):
        assert not ApiKey.objects.filter(name="ci").exists()


def test_it_is_in_the_openapi_schema(db, world):
    schema = Client(HTTP_HOST="acme.localhost").get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200
    operation = schema.json()["paths"][URL]["post"]
    assert operation.get("security") in (None, [], [{}]) and "201" in operation["responses"]  # no auth scheme
