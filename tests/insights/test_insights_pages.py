"""The insights page and API: roles, the second tenant, the email setting."""

from __future__ import annotations

from typing import Any

import pytest
from django_tenants.utils import tenant_context

from insights.models import SummaryPreference

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("actor", ["viewer", "engineer", "admin", "owner"])
def test_every_member_reads_the_page(client_for: Any, actor: str) -> None:
    response = client_for(actor).get("/insights/?days=7")
    assert response.status_code == 200
    body = response.content.decode()
    for heading in ("Business KPIs", "How well the failure warnings hold up", "Prediction analytics", "Data quality",
                    "How we compute this"):
        assert heading in body
    assert ("Weekly summary email" in body) == (actor in ("admin", "owner"))
    assert 'href="/insights/"' in body  # the nav link


def test_other_tenant_and_anonymous(client_for: Any, world: Any) -> None:
    assert client_for("globex_owner").get("/insights/").status_code == 404
    assert client_for("outsider").get("/insights/").status_code == 404
    assert client_for(None).get("/insights/").status_code == 302
    assert client_for("globex_owner").post("/insights/email/", {}).status_code == 404


@pytest.mark.parametrize("actor", ["viewer", "engineer"])
def test_email_setting_needs_admin(client_for: Any, world: Any, actor: str) -> None:
    assert client_for(actor).post("/insights/email/", {}).status_code == 403
    with tenant_context(world.acme):
        assert not SummaryPreference.objects.exists()


def test_admin_opts_out_and_back_in(client_for: Any, world: Any) -> None:
    client = client_for("admin")
    assert client.post("/insights/email/", {}).status_code == 302
    with tenant_context(world.acme):
        assert SummaryPreference.objects.get(user_id=world.admin.id).weekly_email is False
    assert "checked" not in client.get("/insights/").content.decode().split('name="weekly_email"')[1][:20]
    client.post("/insights/email/", {"weekly_email": "on"})
    with tenant_context(world.acme):
        assert SummaryPreference.objects.get(user_id=world.admin.id).weekly_email is True


def test_api(key_client: Any, client_for: Any, world: Any) -> None:
    response = key_client(["read"]).get("/api/v1/insights/?days=7")
    assert response.status_code == 200
    data = response.json()
    assert data["period"]["days"] == 7
    assert set(data) == {"period", "model_performance", "predictions", "business", "data_quality", "formulas"}
    assert key_client(["write"]).get("/api/v1/insights/").status_code == 403
    assert key_client(["read"]).get("/api/v1/insights/?days=0").status_code == 400
    assert client_for("viewer").get("/api/v1/insights/").status_code == 200
    assert client_for("globex_owner").get("/api/v1/insights/").status_code == 404
    assert client_for(None).get("/api/v1/insights/").status_code in (401, 403)
