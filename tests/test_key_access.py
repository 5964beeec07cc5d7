"""An API key acts with at most its creator's current role (issue 13, "access ends when
membership ends"): removing a member revokes their keys, demoting one caps them, a deactivated
account's keys stop working, and the key list says who made each key and what it can do now."""

from __future__ import annotations

from django.test import Client

from accounts.models import ApiKey, Membership, User

JSON = "application/json"


def _membership_id(world, actor: str) -> int:
    return Membership.objects.get(tenant=world.acme, user=world.user(actor)).id


def _admin_key(client_for, scopes: list[str]) -> tuple[Client, int]:
    created = client_for("admin").post("/api/v1/api-keys/", {"name": "admin's", "scopes": scopes},
                                       content_type=JSON)
    assert created.status_code == 201, created.content
    raw = created.json()["key"]
    return Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {raw}"), created.json()["api_key"]["id"]


def test_removing_a_member_revokes_their_keys_at_once(client_for, world):
    key, key_id = _admin_key(client_for, ["read", "write", "admin"])
    assert key.get("/api/v1/me/").status_code == 200
    assert client_for("owner").delete(f"/api/v1/members/{_membership_id(world, 'admin')}/").status_code == 204
    refused = key.get("/api/v1/me/")
    assert refused.status_code == 401
    assert ApiKey.objects.get(id=key_id).revoked_at is not None
    assert key.post("/api/v1/api-keys/", {"name": "x", "scopes": ["admin"]}, content_type=JSON).status_code == 401


def test_a_demoted_admins_key_is_capped_to_the_new_role(client_for, world):
    key, key_id = _admin_key(client_for, ["read", "write", "admin"])
    owner = client_for("owner")
    demoted = owner.patch(f"/api/v1/members/{_membership_id(world, 'admin')}/", {"role": "viewer"},
                          content_type=JSON)
    assert demoted.status_code == 200
    assert key.get("/api/v1/me/").json()["scopes"] == ["read"]
    assert key.post("/api/v1/api-keys/", {"name": "x", "scopes": ["admin"]}, content_type=JSON).status_code == 403
    assert key.post("/api/v1/invitations/", {"email": "boss@acme.test", "role": "admin"},
                    content_type=JSON).status_code == 403
    assert key.get("/api/v1/members/").status_code == 200  # reading is still within a viewer's role
    listed = {k["id"]: k for k in owner.get("/api/v1/api-keys/").json()["results"]}[key_id]
    assert listed["scopes"] == ["admin", "read", "write"] and listed["effective_scopes"] == ["read"]
    # A cap, not a revocation: promoted again, the key does what it was made for.
    owner.patch(f"/api/v1/members/{_membership_id(world, 'admin')}/", {"role": "admin"}, content_type=JSON)
    assert key.get("/api/v1/me/").json()["scopes"] == ["admin", "read", "write"]


def test_a_key_capped_to_nothing_is_refused_with_403(client_for, world):
    key, _ = _admin_key(client_for, ["predict"])
    client_for("owner").patch(f"/api/v1/members/{_membership_id(world, 'admin')}/", {"role": "viewer"},
                              content_type=JSON)
    refused = key.get("/api/v1/me/")
    assert refused.status_code == 403 and "role" in refused.json()["error"]["message"]


def test_a_deactivated_accounts_keys_stop_working(client_for, world):
    key, _ = _admin_key(client_for, ["read", "admin"])
    User.objects.filter(id=world.admin.id).update(is_active=False)  # not world.admin: shared by all tests
    refused = key.get("/api/v1/me/")
    assert refused.status_code == 401 and "no longer" in refused.json()["error"]["message"]


def test_a_key_cannot_mint_a_key_stronger_than_itself(client_for, world):
    key, _ = _admin_key(client_for, ["read", "admin"])
    stronger = key.post("/api/v1/api-keys/", {"name": "x", "scopes": ["write"]}, content_type=JSON)
    assert stronger.status_code == 403
    same = key.post("/api/v1/api-keys/", {"name": "y", "scopes": ["read"]}, content_type=JSON)
    assert same.status_code == 201
    assert ApiKey.objects.get(id=same.json()["api_key"]["id"]).created_by_id == world.admin.id


def test_the_key_list_shows_creator_scopes_created_and_last_used(client_for, world):
    key, key_id = _admin_key(client_for, ["read"])
    key.get("/api/v1/me/")
    listed = {k["id"]: k for k in client_for("owner").get("/api/v1/api-keys/").json()["results"]}[key_id]
    assert listed["created_by"] == "admin@acme.test"
    assert listed["scopes"] == ["read"] and listed["effective_scopes"] == ["read"]
    assert listed["created_at"] and listed["last_used_at"]
    page = client_for("owner").get("/accounts/api-keys/").content.decode()
    assert "admin@acme.test" in page and "Last used" in page


def test_the_web_page_shows_a_capped_key(client_for, world):
    _, key_id = _admin_key(client_for, ["read", "admin"])
    client_for("owner").patch(f"/api/v1/members/{_membership_id(world, 'admin')}/", {"role": "viewer"},
                              content_type=JSON)
    page = client_for("owner").get("/accounts/api-keys/").content.decode()
    row = page[page.index(f'data-key="{key_id}"'):]
    assert "capped to" in row[:row.index("</tr>")]


def test_deleting_the_creators_account_revokes_their_keys(client_for, world):
    key, key_id = _admin_key(client_for, ["read", "admin"])
    User.objects.get(id=world.admin.id).delete()  # a copy: world.admin is shared by all tests
    row = ApiKey.objects.get(id=key_id)
    assert row.created_by_id is None and row.revoked_at is not None
    assert key.get("/api/v1/me/").status_code == 401
