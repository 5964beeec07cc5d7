"""Members, roles, invitations and API keys, through the API."""

from __future__ import annotations

from datetime import timedelta

from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import ApiKey, Invitation, Membership

from .conftest import PASSWORD

JSON = "application/json"


def _membership_id(world, actor: str) -> int:
    return Membership.objects.get(tenant=world.acme, user=world.user(actor)).id


def test_admin_changes_a_role_and_removes_a_member(client_for, world):
    admin = client_for("admin")
    response = admin.patch(f"/api/v1/members/{_membership_id(world, 'viewer')}/", {"role": "engineer"},
                           content_type=JSON)
    assert response.status_code == 200 and response.json()["role"] == "engineer"
    assert admin.delete(f"/api/v1/members/{_membership_id(world, 'engineer')}/").status_code == 204
    assert not Membership.objects.filter(tenant=world.acme, user=world.engineer).exists()


def test_only_owners_touch_ownership(client_for, world):
    admin = client_for("admin")
    owner_id = _membership_id(world, "owner")
    refused = admin.patch(f"/api/v1/members/{owner_id}/", {"role": "viewer"}, content_type=JSON)
    assert refused.status_code == 403
    promote = admin.patch(f"/api/v1/members/{_membership_id(world, 'viewer')}/", {"role": "owner"},
                          content_type=JSON)
    assert promote.status_code == 403
    assert admin.delete(f"/api/v1/members/{owner_id}/").status_code == 403


def test_the_last_owner_cannot_leave_or_be_demoted(client_for, world):
    owner = client_for("owner")
    owner_id = _membership_id(world, "owner")
    response = owner.patch(f"/api/v1/members/{owner_id}/", {"role": "admin"}, content_type=JSON)
    assert response.status_code == 409 and response.json()["error"]["code"] == "last_owner"
    assert owner.delete(f"/api/v1/members/{owner_id}/").status_code == 409
    # With a second owner, the first may step down.
    owner.patch(f"/api/v1/members/{_membership_id(world, 'admin')}/", {"role": "owner"}, content_type=JSON)
    assert owner.patch(f"/api/v1/members/{owner_id}/", {"role": "admin"}, content_type=JSON).status_code == 200


def test_unknown_role_is_a_validation_error(client_for, world):
    response = client_for("owner").patch(f"/api/v1/members/{_membership_id(world, 'viewer')}/",
                                         {"role": "emperor"}, content_type=JSON)
    assert response.status_code == 400 and "role" in response.json()["error"]["details"]


def _invite(client: Client, email: str, role: str = "engineer") -> dict:
    response = client.post("/api/v1/invitations/", {"email": email, "role": role}, content_type=JSON)
    assert response.status_code == 201, response.content
    return response.json()


def test_invitation_to_a_new_person(client_for, world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        issued = _invite(client_for("admin"), "New.Hire@Acme.test")
    assert issued["accept_url"].startswith("http://acme.localhost:8000/accounts/invitations/")
    assert mail.outbox and issued["token"] in mail.outbox[-1].body
    assert Invitation.objects.get(id=issued["invitation"]["id"]).token_hash != issued["token"]
    anon = Client(HTTP_HOST="acme.localhost")
    accepted = anon.post("/api/v1/invitations/accept/", {"token": issued["token"], "password": PASSWORD},
                         content_type=JSON)
    assert accepted.status_code == 201 and accepted.json()["role"] == "engineer"
    assert accepted.json()["email"] == "new.hire@acme.test"
    again = anon.post("/api/v1/invitations/accept/", {"token": issued["token"], "password": PASSWORD},
                      content_type=JSON)
    assert again.status_code == 410 and again.json()["error"]["code"] == "invitation_invalid"


def test_invitation_for_an_existing_user_needs_their_password(client_for, world):
    issued = _invite(client_for("owner"), "owner@globex.test", role="viewer")
    anon = Client(HTTP_HOST="acme.localhost")
    wrong = anon.post("/api/v1/invitations/accept/", {"token": issued["token"], "password": "nope-nope-1"},
                      content_type=JSON)
    assert wrong.status_code == 403
    assert not Membership.objects.filter(tenant=world.acme, user=world.globex_owner).exists()
    right = anon.post("/api/v1/invitations/accept/", {"token": issued["token"], "password": PASSWORD},
                      content_type=JSON)
    assert right.status_code == 201
    assert Membership.objects.get(tenant=world.acme, user=world.globex_owner).role == "viewer"


def test_expired_revoked_or_foreign_invitations_are_refused(client_for, world):
    admin = client_for("admin")
    expired = _invite(admin, "late@acme.test")
    Invitation.objects.filter(id=expired["invitation"]["id"]).update(expires_at=timezone.now() - timedelta(1))
    revoked = _invite(admin, "revoked@acme.test")
    assert admin.delete(f"/api/v1/invitations/{revoked['invitation']['id']}/").status_code == 204
    foreign = _invite(admin, "elsewhere@acme.test")
    for token, host in ((expired["token"], "acme.localhost"), (revoked["token"], "acme.localhost"),
                        (foreign["token"], "globex.localhost")):
        response = Client(HTTP_HOST=host).post("/api/v1/invitations/accept/",
                                               {"token": token, "password": PASSWORD}, content_type=JSON)
        assert response.status_code == 410, host


def test_admins_cannot_invite_owners_and_members_cannot_be_invited_twice(client_for, world):
    admin = client_for("admin")
    assert admin.post("/api/v1/invitations/", {"email": "boss@acme.test", "role": "owner"},
                      content_type=JSON).status_code == 403
    dup = admin.post("/api/v1/invitations/", {"email": "viewer@acme.test"}, content_type=JSON)
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "already_member"


def test_api_key_lifecycle(client_for, world):
    admin = client_for("admin")
    created = admin.post("/api/v1/api-keys/", {"name": "SCADA", "scopes": ["read", "predict"]}, content_type=JSON)
    assert created.status_code == 201
    raw, key_id = created.json()["key"], created.json()["api_key"]["id"]
    listed = admin.get("/api/v1/api-keys/").json()["results"]
    assert [k["name"] for k in listed if k["id"] == key_id] == ["SCADA"]
    assert all("key" not in k and "key_hash" not in k for k in listed)  # shown once, never again
    api = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert api.get("/api/v1/me/").json()["scopes"] == ["predict", "read"]
    revoked = admin.post(f"/api/v1/api-keys/{key_id}/revoke/")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert api.get("/api/v1/me/").status_code == 401
    assert key_id not in {k["id"] for k in admin.get("/api/v1/api-keys/").json()["results"]}
    assert key_id in {k["id"] for k in admin.get("/api/v1/api-keys/?include_revoked=1").json()["results"]}
    assert ApiKey.objects.get(id=key_id).created_by_id == world.admin.id


def test_api_key_validation(client_for, world):
    admin = client_for("admin")
    bad_scope = admin.post("/api/v1/api-keys/", {"name": "x", "scopes": ["owner"]}, content_type=JSON)
    assert bad_scope.status_code == 400 and "scopes" in bad_scope.json()["error"]["details"]
    past = admin.post("/api/v1/api-keys/", {"name": "x", "scopes": ["read"],
                                            "expires_at": "2001-01-01T00:00:00Z"}, content_type=JSON)
    assert past.status_code == 400 and "expires_at" in past.json()["error"]["details"]


def test_admin_key_acts_as_admin_but_never_as_owner(key_client, world):
    client = key_client(["read", "admin"])
    assert client.post("/api/v1/invitations/", {"email": "k@acme.test", "role": "viewer"},
                       content_type=JSON).status_code == 201
    assert client.post("/api/v1/invitations/", {"email": "k2@acme.test", "role": "owner"},
                       content_type=JSON).status_code == 403


def test_pagination_and_filtering(client_for, world):
    owner = client_for("owner")
    page = owner.get("/api/v1/members/?page_size=2").json()
    assert page["count"] == 4 and len(page["results"]) == 2 and page["next"]
    viewers = owner.get("/api/v1/members/?role=viewer").json()["results"]
    assert [m["email"] for m in viewers] == ["viewer@acme.test"]


def test_invitation_accept_page_signs_the_new_member_in(client_for, world):
    issued = _invite(client_for("admin"), "page@acme.test", role="viewer")
    browser = Client(HTTP_HOST="acme.localhost")
    form = browser.get(f"/accounts/invitations/{issued['token']}/")
    assert form.status_code == 200 and b"Join Acme Mills" in form.content
    response = browser.post(f"/accounts/invitations/{issued['token']}/",
                            {"full_name": "Pat Page", "password": PASSWORD})
    assert response.status_code == 302
    assert browser.get("/api/v1/me/").json()["role"] == "viewer"
    reused = Client(HTTP_HOST="acme.localhost").post(f"/accounts/invitations/{issued['token']}/",
                                                     {"password": PASSWORD})
    assert b"invalid, expired, revoked or already used" in reused.content


def test_a_user_who_started_jobs_can_still_be_deleted(db, world):
    from django_tenants.utils import tenant_context

    from accounts.models import User
    from jobs.services import job_create

    with tenant_context(world.acme):
        job = job_create(kind="x", created_by_id=world.viewer.id)
    User.objects.filter(id=world.viewer.id).delete()  # from the public schema
    with tenant_context(world.acme):
        job.refresh_from_db()
        assert job.created_by_id == world.viewer.id  # kept as a plain reference, shown as unknown
