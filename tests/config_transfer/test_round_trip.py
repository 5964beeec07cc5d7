"""Configuration out of acme and into globex: what arrives is what left (modulo ids and
timestamps), a dry run writes nothing, a second import changes nothing, a change in the file is an
update, things the file does not name are left alone."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from machines.models import Machine, MachineType
from maintenance.checklist_models import ChecklistTemplate, ChecklistTemplateItem
from maintenance.models import AlertRule
from planning.preventive_models import PreventivePlan
from tests.config_transfer.conftest import exported, imported

SECTIONS = ("machine_types", "machines", "alert_rules", "checklist_templates", "pm_plans")


def sections(document: dict[str, Any]) -> dict[str, Any]:
    return {name: document[name] for name in SECTIONS}


def counts(tenant: Any) -> dict[str, int]:
    with tenant_context(tenant):
        return {"types": MachineType.objects.count(), "machines": Machine.objects.count(),
                "rules": AlertRule.objects.count(), "templates": ChecklistTemplate.objects.count(),
                "items": ChecklistTemplateItem.objects.count(), "plans": PreventivePlan.objects.count()}


def stamps(tenant: Any) -> list[Any]:
    with tenant_context(tenant):
        return [sorted(model.objects.values_list("id", "updated_at"))
                for model in (MachineType, Machine, ChecklistTemplate, PreventivePlan)]


@pytest.fixture
def acme_admin(client_for: Any) -> Any:
    return client_for("admin")


@pytest.fixture
def globex_owner(client_for: Any, world: Any) -> Any:
    return client_for("globex_owner", tenant=world.globex)


def test_what_acme_exports_globex_imports_and_exports_the_same(acme_config, acme_admin, globex_owner, world):
    document = exported(acme_admin)
    assert (document["format"], document["version"], document["organization"]) == ("pdm-config", 1, "acme")
    assert len(document["machines"]) == 2 and len(document["pm_plans"]) == 2 and len(document["alert_rules"]) == 3

    response = imported(globex_owner, document)

    assert response.status_code == 200, response.content
    report = response.json()
    assert report["applied"] is True and report["dry_run"] is False
    assert report["sections"]["machines"]["created"] == ["Motor-001", "Motor-002"]
    assert report["sections"]["pm_plans"]["created"] == ["Grease bearings on Motor-001",
                                                         "Inspect windings on Motor-002"]
    assert sections(exported(globex_owner)) == sections(document)
    with tenant_context(world.globex):  # ids never cross: globex's rows point at globex's own rows
        plan = PreventivePlan.objects.select_related("machine").get(title="Grease bearings")
        assert plan.machine == Machine.objects.get(name="Motor-001")


def test_a_dry_run_reports_and_writes_nothing(acme_config, acme_admin, globex_owner, world):
    document = exported(acme_admin)
    before = counts(world.globex)

    response = imported(globex_owner, document, dry_run=True)

    assert response.status_code == 200, response.content
    report = response.json()
    assert report["dry_run"] is True and report["applied"] is False
    assert report["sections"]["machine_types"]["created"] == ["induction-motor-siemens-1la7"]
    assert report["sections"]["alert_rules"]["created"] == [
        "default rule", "rule for type induction-motor-siemens-1la7", "rule for machine Motor-001"]
    assert len(report["sections"]["checklist_templates"]["created"]) == len(document["checklist_templates"])
    assert counts(world.globex) == before


def test_a_second_import_of_the_same_file_changes_nothing(acme_config, acme_admin, globex_owner, world):
    document = exported(acme_admin)
    assert imported(globex_owner, document).status_code == 200
    before = stamps(world.globex)

    again = imported(globex_owner, document).json()

    assert all(not found["created"] and not found["updated"] for found in again["sections"].values()), again
    unchanged = [len(again["sections"][name]["unchanged"]) for name in SECTIONS]
    assert unchanged == [len(document[name]) for name in SECTIONS]
    assert stamps(world.globex) == before


def test_importing_into_the_organization_it_came_from_changes_nothing(acme_config, acme_admin, world):
    before = stamps(world.acme)
    report = imported(acme_admin, exported(acme_admin)).json()
    assert all(not found["created"] and not found["updated"] for found in report["sections"].values())
    assert stamps(world.acme) == before


def test_a_changed_entry_is_an_update_and_what_the_file_leaves_out_stays(acme_config, acme_admin, globex_owner, world):
    document = exported(acme_admin)
    assert imported(globex_owner, document).status_code == 200
    with tenant_context(world.globex):
        Machine.objects.create(machine_type=MachineType.objects.get(), name="Only-in-globex")
    document["machines"][0]["site"] = "Plant C"
    document["pm_plans"][0]["every"] = 6
    document["checklist_templates"] = [t for t in document["checklist_templates"] if t["name"] == "Safety first"]
    document["checklist_templates"][0]["items"].reverse()

    report = imported(globex_owner, document).json()

    assert report["sections"]["machines"]["updated"] == ["Motor-001"]
    assert report["sections"]["pm_plans"]["updated"] == ["Grease bearings on Motor-001"]
    assert len(report["sections"]["checklist_templates"]["updated"]) == 1
    with tenant_context(world.globex):
        assert Machine.objects.get(name="Motor-001").site == "Plant C"
        assert Machine.objects.filter(name="Only-in-globex").exists()  # an import never deletes
        assert PreventivePlan.objects.get(title="Grease bearings").every == 6
        items = ChecklistTemplate.objects.get(name="Safety first").items.order_by("position")
        assert [i.text for i in items][0] == "What did you see?"


def test_a_file_using_a_type_the_target_already_has_needs_not_carry_it(acme_config, acme_admin, globex_owner, world):
    document = exported(acme_admin)
    assert imported(globex_owner, {**document, "machines": [], "alert_rules": [], "checklist_templates": [],
                                   "pm_plans": []}).status_code == 200
    response = imported(globex_owner, {**document, "machine_types": []})
    assert response.status_code == 200, response.content
    assert response.json()["sections"]["machines"]["created"] == ["Motor-001", "Motor-002"]


def test_the_file_may_come_as_a_multipart_upload(acme_config, acme_admin, globex_owner, world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = json.dumps(exported(acme_admin)).encode()
    response = globex_owner.post("/api/v1/config/import/", {
        "file": SimpleUploadedFile("acme-config.json", body, content_type="application/json"), "dry_run": "true"})
    assert response.status_code == 200, response.content
    assert response.json()["dry_run"] is True
    assert counts(world.globex)["machines"] == 0
    missing = globex_owner.post("/api/v1/config/import/", {"dry_run": "true"})
    assert missing.status_code == 400 and "multipart field \"file\"" in missing.json()["error"]["message"]


def test_an_alert_rule_of_the_file_replaces_the_target_s_rule_for_the_same_target(acme_config, acme_admin,
                                                                                  globex_owner, world):
    """Rules are one per target: globex's own default rule is the file's default rule's match."""
    with tenant_context(world.globex):
        AlertRule.objects.create(warning_probability=0.6, critical_probability=0.7)
    report = imported(globex_owner, exported(acme_admin)).json()
    assert report["sections"]["alert_rules"]["updated"] == ["default rule"]
    with tenant_context(world.globex):
        assert AlertRule.objects.get(machine__isnull=True, machine_type__isnull=True).warning_probability == 0.4


def test_a_changed_type_document_updates_the_type_and_its_version(acme_config, acme_admin, globex_owner, world):
    document = exported(acme_admin)
    assert imported(globex_owner, document).status_code == 200
    document["machine_types"][0]["metadata"]["name"] = "Siemens 1LA7 motor (plant standard)"

    report = imported(globex_owner, document).json()

    assert report["sections"]["machine_types"]["updated"] == ["induction-motor-siemens-1la7"]
    with tenant_context(world.globex):
        machine_type = MachineType.objects.get()
        assert (machine_type.name, machine_type.version) == ("Siemens 1LA7 motor (plant standard)", 2)


def test_an_import_does_not_move_a_machine_to_another_type(acme_config, acme_admin, globex_owner, world):
    from machines.services import machine_type_adopt

    document = exported(acme_admin)
    with tenant_context(world.globex):
        pump = machine_type_adopt(key="centrifugal-pump")
        Machine.objects.create(machine_type=pump, name="Motor-001")
    response = imported(globex_owner, document)
    assert response.status_code == 400
    assert {"path": "$.machines[0].machine_type",
            "message": "Motor-001 is a centrifugal-pump here; an import does not change a machine's type (its "
                       "readings follow it)."} in response.json()["error"]["details"]["problems"]
