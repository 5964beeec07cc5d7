"""The Configuration page: download, a dry run shown per section, an import, problems listed with
their place in the file."""

from __future__ import annotations

import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from machines.models import Machine


def upload(document: Any) -> SimpleUploadedFile:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return SimpleUploadedFile("acme-config.json", body, content_type="application/json")


def test_the_download_is_the_configuration_file(acme_config, client_for):
    response = client_for("admin").get("/organization/configuration/export/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="acme-config.json"'
    document = json.loads(response.content)
    assert document["format"] == "pdm-config" and [m["name"] for m in document["machines"]] == ["Motor-001",
                                                                                                 "Motor-002"]


def test_a_dry_run_then_an_import_from_the_page(acme_config, client_for, world):
    document = json.loads(client_for("admin").get("/organization/configuration/export/").content)
    page = client_for("globex_owner", tenant=world.globex)

    dry = page.post("/organization/configuration/", {"file": upload(document), "action": "dry_run"})

    assert dry.status_code == 200
    text = dry.content.decode()
    assert "Dry run of acme-config.json: nothing was written" in text and "2 would be created" in text
    assert "To create: Motor-001; Motor-002" in text
    with tenant_context(world.globex):
        assert not Machine.objects.exists()

    assert 'name="checked"' in text  # "Import this file" carries what the dry run checked

    done = page.post("/organization/configuration/", {"file": upload(document), "action": "import"})

    assert done.status_code == 200 and "Imported acme-config.json" in done.content.decode()
    with tenant_context(world.globex):
        assert Machine.objects.count() == 2


def test_problems_are_listed_with_their_place(acme_config, client_for, world):
    document = json.loads(client_for("admin").get("/organization/configuration/export/").content)
    document["machines"][1]["criticality"] = "extreme"
    response = client_for("globex_owner", tenant=world.globex).post(
        "/organization/configuration/", {"file": upload(document), "action": "import"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "Nothing was imported" in text and "<code>$.machines[1].criticality</code>" in text


def test_no_file_chosen_is_said_plainly(client_for):
    response = client_for("admin").post("/organization/configuration/", {"action": "dry_run"})
    assert response.status_code == 400 and "Choose a configuration file." in response.content.decode()


def test_the_organization_menu_links_the_page_for_admins_only(client_for):
    assert 'href="/organization/configuration/"' in client_for("admin").get("/organization/settings/").content.decode()
    assert 'href="/organization/configuration/"' not in client_for("viewer").get(
        "/organization/settings/").content.decode()


def test_import_this_file_applies_what_the_dry_run_checked(acme_config, client_for, world):
    document = client_for("admin").get("/organization/configuration/export/").content.decode()
    done = client_for("globex_owner", tenant=world.globex).post("/organization/configuration/", {
        "checked": document, "file_name": "acme-config.json", "action": "import"})
    assert done.status_code == 200 and "Imported acme-config.json" in done.content.decode()
    with tenant_context(world.globex):
        assert Machine.objects.count() == 2


def test_import_this_file_is_checked_again(client_for, world):
    """What comes back is not trusted for having been checked: it goes through the same import."""
    response = client_for("globex_owner", tenant=world.globex).post("/organization/configuration/", {
        "checked": '{"format": "pdm-config", "version": 2}', "file_name": "x.json", "action": "import"})
    assert response.status_code == 400 and "Version 2 of the format is not known here" in response.content.decode()
