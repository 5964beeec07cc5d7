"""Who may take the configuration out and bring one in: admins and owners (the file describes the
whole setup, and an import rewrites what every member works with). Engineers and viewers are
refused (403); another organization's members and strangers learn nothing (404); an API key needs
the `admin` scope."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from machines.models import Machine
from tests.config_transfer.conftest import exported, imported

ENDPOINTS = ["/api/v1/config/export/", "/organization/configuration/", "/organization/configuration/export/"]


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(("actor", "status"), [("owner", 200), ("admin", 200), ("engineer", 403), ("viewer", 403)])
def test_only_admins_read_the_configuration(client_for, path, actor, status):
    assert client_for(actor).get(path).status_code == status


@pytest.mark.parametrize("path", ENDPOINTS)
def test_another_organization_s_member_gets_a_404(client_for, world, path):
    assert client_for("globex_owner", tenant=world.acme).get(path).status_code == 404
    assert client_for("outsider").get(path).status_code in (302, 404)


def test_an_import_from_an_engineer_or_a_viewer_is_refused_and_writes_nothing(acme_config, client_for, world):
    document = exported(client_for("admin"))
    document["machines"][0]["site"] = "Moved"
    for actor in ("engineer", "viewer"):
        assert imported(client_for(actor), document).status_code == 403
        response = client_for(actor).post("/organization/configuration/", {
            "file": SimpleUploadedFile("c.json", json.dumps(document).encode()), "action": "import"})
        assert response.status_code == 403
    with tenant_context(world.acme):
        assert Machine.objects.get(name="Motor-001").site == "Plant A"


def test_another_organization_cannot_import_into_this_one(acme_config, client_for, world):
    document = exported(client_for("admin"))
    assert imported(client_for("globex_owner", tenant=world.acme), document).status_code == 404


def test_the_export_names_nothing_of_another_organization(acme_config, client_for, world):
    globex = exported(client_for("globex_owner", tenant=world.globex))
    assert all(globex[name] == [] for name in ("machine_types", "machines", "alert_rules", "checklist_templates",
                                               "pm_plans"))


def test_an_api_key_needs_the_admin_scope(acme_config, key_client):
    assert key_client(["read", "write"]).get("/api/v1/config/export/").status_code == 403
    admin_key = key_client(["read", "write", "admin"])
    document = exported(admin_key)
    assert imported(admin_key, document, dry_run=True).status_code == 200


def test_an_api_key_of_another_organization_reaches_only_its_own(acme_config, key_client, world):
    """A key's tenant is the key's, whatever the host: globex's admin key exports globex."""
    document = exported(key_client(["read", "admin"], tenant=world.globex, host="acme.localhost"))
    assert document["organization"] == "globex" and document["machines"] == []
