"""How a request finds its tenant: by API key first, else by host; refusals are explicit."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey
from accounts.services import api_key_create, api_key_revoke
from tenants.services import tenant_deactivate


def test_public_host_serves_public_site_not_tenant_api(db, world):
    client = Client(HTTP_HOST="localhost")
    assert client.get("/healthz").json() == {"status": "ok"}
    response = client.get("/api/v1/jobs/")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_unknown_host_is_404(db, world):
    assert Client(HTTP_HOST="nosuch.localhost").get("/accounts/login/").status_code == 404


def test_tenant_host_serves_its_login_page(db, world):
    page = Client(HTTP_HOST="acme.localhost").get("/accounts/login/")
    assert page.status_code == 200 and b"Sign in to Acme Mills" in page.content


def test_login_refuses_a_user_of_another_tenant(db, world):
    from .conftest import PASSWORD

    client = Client(HTTP_HOST="acme.localhost")
    response = client.post("/accounts/login/", {"username": "owner@globex.test", "password": PASSWORD})
    assert response.status_code == 200 and b"for this organization" in response.content
    ok = client.post("/accounts/login/", {"username": "owner@acme.test", "password": PASSWORD})
    assert ok.status_code == 302
    assert b"Acme Mills" in client.get("/").content


def test_api_key_routes_to_its_tenant_on_any_host(db, world):
    issued = api_key_create(tenant=world.globex, name="k", scopes=["read"], created_by_id=None)
    for host in ("localhost", "127.0.0.1", "acme.localhost"):
        me = Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {issued.raw}").get("/api/v1/me/")
        assert me.status_code == 200 and me.json()["tenant"]["slug"] == "globex"
        assert me.json()["api_key"]["prefix"] == issued.key.prefix and me.json()["scopes"] == ["read"]


def _status_and_message(raw: str) -> tuple[int, str]:
    response = Client(HTTP_HOST="acme.localhost", HTTP_AUTHORIZATION=f"Bearer {raw}").get("/api/v1/me/")
    assert response["WWW-Authenticate"].startswith("Bearer")
    return response.status_code, response.json()["error"]["message"]


def test_bad_keys_are_refused_with_a_reason(db, world):
    issued = api_key_create(tenant=world.acme, name="k", scopes=["read"], created_by_id=None)
    assert _status_and_message("not-a-key") == (401, "Malformed API key.")
    tampered = issued.raw[:-4] + ("AAAA" if not issued.raw.endswith("AAAA") else "BBBB")
    assert _status_and_message(tampered) == (401, "Invalid API key.")
    ApiKey.objects.filter(id=issued.key.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _status_and_message(issued.raw) == (401, "This API key has expired; create a new one.")
    ApiKey.objects.filter(id=issued.key.id).update(expires_at=None)
    api_key_revoke(tenant_id=world.acme.id, key_id=issued.key.id)
    assert _status_and_message(issued.raw) == (401, "This API key has been revoked.")


def test_key_is_stored_hashed_and_use_is_recorded(db, world):
    issued = api_key_create(tenant=world.acme, name="k", scopes=["read"], created_by_id=None)
    key = ApiKey.objects.get(id=issued.key.id)
    assert issued.raw.startswith(f"pdm_{key.prefix}_")
    assert issued.raw not in key.key_hash and len(key.key_hash) == 64
    assert key.last_used_at is None
    Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {issued.raw}").get("/api/v1/me/")
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_deactivated_tenant_refuses_browsers_and_keys(db, world):
    issued = api_key_create(tenant=world.acme, name="k", scopes=["read"], created_by_id=None)
    tenant_deactivate(tenant=world.acme)
    by_host = Client(HTTP_HOST="acme.localhost").get("/accounts/login/")
    assert by_host.status_code == 403 and by_host.json()["error"]["code"] == "tenant_inactive"
    status, message = _status_and_message(issued.raw)
    assert status == 401 and "deactivated" in message
    # The other tenant is unaffected.
    assert Client(HTTP_HOST="globex.localhost").get("/accounts/login/").status_code == 200


def test_openapi_schema_and_docs_are_served_offline(db, world):
    public = Client(HTTP_HOST="localhost")
    schema = public.get("/api/v1/schema/?format=json").json()
    assert "/api/v1/signup/" in schema["paths"]
    tenant_schema = Client(HTTP_HOST="acme.localhost").get("/api/v1/schema/?format=json").json()
    assert {"/api/v1/jobs/", "/api/v1/members/", "/api/v1/api-keys/"} <= set(tenant_schema["paths"])
    docs = public.get("/api/v1/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn." not in docs and "unpkg" not in docs


def test_home_needs_a_member_and_logout_ends_the_session(db, world):
    from .conftest import PASSWORD

    anonymous = Client(HTTP_HOST="acme.localhost").get("/")
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    stranger = Client(HTTP_HOST="acme.localhost")
    stranger.force_login(world.globex_owner)
    assert stranger.get("/").status_code == 404
    member = Client(HTTP_HOST="acme.localhost")
    assert member.login(username="viewer@acme.test", password=PASSWORD)
    assert b"Viewer" in member.get("/").content
    member.post("/accounts/logout/")
    assert member.get("/").status_code == 302


def test_demo_seed_creates_a_usable_demo_once(db, world, capsys, settings):
    from django.core.management import call_command
    from django_tenants.utils import tenant_context

    from billing.models import Subscription
    from jobs.models import Job
    from machines.models import Machine, MachineType
    from machines.selectors import readings_count
    from maintenance.models import Alert, WorkOrder
    from pdm_saas.demo import demo_span_hours, demo_steps
    from planning.models import PartNeed, PreventivePlan, SparePart
    from tenants.selectors import tenant_by_slug

    settings.BILLING_QUOTAS_ENABLED = True  # as in production: the demo must fit its plan
    call_command("demo_seed")
    call_command("demo_seed")  # idempotent
    assert "demo@example.com" in capsys.readouterr().out
    with tenant_context(tenant_by_slug(slug="demo")):
        motor = MachineType.objects.get(key="induction-motor-siemens-1la7").metadata
        span_h, _ = demo_span_hours(motor)
        expected = sum(demo_steps(m.machine_type.metadata, span_h) for m in Machine.objects.all())
        assert Machine.objects.count() == 5 and readings_count() == expected
    subscription = Subscription.objects.get(tenant__slug="demo")
    assert (subscription.plan.code, subscription.status) == ("growth", "active")
    with tenant_context(tenant_by_slug(slug="demo")):
        assert Alert.objects.filter(status="open").count() == 1 and WorkOrder.objects.count() == 1
        # The shop floor: a bearing in stock through the ledger, what a bearing repair uses, and a
        # monthly preventive plan per pump (seeded once: the second seed above added none).
        bearing = SparePart.objects.get()
        assert (bearing.in_stock, list(bearing.movements.values_list("quantity", flat=True))) == (4, [4])
        assert PartNeed.objects.get().part_id == bearing.id
        assert sorted(PreventivePlan.objects.values_list("machine__name", flat=True)) == ["Pump-001", "Pump-002"]
        # The demo types' models are trained by the worker: queued once, not again on a re-seed.
        assert Job.objects.filter(kind="models.onboard", status="queued").count() == 2
    client = Client(HTTP_HOST="demo.localhost")
    assert client.login(username="demo@example.com", password="demo-pass-2026")
    assert client.get("/api/v1/machines/").json()["count"] == 5
