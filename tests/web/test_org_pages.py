"""Organization pages: members and invitations, API keys, tenant settings (rename, export,
delete). Every page: renders for a member, refuses a viewer's POST, hides from another tenant,
sends the anonymous to login; and each action really happens."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django_tenants.utils import schema_exists, tenant_context

from accounts.models import ApiKey, Invitation, Membership
from accounts.roles import Actor, Role
from accounts.services import api_key_create, invitation_create
from jobs.models import Job
from pdm_saas.celery import app as celery_app
from tenants.models import Tenant
from tenants.services import EXPORT_KIND

PAGES = ["/accounts/organization/", "/accounts/api-keys/", "/organization/settings/"]


@pytest.fixture
def eager_tasks(django_capture_on_commit_callbacks) -> Iterator[Any]:
    """Run tasks in-process when the request's transaction would commit."""
    celery_app.conf.task_always_eager = True
    try:
        yield lambda: django_capture_on_commit_callbacks(execute=True)
    finally:
        celery_app.conf.task_always_eager = False


def _member(world, name: str) -> Membership:
    return Membership.objects.get(tenant=world.acme, user=world.user(name))


def _invitation(world, email: str = "someone@acme.test") -> Invitation:
    actor = Actor(tenant_id=world.acme.id, role=Role.ADMIN, user_id=world.admin.id)
    return invitation_create(actor=actor, email=email, role=Role.VIEWER).invitation


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("url", PAGES)
def test_pages_send_the_anonymous_to_login_and_hide_from_another_tenant(client_for, url):
    anonymous = client_for(None).get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert client_for("globex_owner").get(url).status_code == 404


def test_members_and_settings_render_read_only_for_a_viewer(client_for):
    viewer = client_for("viewer")
    members = viewer.get("/accounts/organization/").content.decode()
    assert "admin@acme.test" in members and "engineer@acme.test" in members
    assert "Invite someone" not in members and "member-role" not in members and "Remove" not in members
    settings_page = viewer.get("/organization/settings/").content.decode()
    assert "Acme Mills" in settings_page and "acme" in settings_page and "Trial" in settings_page
    assert 'value="rename"' not in settings_page and 'value="delete"' not in settings_page
    assert 'href="/accounts/api-keys/"' not in members  # the sub-nav hides what they cannot open


def test_api_keys_page_is_for_admins_only(client_for):
    assert client_for("engineer").get("/accounts/api-keys/").status_code == 403
    assert client_for("viewer").get("/accounts/api-keys/").status_code == 403
    assert client_for("admin").get("/accounts/api-keys/").status_code == 200


def test_viewer_posts_are_refused_and_change_nothing(client_for, world):
    viewer = client_for("viewer")
    invitation = _invitation(world)
    engineer = _member(world, "engineer")
    key = api_key_create(tenant=world.acme, name="k", scopes=["read"], created_by_id=None).key
    posts = [
        ("/accounts/organization/invitations/", {"email": "x@acme.test", "role": "viewer"}),
        (f"/accounts/organization/members/{engineer.id}/role/", {"role": "admin"}),
        (f"/accounts/organization/members/{engineer.id}/remove/", {}),
        (f"/accounts/organization/invitations/{invitation.id}/revoke/", {}),
        ("/accounts/api-keys/new/", {"name": "mine", "scopes": ["read"]}),
        (f"/accounts/api-keys/{key.id}/revoke/", {}),
        ("/organization/settings/", {"action": "rename", "name": "Hacked"}),
        ("/organization/settings/", {"action": "export"}),
    ]
    for url, data in posts:
        assert viewer.post(url, data).status_code == 403, url
    engineer.refresh_from_db()
    invitation.refresh_from_db()
    key.refresh_from_db()
    assert engineer.role == Role.ENGINEER and invitation.revoked_at is None and key.revoked_at is None
    assert not Invitation.objects.filter(email="x@acme.test").exists()
    assert not ApiKey.objects.filter(name="mine").exists()
    assert Tenant.objects.get(id=world.acme.id).name == "Acme Mills"
    with tenant_context(world.acme):
        assert not Job.objects.filter(kind=EXPORT_KIND).exists()


def test_acme_objects_are_404_on_globex_host(client_for, world):
    globex = client_for("globex_owner", tenant=world.globex)
    engineer = _member(world, "engineer")
    invitation = _invitation(world)
    key = api_key_create(tenant=world.acme, name="k", scopes=["read"], created_by_id=None).key
    for url, data in [
        (f"/accounts/organization/members/{engineer.id}/role/", {"role": "viewer"}),
        (f"/accounts/organization/members/{engineer.id}/remove/", {}),
        (f"/accounts/organization/invitations/{invitation.id}/revoke/", {}),
        (f"/accounts/api-keys/{key.id}/revoke/", {}),
    ]:
        assert globex.post(url, data).status_code == 404, url
    assert Membership.objects.filter(id=engineer.id, role=Role.ENGINEER).exists()
    key.refresh_from_db()
    invitation.refresh_from_db()
    assert key.revoked_at is None and invitation.revoked_at is None


# --- members and invitations ----------------------------------------------------------------


def test_admin_invites_and_sees_the_link_once(client_for, world, mailoutbox):
    admin = client_for("admin")
    response = admin.post("/accounts/organization/invitations/", {"email": "New@Acme.test", "role": "engineer"})
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    invitation = Invitation.objects.get(tenant=world.acme, email="new@acme.test")
    assert invitation.role == Role.ENGINEER
    html = response.content.decode()
    link = html.split('id="accept-url">')[1].split("<")[0]
    assert link.startswith("http") and "acme.localhost" in link and "/accounts/invitations/" in link
    assert "shown <strong>only this once</strong>" in html
    listed = admin.get("/accounts/organization/").content.decode()
    assert "new@acme.test" in listed and "/accounts/invitations/" not in listed.split("Pending invitations")[0]


def test_invite_errors_are_shown_on_the_form(client_for, world):
    admin = client_for("admin")
    owner_invite = admin.post("/accounts/organization/invitations/", {"email": "o2@acme.test", "role": "owner"})
    assert owner_invite.status_code == 400  # admins are not even offered "owner"
    existing = admin.post("/accounts/organization/invitations/", {"email": "viewer@acme.test", "role": "viewer"})
    assert existing.status_code == 400 and b"already a member" in existing.content
    assert not Invitation.objects.filter(tenant=world.acme).exists()


def test_admin_changes_a_role_and_removes_a_member(client_for, world):
    admin = client_for("admin")
    viewer = _member(world, "viewer")
    changed = admin.post(f"/accounts/organization/members/{viewer.id}/role/", {"role": "engineer"}, follow=True)
    assert b"viewer@acme.test is now Engineer" in changed.content
    viewer.refresh_from_db()
    assert viewer.role == Role.ENGINEER
    engineer = _member(world, "engineer")
    removed = admin.post(f"/accounts/organization/members/{engineer.id}/remove/", follow=True)
    assert b"Member removed." in removed.content
    assert not Membership.objects.filter(id=engineer.id).exists()


def test_ownership_rules_are_shown_as_messages(client_for, world):
    owner_row = _member(world, "owner")
    admin = client_for("admin")
    refused = admin.post(f"/accounts/organization/members/{owner_row.id}/role/", {"role": "viewer"}, follow=True)
    assert b"Only an owner can" in refused.content
    last = client_for("owner").post(f"/accounts/organization/members/{owner_row.id}/role/", {"role": "admin"},
                                    follow=True)
    assert b"at least one owner" in last.content
    owner_row.refresh_from_db()
    assert owner_row.role == Role.OWNER


def test_admin_revokes_an_invitation(client_for, world):
    invitation = _invitation(world)
    page = client_for("admin").get("/accounts/organization/").content.decode()
    assert "someone@acme.test" in page
    response = client_for("admin").post(f"/accounts/organization/invitations/{invitation.id}/revoke/", follow=True)
    assert b"Invitation revoked." in response.content and b"someone@acme.test" not in response.content
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None


def test_an_admin_who_leaves_is_signed_out(client_for, world):
    admin = client_for("admin")
    response = admin.post(f"/accounts/organization/members/{_member(world, 'admin').id}/remove/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/"
    assert not Membership.objects.filter(tenant=world.acme, user=world.admin).exists()


# --- API keys -------------------------------------------------------------------------------


def test_admin_creates_a_key_shown_once_and_revokes_it(client_for, world):
    admin = client_for("admin")
    created = admin.post("/accounts/api-keys/new/", {"name": "SCADA", "scopes": ["read", "predict"]})
    assert created.status_code == 200 and "no-store" in created["Cache-Control"]
    key = ApiKey.objects.get(tenant=world.acme, name="SCADA")
    assert key.scopes == ["predict", "read"] and key.created_by_id == world.admin.id
    html = created.content.decode()
    raw = html.split('id="raw-key">')[1].split("<")[0]
    assert raw.startswith(f"pdm_{key.prefix}_") and "will not be shown again" in html
    listed = admin.get("/accounts/api-keys/").content.decode()
    assert key.prefix in listed and raw not in listed
    revoked = admin.post(f"/accounts/api-keys/{key.id}/revoke/", follow=True)
    assert b"revoked" in revoked.content
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_key_form_needs_a_scope(client_for, world):
    response = client_for("admin").post("/accounts/api-keys/new/", {"name": "none"})
    assert response.status_code == 400 and not ApiKey.objects.filter(name="none").exists()
    assert b"pdm_" not in response.content.split(b'id="api-keys"')[0]


# --- tenant settings ------------------------------------------------------------------------


def test_admin_renames_the_organization(client_for, world):
    admin = client_for("admin")
    response = admin.post("/organization/settings/", {"action": "rename", "name": "  Acme Mills GmbH "}, follow=True)
    assert b"Organization renamed." in response.content
    assert Tenant.objects.get(id=world.acme.id).name == "Acme Mills GmbH"
    blank = admin.post("/organization/settings/", {"action": "rename", "name": "   "})
    assert blank.status_code == 400 and Tenant.objects.get(id=world.acme.id).name == "Acme Mills GmbH"


def test_admin_exports_and_sees_the_job_with_progress(client_for, world, eager_tasks):
    admin = client_for("admin")
    with eager_tasks():
        response = admin.post("/organization/settings/", {"action": "export"})
    assert response.status_code == 302
    with tenant_context(world.acme):
        job = Job.objects.get(kind=EXPORT_KIND)
    assert job.status == Job.Status.SUCCEEDED
    page = admin.get("/organization/settings/").content.decode()
    assert f'data-job="{job.id}"' in page and 'data-field="progress"' in page and "js/jobs.js" in page
    assert f"/api/v1/tenant/exports/{job.id}/download/" in page
    assert admin.get(f"/api/v1/tenant/exports/{job.id}/download/").status_code == 200


def test_only_an_owner_deletes_and_only_with_the_slug_and_an_export(client_for, world, eager_tasks):
    admin_page = client_for("admin").get("/organization/settings/").content.decode()
    assert 'value="delete"' not in admin_page
    assert client_for("admin").post("/organization/settings/",
                                     {"action": "delete", "confirm_slug": "acme"}).status_code == 403
    owner = client_for("owner")
    assert 'value="delete"' in owner.get("/organization/settings/").content.decode()
    wrong = owner.post("/organization/settings/", {"action": "delete", "confirm_slug": "acme-typo"})
    assert wrong.status_code == 400 and b"Type the organization" in wrong.content
    no_export = owner.post("/organization/settings/", {"action": "delete", "confirm_slug": "acme"})
    assert no_export.status_code == 400 and b"Export the organization" in no_export.content
    assert Tenant.objects.filter(slug="acme").exists() and schema_exists("t_acme")


def test_owner_deletes_after_an_export(client_for, world, eager_tasks):
    owner = client_for("owner")
    with eager_tasks():
        owner.post("/organization/settings/", {"action": "export"})
    response = owner.post("/organization/settings/", {"action": "delete", "confirm_slug": "acme"})
    assert response.status_code == 302 and response["Location"] == "http://localhost/"
    assert not Tenant.objects.filter(slug="acme").exists() and not schema_exists("t_acme")
    assert schema_exists("t_globex")


def test_unknown_settings_action_is_a_bad_request(client_for):
    assert client_for("admin").post("/organization/settings/", {"action": "explode"}).status_code == 400
