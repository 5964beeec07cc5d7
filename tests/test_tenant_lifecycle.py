"""Tenant settings, deactivation, export and deletion."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django_tenants.utils import schema_exists, tenant_context

from accounts.models import Membership
from jobs.models import Job
from pdm_saas.celery import app as celery_app
from tenants.models import Tenant
from tenants.storage import UnsafePath, tenant_path

JSON = "application/json"


@pytest.fixture
def eager_tasks(django_capture_on_commit_callbacks) -> Iterator[Any]:
    """Runs tasks in-process, through the same tenant-aware task path, when the request's
    transaction would commit (the test transaction never does)."""
    celery_app.conf.task_always_eager = True
    try:
        yield lambda: django_capture_on_commit_callbacks(execute=True)
    finally:
        celery_app.conf.task_always_eager = False


def _export(client, eager_tasks) -> dict:
    with eager_tasks():
        response = client.post("/api/v1/tenant/exports/")
    assert response.status_code == 202, response.content
    return response.json()


def test_admin_renames_the_organization(client_for, world):
    response = client_for("admin").patch("/api/v1/tenant/", {"name": "Acme Mills GmbH"}, content_type=JSON)
    assert response.status_code == 200 and response.json()["name"] == "Acme Mills GmbH"
    assert response.json()["plan"] == "trial"


def test_export_job_writes_the_tenants_data_only(client_for, world, eager_tasks):
    owner = client_for("owner")
    job = _export(owner, eager_tasks)
    finished = owner.get(f"/api/v1/jobs/{job['id']}/").json()
    assert finished["status"] == "succeeded" and finished["progress"] == 100, finished
    download = owner.get(f"/api/v1/tenant/exports/{job['id']}/download/")
    assert download.status_code == 200
    document = json.loads(b"".join(download.streaming_content))
    assert document["tenant"]["slug"] == "acme"
    assert {m["email"] for m in document["members"]} == {
        "owner@acme.test", "admin@acme.test", "engineer@acme.test", "viewer@acme.test"}
    kinds = {row["fields"]["kind"] for row in document["data"]["jobs.Job"]}
    assert "seed.acme" in kinds and "seed.globex" not in kinds


def test_exports_are_not_downloadable_across_tenants_or_roles(client_for, key_client, world, eager_tasks):
    job = _export(client_for("owner"), eager_tasks)
    url = f"/api/v1/tenant/exports/{job['id']}/download/"
    assert client_for("globex_owner", tenant=world.globex).get(url).status_code == 404
    assert key_client(["read", "admin"], tenant=world.globex).get(url).status_code == 404
    assert client_for("viewer").get(url).status_code == 403
    assert client_for("engineer").get(url).status_code == 403


def test_tenant_paths_cannot_escape_their_folder():
    assert tenant_path("t_acme", "exports", "a.json").parts[-3:] == ("t_acme", "exports", "a.json")
    for parts in (("..", "t_globex", "x"), ("/etc/passwd",), ("exports", "..", "..", "t_globex")):
        with pytest.raises(UnsafePath):
            tenant_path("t_acme", *parts)
    with pytest.raises(UnsafePath):
        tenant_path("public")


def test_delete_needs_confirmation_and_a_recent_export(client_for, world, eager_tasks):
    owner = client_for("owner")
    wrong = owner.delete("/api/v1/tenant/", {"confirm_slug": "acme-typo"}, content_type=JSON)
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "confirmation_required"
    no_export = owner.delete("/api/v1/tenant/", {"confirm_slug": "acme"}, content_type=JSON)
    assert no_export.status_code == 409 and no_export.json()["error"]["code"] == "export_required"
    assert Tenant.objects.filter(slug="acme").exists() and schema_exists("t_acme")


def test_delete_after_export_removes_schema_rows_and_keeps_an_archive(client_for, world, eager_tasks, settings):
    owner = client_for("owner")
    _export(owner, eager_tasks)
    response = owner.delete("/api/v1/tenant/", {"confirm_slug": "acme"}, content_type=JSON)
    assert response.status_code == 204
    assert not Tenant.objects.filter(slug="acme").exists()
    assert not Membership.objects.filter(tenant_id=world.acme.id).exists()
    assert not schema_exists("t_acme")
    archives = list((Path(settings.DATA_DIR) / "deleted-tenants").glob("t_acme-*.json"))
    assert archives and json.loads(archives[-1].read_text())["tenant"]["slug"] == "acme"
    # The other tenant is untouched.
    assert schema_exists("t_globex")
    with tenant_context(world.globex):
        assert Job.objects.filter(kind="seed.globex").exists()


def test_owner_deactivates_and_operator_reactivates(client_for, world):
    from django.core.management import call_command

    owner = client_for("owner")
    assert owner.post("/api/v1/tenant/deactivate/").json()["is_active"] is False
    assert owner.get("/api/v1/me/").status_code == 403
    call_command("tenant_admin", "activate", "acme")
    assert owner.get("/api/v1/me/").status_code == 200


def test_operator_puts_a_tenant_on_the_enterprise_plan(db, world, settings, capsys):
    """An enterprise contract is arranged outside Stripe Checkout: one command, and the plan's
    limits (none, for machines) apply at once."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from billing.models import Plan, Subscription
    from billing.quotas import tenant_plan

    settings.BILLING_QUOTAS_ENABLED = True
    Subscription.objects.filter(tenant=world.acme).update(plan_id=Plan.objects.get(code="trial").id,
                                                          status=Subscription.Status.TRIALING)
    globex_plan = Subscription.objects.filter(tenant=world.globex).values_list("plan_id", flat=True).first()
    call_command("tenant_admin", "plan", "acme", "enterprise")
    subscription = Subscription.objects.get(tenant=world.acme)
    assert subscription.plan.code == "enterprise" and subscription.status == Subscription.Status.ACTIVE
    assert subscription.trial_ends_at is None and tenant_plan(tenant_id=world.acme.id).max_machines is None
    assert "acme is on the Enterprise plan (active, no trial; machines: unlimited)" in capsys.readouterr().out
    assert Subscription.objects.filter(tenant=world.globex).values_list("plan_id", flat=True).first() == globex_plan
    with pytest.raises(CommandError, match="Name a plan: .*enterprise.* \\(got platinum\\)"):
        call_command("tenant_admin", "plan", "acme", "platinum")
    with pytest.raises(CommandError, match="Name a plan"):
        call_command("tenant_admin", "plan", "acme")
    assert Subscription.objects.get(tenant=world.acme).plan.code == "enterprise"
