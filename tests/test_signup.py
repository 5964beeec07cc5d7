"""Self-serve signup: a usable tenant in one call, clear refusals, nothing left half-made."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_exists

from accounts.models import Membership, User
from accounts.sign_in import LOGIN_LINK_SECONDS
from billing.models import Subscription
from tenants.models import Domain, Tenant
from tenants.services import slug_from_name

from .conftest import PASSWORD

SIGNUP = "/api/v1/signup/"


def _signup(slug: str = "initech", email: str = "boss@initech.test", password: str = PASSWORD, name: str = "Initech"):
    return Client(HTTP_HOST="localhost").post(
        SIGNUP, {"organization_name": name, "slug": slug, "owner_email": email, "owner_password": password},
        content_type="application/json",
    )


def test_signup_provisions_a_usable_tenant(db, world):
    response = _signup()
    assert response.status_code == 201, response.content
    assert response.json()["host"] == "initech.localhost"
    # From the configured site address (PDM_SITE_URL; the test run's is the development default).
    assert response.json()["login_url"] == "http://initech.localhost:8000/accounts/login/"
    tenant = Tenant.objects.get(slug="initech")
    assert schema_exists(tenant.schema_name)
    assert Domain.objects.filter(tenant=tenant, domain="initech.localhost", is_primary=True).exists()
    assert Membership.objects.get(tenant=tenant).role == "owner"
    assert Subscription.objects.get(tenant=tenant).status == "trialing"
    # The schema is a full copy of the template: tables and migration history.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = 'jobs_job'",
            [tenant.schema_name],
        )
        assert cursor.fetchone()[0] == 1
        cursor.execute(f'SELECT count(*) FROM "{tenant.schema_name}".django_migrations')
        copied = cursor.fetchone()[0]
        cursor.execute('SELECT count(*) FROM "tenant_template".django_migrations')
        assert copied == cursor.fetchone()[0] > 0
    # The owner can sign in on the new host and use the API at once.
    browser = Client(HTTP_HOST="initech.localhost")
    assert browser.login(username="boss@initech.test", password=PASSWORD)
    assert browser.get("/api/v1/me/").json()["role"] == "owner"
    assert browser.get("/api/v1/jobs/").json()["count"] == 0


@pytest.mark.parametrize(
    ("slug", "status", "code"),
    [
        ("www", 400, "slug_reserved"),
        ("api", 400, "slug_reserved"),
        ("acme", 409, "slug_taken"),
        ("Bad_Slug!", 400, "invalid_slug"),
        ("ab", 400, "invalid_slug"),
        ("-lead", 400, "invalid_slug"),
        ("double--hyphen", 400, "invalid_slug"),
    ],
)
def test_bad_slugs_get_clear_errors_and_create_nothing(db, world, slug, status, code):
    users_before, tenants_before = User.objects.count(), Tenant.objects.count()
    response = _signup(slug=slug)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and "slug" in error["details"]
    assert slug.lower() in error["message"] or code == "invalid_slug"
    assert (User.objects.count(), Tenant.objects.count()) == (users_before, tenants_before)


def test_weak_password_and_taken_email_are_refused(db, world):
    weak = _signup(password="123")
    assert weak.status_code == 400 and weak.json()["error"]["code"] == "weak_password"
    taken = _signup(email="owner@acme.test")
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "email_taken"
    assert not Tenant.objects.filter(slug="initech").exists()


def test_missing_fields_use_the_error_shape(db, world):
    response = Client(HTTP_HOST="localhost").post(SIGNUP, {}, content_type="application/json")
    assert response.status_code == 400
    details = response.json()["error"]["details"]
    assert {"organization_name", "slug", "owner_email", "owner_password"} <= set(details)


def test_a_failure_mid_provisioning_leaves_nothing_behind(db, world):
    # Hide the template: cloning fails after the tenant row, domain and user were written.
    with connection.cursor() as cursor:
        cursor.execute('ALTER SCHEMA "tenant_template" RENAME TO "tenant_template_hidden"')
    try:
        with pytest.raises(Exception, match="template schema"):
            _signup(slug="halfway", email="half@way.test")
    finally:
        with connection.cursor() as cursor:
            cursor.execute('ALTER SCHEMA "tenant_template_hidden" RENAME TO "tenant_template"')
    assert not Tenant.objects.filter(slug="halfway").exists()
    assert not User.objects.filter(email="half@way.test").exists()
    assert not Domain.objects.filter(domain="halfway.localhost").exists()
    assert not schema_exists("t_halfway")


def test_signup_page_creates_tenant_and_signs_the_owner_in_on_its_host(db, world):
    browser = Client(HTTP_HOST="localhost")
    assert b"Create your organization" in browser.get("/signup/").content
    response = browser.post("/signup/", {"organization_name": "Umbrella", "slug": "umbrella",
                                         "owner_email": "o@umbrella.test", "owner_password": PASSWORD})
    assert response.status_code == 302
    link = re.fullmatch(r"http://umbrella\.localhost(/accounts/welcome/[^/]+/)", response["Location"])
    assert link, response["Location"]
    tenant_host = Client(HTTP_HOST="umbrella.localhost")
    welcome = tenant_host.get(link.group(1))
    assert welcome.status_code == 302 and welcome["Location"] == "/"
    assert tenant_host.get("/api/v1/me/").json()["role"] == "owner"  # signed in, no second password
    again = browser.post("/signup/", {"organization_name": "Umbrella", "slug": "umbrella",
                                      "owner_email": "x@umbrella.test", "owner_password": PASSWORD})
    assert again.status_code == 200 and b"already taken" in again.content


def test_landing_lists_the_plans(db, world):
    page = Client(HTTP_HOST="localhost").get("/").content.decode()
    assert "Starter" in page and "Growth" in page and "$500/month" in page


def test_signup_renames_a_spare_schema_when_one_is_ready(db, world):
    from tenants.models import SpareSchema
    from tenants.provisioning import spare_pool_fill
    from tenants.services import tenant_signup

    assert spare_pool_fill(target=2) == 2
    first = SpareSchema.objects.order_by("id").first()
    done = tenant_signup(organization_name="Hooli", slug="hooli", owner_email="o@hooli.test",
                         owner_password=PASSWORD)
    assert done.provisioned_by == "spare"
    assert not schema_exists(first.name) and schema_exists("t_hooli")
    assert list(SpareSchema.objects.values_list("name", flat=True)) != [first.name]
    assert SpareSchema.objects.count() == 1
    browser = Client(HTTP_HOST="hooli.localhost")
    browser.force_login(done.owner)
    assert browser.get("/api/v1/jobs/").json()["count"] == 0  # the schema works as a tenant's


def test_spares_of_an_older_template_are_never_handed_out(db, world):
    from tenants.models import SpareSchema
    from tenants.provisioning import spare_pool_fill
    from tenants.services import tenant_signup

    spare_pool_fill(target=1)
    stale = SpareSchema.objects.get()
    SpareSchema.objects.update(template_fingerprint="from-before-a-migration")
    done = tenant_signup(organization_name="Pied", slug="pied", owner_email="o@pied.test", owner_password=PASSWORD)
    assert done.provisioned_by == "clone" and schema_exists(stale.name)
    assert spare_pool_fill(target=1) == 1  # the stale spare is dropped and replaced
    assert not schema_exists(stale.name)
    assert SpareSchema.objects.exclude(template_fingerprint="from-before-a-migration").count() == 1


def test_signups_are_rate_limited_per_address(db, world, monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"signup": "2/minute"})
    cache.clear()
    try:
        codes = [_signup(slug=f"rate-{i}", email=f"r{i}@rate.test").status_code for i in range(3)]
        assert codes[:2] == [201, 201]
        limited = _signup(slug="rate-x", email="rx@rate.test")
        assert limited.status_code == 429 and limited.json()["error"]["code"] == "throttled"
        assert int(limited["Retry-After"]) > 0
    finally:
        cache.clear()


# --- signup fills the slug, says the password rules and signs the owner in -------------------
SIGNUP_INSTANT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # a Monday morning's signup


def _page_signup(**fields: str):
    data = {"organization_name": "Umbrella", "slug": "umbrella", "owner_email": "o@umbrella.test",
            "owner_password": PASSWORD, **fields}
    return Client(HTTP_HOST="localhost").post("/signup/", data)


def _welcome_path(response) -> str:
    assert response.status_code == 302, response.content[:2000]
    return re.sub(r"^http://[^/]+", "", response["Location"])


@pytest.mark.parametrize(("name", "slug"), [
    ("Müller & Söhne GmbH", "muller-sohne-gmbh"),
    ("3M Plant", "org-3m-plant"),
    ("Acme", "acme-2"),  # acme is taken (the shared world)
    ("WWW", "www-2"),  # reserved
    ("A", "a-org"),
    ("A very long organization name that goes on and on", "a-very-long-organization-name-that-g"),
])
def test_a_blank_slug_is_derived_from_the_name_valid_and_free(db, world, name, slug):
    assert slug_from_name(name) == slug


def test_signup_page_with_a_blank_slug_uses_the_name(db, world):
    welcome = _welcome_path(_page_signup(organization_name="Umbrella Plants", slug=""))
    assert welcome.startswith("/accounts/welcome/")
    assert Tenant.objects.filter(slug="umbrella-plants", name="Umbrella Plants").exists()


def test_signup_page_shows_the_password_rules_before_and_after_a_refusal(db, world):
    form = Client(HTTP_HOST="localhost").get("/signup/").content.decode()
    assert 'id="password-rules"' in form and "at least 8 characters" in form
    refused = _page_signup(owner_password="1234").content.decode()
    errors = refused[refused.index('id="password-rules"'):]
    assert "This password is too short" in errors and "entirely numeric" in errors
    assert not Tenant.objects.filter(slug="umbrella").exists()


def test_the_api_says_why_a_password_is_too_weak(db, world):
    weak = _signup(password="123")
    assert "too short" in weak.json()["error"]["message"]


def test_the_login_link_works_once(db, world):
    path = _welcome_path(_page_signup())
    first = Client(HTTP_HOST="umbrella.localhost")
    assert first.get(path)["Location"] == "/"
    replay = Client(HTTP_HOST="umbrella.localhost")
    refused = replay.get(path)
    assert refused.status_code == 302 and refused["Location"] == "/accounts/login/"
    assert replay.get("/api/v1/me/").status_code in (401, 403)


def test_the_login_link_expires(db, world):
    with time_machine.travel(SIGNUP_INSTANT, tick=False) as clock:
        path = _welcome_path(_page_signup())
        clock.shift(timedelta(seconds=LOGIN_LINK_SECONDS + 1))
        late = Client(HTTP_HOST="umbrella.localhost")
        assert late.get(path)["Location"] == "/accounts/login/"
        assert late.get("/api/v1/me/").status_code in (401, 403)


def test_the_login_link_is_refused_on_another_tenant_and_when_tampered(db, world):
    path = _welcome_path(_page_signup())
    other = Client(HTTP_HOST="globex.localhost")
    assert other.get(path)["Location"] == "/accounts/login/"
    assert other.get("/api/v1/me/").status_code in (401, 403)
    tampered = Client(HTTP_HOST="umbrella.localhost")
    assert tampered.get(path.replace("/welcome/", "/welcome/x"))["Location"] == "/accounts/login/"
    assert tampered.get("/api/v1/me/").status_code in (401, 403)
    # Refused links used nothing up: the real one still works, once.
    assert Client(HTTP_HOST="umbrella.localhost").get(path)["Location"] == "/"


def test_the_login_link_is_refused_once_the_owner_is_no_longer_a_member(db, world):
    path = _welcome_path(_page_signup())
    Membership.objects.filter(tenant__slug="umbrella").delete()
    assert Client(HTTP_HOST="umbrella.localhost").get(path)["Location"] == "/accounts/login/"
