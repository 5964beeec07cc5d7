"""Every tenant endpoint refuses the second tenant, outsiders, anonymous callers and roles or
keys without the scope it needs, and serves the ones with it."""

from __future__ import annotations

from typing import Any

import pytest

# (method, path, body, scope needed). Paths are relative to /api/v1/.
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("get", "me/", None, "read"),
    ("get", "members/", None, "read"),
    ("get", "jobs/", None, "read"),
    ("get", "jobs/{acme_job}/", None, "read"),
    ("get", "tenant/", None, "read"),
    ("patch", "tenant/", {"name": "Acme Renamed"}, "admin"),
    ("get", "invitations/", None, "admin"),
    ("post", "invitations/", {"email": "new@acme.test", "role": "viewer"}, "admin"),
    ("get", "api-keys/", None, "admin"),
    ("post", "api-keys/", {"name": "ci", "scopes": ["read"]}, "admin"),
    ("get", "tenant/exports/", None, "admin"),
    ("post", "tenant/deactivate/", None, "owner"),
    ("delete", "tenant/", {"confirm_slug": "acme"}, "owner"),
    ("get", "machine-types/", None, "read"),
    ("get", "machine-types/library/", None, "read"),
    ("post", "machine-types/adopt/", {"key": "centrifugal-pump"}, "write"),
    ("get", "machines/", None, "read"),
    ("post", "machines/", {"name": "M-9", "machine_type": "nope"}, "write"),
    ("get", "uploads/", None, "read"),
    ("post", "uploads/", {}, "write"),
    ("get", "mapping-presets/", None, "read"),
    ("post", "readings/", [{"machine": "nope", "ts": "2026-01-01T00:00:00Z", "values": {}}], "write"),
    ("get", "alerts/", None, "read"),
    ("post", "alerts/raise/", {"machine": "nope", "probability": 0.9}, "predict"),
    ("get", "work-orders/", None, "read"),
    ("post", "work-orders/", {"machine": "nope", "title": "x"}, "write"),
    ("get", "photos/", None, "read"),
    ("post", "photos/", {}, "write"),
    ("get", "checklist-templates/", None, "read"),
    ("post", "checklist-templates/", {"machine_type": "nope", "name": "x", "items": []}, "write"),
    ("post", "checklist-templates/seed/", {"machine_type": "nope"}, "write"),
    ("get", "failure-events/", None, "read"),
    ("post", "failure-events/import/", {}, "write"),
    ("post", "failure-events/", {"machine": "nope", "occurred_at": "2026-01-01T00:00:00Z"}, "write"),
    ("get", "alert-rules/", None, "read"),
    ("post", "alert-rules/", {"warning_probability": 0.4, "critical_probability": 0.7}, "admin"),
    ("get", "webhooks/", None, "admin"),
    ("get", "mqtt-credentials/", None, "admin"),
    ("get", "config/export/", None, "admin"),
    ("post", "config/import/?dry_run=true", {"format": "pdm-config", "version": 1}, "admin"),
    ("post", "mqtt-credentials/", None, "admin"),
    ("post", "webhooks/", {"name": "x", "url": "https://example.test/h"}, "admin"),
    ("get", "models/", None, "read"),
    ("get", "datasets/", None, "read"),
    ("post", "models/onboard/", {"machine_type": "nope"}, "write"),
    ("post", "models/train-real/", {"machine_type": "nope"}, "write"),
    ("post", "models/retrain/", {"machine_type": "nope"}, "write"),
    ("post", "models/rollback/", {"machine_type": "nope", "kind": "rul_regressor"}, "admin"),
    ("get", "predictions/", None, "read"),
    ("post", "predictions/", {"machine": "nope"}, "predict"),
    ("post", "predictions/batch/", {"readings": [{"machine": "nope", "ts": 0, "values": {}}]}, "predict"),
    ("get", "billing/", None, "read"),
    ("post", "billing/checkout/", {"plan": "starter"}, "admin"),
    ("post", "billing/portal/", None, "admin"),
    ("get", "planning/technicians/", None, "read"),
    ("post", "planning/technicians/", {"name": "Tech", "skills": ["motor"]}, "write"),
    ("get", "planning/parts/", None, "read"),
    ("post", "planning/parts/", {"name": "Bearing", "in_stock": 1}, "write"),
    ("get", "planning/stock-movements/", None, "read"),
    ("get", "planning/part-uses/", None, "read"),
    ("post", "planning/part-uses/", {"work_order": 10**20, "part": "nope", "quantity": 1}, "write"),
    ("get", "planning/part-needs/", None, "read"),
    ("post", "planning/part-needs/", {"machine_type": "nope", "failure_mode": "x", "part": "nope"}, "write"),
    ("get", "planning/windows/", None, "read"),
    ("post", "planning/windows/", {"machine": "nope", "weekdays": [0]}, "write"),
    ("get", "planning/plans/", None, "read"),
    ("get", "insights/", None, "read"),
    ("post", "planning/plans/", {"horizon_days": 0}, "write"),
    ("get", "planning/pm-plans/", None, "read"),
    ("post", "planning/pm-plans/", {"machine": "nope", "title": "x", "every": 1, "unit": "days",
                                    "start_date": "2026-01-05"}, "write"),
    # Web Push is personal: every member manages their own browsers and choices.
    ("get", "push/subscriptions/", None, "read"),
    ("post", "push/subscriptions/", {"endpoint": "https://push.invalid/x", "keys": {"p256dh": "x", "auth": "y"}},
     "read"),
    ("get", "push/preferences/", None, "read"),
    ("put", "push/preferences/", {"alert_opened": True}, "read"),
    ("get", "push/key/", None, "read"),
]
ROLE_SCOPES = {
    "viewer": {"read"},
    "engineer": {"read", "predict", "write"},
    "admin": {"read", "predict", "write", "admin"},
    "owner": {"read", "predict", "write", "admin", "owner"},
}


def _call(client: Any, method: str, path: str, body: dict[str, Any] | None, world: Any) -> Any:
    url = "/api/v1/" + path.format(acme_job=world.acme_job_id)
    return getattr(client, method)(url, data=body, content_type="application/json")


def _ids(endpoint: tuple[str, str, Any, str]) -> str:
    return f"{endpoint[0]} {endpoint[1]}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
def test_anonymous_gets_401(client_for, world, endpoint):
    method, path, body, _ = endpoint
    response = _call(client_for(None), method, path, body, world)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
@pytest.mark.parametrize("actor", ["outsider", "globex_owner"])
def test_non_members_get_404(client_for, world, endpoint, actor):
    method, path, body, _ = endpoint
    response = _call(client_for(actor), method, path, body, world)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
@pytest.mark.parametrize("role", ["viewer", "engineer", "admin", "owner"])
def test_roles(client_for, world, endpoint, role):
    method, path, body, scope = endpoint
    response = _call(client_for(role), method, path, body, world)
    if scope in ROLE_SCOPES[role]:
        assert response.status_code not in (401, 403, 404), response.content
    else:
        assert response.status_code == 403, response.content
        assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_ids)
@pytest.mark.parametrize("scopes", [["read"], ["read", "predict", "write"], ["read", "admin"]])
def test_api_key_scopes(key_client, world, endpoint, scopes):
    method, path, body, scope = endpoint
    response = _call(key_client(scopes), method, path, body, world)
    if scope in scopes:
        assert response.status_code not in (401, 403, 404), response.content
    else:
        assert response.status_code == 403, response.content


def test_other_tenants_key_sees_only_its_own_rows_whatever_the_host(key_client, world):
    client = key_client(["read", "admin"], tenant=world.globex, host="acme.localhost")
    jobs = client.get("/api/v1/jobs/").json()["results"]
    kinds = {job["kind"] for job in jobs}
    assert "seed.globex" in kinds and "seed.acme" not in kinds
    members = {m["email"] for m in client.get("/api/v1/members/").json()["results"]}
    assert members == {"owner@globex.test"}
    assert client.get("/api/v1/tenant/").json()["slug"] == "globex"


def test_other_tenant_cannot_reach_a_row_by_id(key_client, world):
    client = key_client(["read"], tenant=world.globex)
    acme_only_id = world.acme_job_id if world.acme_job_id != world.globex_job_id else None
    if acme_only_id is None:
        # Same numeric id in both schemas: the globex key must get globex's row, never acme's.
        assert client.get(f"/api/v1/jobs/{world.acme_job_id}/").json()["kind"] == "seed.globex"
    else:
        assert client.get(f"/api/v1/jobs/{acme_only_id}/").status_code == 404


def test_members_cannot_touch_another_tenants_membership(client_for, world):
    from accounts.models import Membership

    globex_membership = Membership.objects.get(tenant=world.globex)
    client = client_for("owner")
    assert client.patch(f"/api/v1/members/{globex_membership.id}/", {"role": "viewer"},
                        content_type="application/json").status_code == 404
    assert client.delete(f"/api/v1/members/{globex_membership.id}/").status_code == 404
    globex_membership.refresh_from_db()
    assert globex_membership.role == "owner"


def test_api_keys_of_another_tenant_cannot_be_listed_or_revoked(client_for, key_client, world):
    from accounts.models import ApiKey
    from accounts.services import api_key_create

    issued = api_key_create(tenant=world.globex, name="globex-ci", scopes=["read"], created_by_id=None)
    client = client_for("owner")
    assert issued.key.prefix not in {k["prefix"] for k in client.get("/api/v1/api-keys/").json()["results"]}
    assert client.post(f"/api/v1/api-keys/{issued.key.id}/revoke/").status_code == 404
    assert ApiKey.objects.get(id=issued.key.id).revoked_at is None


# Endpoints of one model version (drift and outcomes): the same checks, on a version made in acme.
MODEL_VERSION_ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("get", "models/{model}/drift/", None, "read"),
    ("get", "models/{model}/outcomes/", None, "read"),
    ("post", "models/{model}/drift/check/", None, "write"),
    ("get", "models/{model}/challenger/", None, "read"),
    ("post", "models/{model}/decide/", None, "write"),
]


@pytest.fixture
def acme_model(db: None, world: Any) -> int:
    from django_tenants.utils import tenant_context

    from machines.services import machine_type_adopt
    from predictions.models import ModelVersion

    with tenant_context(world.acme):
        machine_type = machine_type_adopt(key="centrifugal-pump")
        return ModelVersion.objects.create(
            machine_type=machine_type, kind="failure_classifier", number=1, data_source="simulated",
            data_fingerprint="0" * 64, artifact_path="models/x/clf.zip", artifact_sha256="a" * 64).id


@pytest.mark.parametrize("endpoint", MODEL_VERSION_ENDPOINTS, ids=_ids)
@pytest.mark.parametrize("actor", [None, "outsider", "globex_owner", "viewer", "engineer", "admin", "owner"])
def test_model_version_endpoints(client_for, world, acme_model, endpoint, actor):
    method, path, body, scope = endpoint
    response = getattr(client_for(actor), method)("/api/v1/" + path.format(model=acme_model), data=body,
                                                  content_type="application/json")
    if actor is None:
        assert response.status_code == 401
    elif actor in ("outsider", "globex_owner"):
        assert response.status_code == 404
    elif scope in ROLE_SCOPES[actor]:
        assert response.status_code not in (401, 403, 404), response.content
    else:
        assert response.status_code == 403, response.content
