"""Files that cannot be imported: each gets a clear message naming its place in the file, and
nothing of it is written, neither by the real import nor by a dry run."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from django_tenants.utils import tenant_context

from billing.models import Plan, Subscription
from machines.models import Machine, MachineType
from maintenance.checklist_models import ChecklistTemplate
from maintenance.models import AlertRule
from pdm_saas.config_transfer.document import MAX_FILE_BYTES
from planning.preventive_models import PreventivePlan
from tests.config_transfer.conftest import exported, imported


@pytest.fixture
def document(acme_config: None, client_for: Any) -> dict[str, Any]:
    return exported(client_for("admin"))


@pytest.fixture
def globex_owner(client_for: Any, world: Any) -> Any:
    return client_for("globex_owner", tenant=world.globex)


def nothing_in(tenant: Any) -> bool:
    with tenant_context(tenant):
        return not any(model.objects.exists() for model in (MachineType, Machine, AlertRule, ChecklistTemplate,
                                                            PreventivePlan))


def refused(client: Any, body: Any, *, dry_run: bool = False) -> list[dict[str, str]]:
    response = imported(client, body, dry_run=dry_run)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "invalid_config" and error["message"].startswith("Nothing was imported.")
    return error["details"]["problems"]  # type: ignore[no-any-return]


def changed(document: dict[str, Any], section: str, index: int, **fields: Any) -> dict[str, Any]:
    bad = copy.deepcopy(document)
    bad[section][index].update(fields)
    return bad


FILE_LEVEL = [
    pytest.param(b'{"format": "pdm-config", "version": 1, ', "The file is not valid JSON", id="malformed"),
    pytest.param('{"format": "pdm-config", "version": 1}'.encode("utf-16"), "not UTF-8", id="utf16"),
    pytest.param(b"", "The file is empty", id="empty"),
    pytest.param(b"[1, 2]", "one JSON object", id="not-an-object"),
    pytest.param(b'{"format": "other", "version": 1}', "\"format\" must be \"pdm-config\"", id="format"),
    pytest.param(b'{"format": "pdm-config", "version": 7}', "Version 7 of the format is not known", id="version"),
    pytest.param(b'{"format": "pdm-config", "version": 1, "machines": NaN}', "NaN", id="nan"),
    pytest.param(b'{"format": "pdm-config", "version": 1, "gadgets": []}', "Unknown field \"gadgets\"",
                 id="unknown-section"),
]


@pytest.mark.parametrize(("body", "message"), FILE_LEVEL)
def test_a_file_that_is_not_a_configuration_is_refused_in_words(globex_owner, world, body, message):
    problems = refused(globex_owner, body)
    assert message in problems[0]["message"] and problems[0]["path"].startswith("$")
    assert nothing_in(world.globex)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(globex_owner, world):
    body = b'{"format": "pdm-config", "version": 1, "pad": "' + b"x" * MAX_FILE_BYTES + b'"}'
    response = globex_owner.post("/api/v1/config/import/", {"file": _upload(body)})
    assert response.status_code == 400
    assert "a configuration file may be at most 5 MB" in response.json()["error"]["message"]


def _upload(body: bytes) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("config.json", body, content_type="application/json")


ENTRY_LEVEL = [
    ("machines", 0, {"colour": "red"}, "$.machines[0].colour", "Unknown field \"colour\""),
    ("machines", 0, {"criticality": "extreme"}, "$.machines[0].criticality", "one of low, medium, high, critical"),
    ("machines", 1, {"install_date": "29/02/2024"}, "$.machines[1].install_date", "YYYY-MM-DD"),
    ("machines", 0, {"machine_type": "warp-drive"}, "$.machines[0].machine_type",
     "No machine type \"warp-drive\" in the file nor in this organization"),
    ("pm_plans", 0, {"machine": "Motor-999"}, "$.pm_plans[0].machine", "No machine \"Motor-999\""),
    ("pm_plans", 0, {"failure_mode": "rust"}, "$.pm_plans[0].failure_mode", "\"rust\" is not a failure mode"),
    ("pm_plans", 1, {"signal": "colour"}, "$.pm_plans[1].signal", "one of the machine's signals"),
    ("alert_rules", 2, {"machine": "Motor-404"}, "$.alert_rules[2].machine", "No machine \"Motor-404\""),
    ("alert_rules", 0, {"warning_probability": "high"}, "$.alert_rules[0].warning_probability", "expected a number"),
    ("machine_types", 0, {"key": "other-key"}, "$.machine_types[0].key", "differs from the document's own key"),
]


@pytest.mark.parametrize(("section", "index", "fields", "path", "message"), ENTRY_LEVEL)
def test_a_bad_entry_is_named_by_its_place_and_nothing_is_written(document, globex_owner, world, section, index,
                                                                  fields, path, message):
    for dry_run in (True, False):
        problems = refused(globex_owner, changed(document, section, index, **fields), dry_run=dry_run)
        assert any(p["path"] == path and message in p["message"] for p in problems), problems
    assert nothing_in(world.globex)


def test_an_invalid_machine_type_document_is_refused_by_the_metadata_checks(document, globex_owner, world):
    bad = copy.deepcopy(document)
    bad["machine_types"][0]["metadata"]["sensors"][0]["unit"] = 42
    problems = refused(globex_owner, bad)
    assert problems[0]["path"].startswith("$.machine_types[0].metadata.sensors[0]")
    assert nothing_in(world.globex)


def test_every_problem_is_listed_not_just_the_first(document, globex_owner):
    bad = changed(changed(document, "machines", 0, criticality="extreme"), "pm_plans", 1, every=0)
    bad["machines"].append(dict(bad["machines"][1]))
    paths = {p["path"] for p in refused(globex_owner, bad)}
    assert {"$.machines[0].criticality", "$.pm_plans[1].every", "$.machines[2]"} <= paths


def test_a_refusal_only_a_service_knows_rolls_the_whole_import_back(document, globex_owner, world):
    """The structure is fine, but alert_rule_save refuses warning above critical: the types and
    machines before it in the file were already made in the transaction, and are gone."""
    bad = changed(document, "alert_rules", 1, warning_probability=0.95, critical_probability=0.6)
    problems = refused(globex_owner, bad)
    assert problems == [{"path": "$.alert_rules[1]", "message": "Need 0 < warning_probability <= "
                                                                "critical_probability <= 1."}]
    assert nothing_in(world.globex)


def test_the_plan_s_machine_limit_counts_the_whole_file(document, globex_owner, world, settings):
    settings.BILLING_QUOTAS_ENABLED = True
    plan = Plan.objects.get(code="trial")
    Subscription.objects.filter(tenant=world.globex).update(plan=plan)
    Plan.objects.filter(id=plan.id).update(max_machines=1)
    problems = refused(globex_owner, document, dry_run=True)
    assert problems[0]["path"] == "$.machines"
    assert "includes 1 machines and you have 0. Adding 2 would make 2." in problems[0]["message"]
    assert nothing_in(world.globex)


def test_dry_run_must_be_true_or_false(globex_owner, document):
    response = globex_owner.post("/api/v1/config/import/?dry_run=maybe", json.dumps(document),
                                 content_type="application/json")
    assert response.status_code == 400 and "dry_run is true or false" in response.json()["error"]["message"]


def test_an_unknown_field_inside_a_checklist_item_is_named(document, globex_owner, world):
    bad = copy.deepcopy(document)
    bad["checklist_templates"][0]["items"][0]["colour"] = "red"
    index = next(i for i, t in enumerate(bad["checklist_templates"]) if t["name"] == "Safety first")
    bad["checklist_templates"][index]["items"][1]["kind"] = "tick"  # a unit and limits on a tick item
    problems = refused(globex_owner, bad)
    assert {"path": "$.checklist_templates[0].items[0].colour",
            "message": "Unknown field \"colour\"; expected one of text, required, kind, unit, min_value, "
                       "max_value."} in problems
    assert any(p["path"] == f"$.checklist_templates[{index}].items[1]" and "Only number items" in p["message"]
               for p in problems)
    assert nothing_in(world.globex)
