"""Importing a configuration file: read it, check it against the organization, tell per section
what would be created, updated or left unchanged, then apply it in one transaction through each
app's own services (so every rule those services keep holds here too).

- **All or nothing**: any refusal rolls the whole import back and is reported at its place in
  the file.
- **Dry run**: the same import, rehearsed inside a transaction that is always rolled back, so the
  report also holds what only the services can tell (the plan's machine limit, say). Nothing
  stays; the database's id counters do move on.
- **Idempotent**: entries are matched by natural key (type key, machine name, the rule's target,
  checklist type + failure mode + name, PM plan machine + title); one equal to the file's is left
  untouched, so the same file imported twice changes nothing the second time.
- What the organization has and the file does not is left alone: an import never deletes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import DatabaseError, transaction
from rest_framework.exceptions import ValidationError

from billing.quotas import machine_quota_guard
from machines.models import Machine, MachineType
from machines.selectors import machines_in_use
from machines.services import machine_create, machine_type_import, machine_type_update, machine_update
from maintenance.checklist_models import ChecklistTemplate
from maintenance.services.checklists import ItemSpec, checklist_template_save
from maintenance.services.settings_rules import alert_rule_save
from pdm_saas.config_transfer.checks import Target, config_check
from pdm_saas.config_transfer.document import SECTIONS, Problem, config_read, entry_label, natural_key
from pdm_saas.config_transfer.export import checklist_entry, machine_entry, plan_entry, rule_entry, type_entry
from pdm_saas.errors import InvalidInput, ServiceError
from planning.preventive_serializers import PreventivePlanSerializer
from tenants.db import connection

CREATE, UPDATE, UNCHANGED = "created", "updated", "unchanged"
logger = logging.getLogger(__name__)


class ConfigInvalid(InvalidInput):
    """The file cannot be imported; `details["problems"]` lists each problem with its place."""

    code = "invalid_config"

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        super().__init__(f"Nothing was imported. {first.path}: {first.message}{more}",
                         details={"problems": [p.as_dict() for p in problems]})
        self.problems = problems


@dataclass
class Step:
    section: str
    path: str
    entry: dict[str, Any]
    action: str
    existing: Any = None


@dataclass
class ImportReport:
    dry_run: bool
    steps: list[Step] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        sections: dict[str, dict[str, list[str]]] = {
            name: {CREATE: [], UPDATE: [], UNCHANGED: []} for name in SECTIONS}
        for step in self.steps:
            sections[step.section][step.action].append(entry_label(step.section, step.entry))
        return {"dry_run": self.dry_run, "applied": not self.dry_run, "sections": sections}


class _Rehearsal(Exception):
    """Raised at the end of a dry run to roll its transaction back."""


def config_import(*, data: bytes, dry_run: bool, actor_id: int | None) -> ImportReport:
    """Import the file's configuration into the current tenant, or rehearse it (`dry_run`).
    Raises `ConfigInvalid` listing every problem; then nothing was written."""
    read = config_read(data)
    target = Target.load()
    # Without sections (not JSON, another format) there is nothing to check further; otherwise
    # every problem is listed at once, so one round of fixes is enough.
    problems = [*read.problems, *(config_check(read.sections, target) if read.sections else [])]
    if problems:
        raise ConfigInvalid(problems)
    report = ImportReport(dry_run=dry_run, steps=_steps(read.sections, target))
    try:
        with transaction.atomic():
            _apply(report.steps, actor_id)
            if dry_run:
                raise _Rehearsal
    except _Rehearsal:
        pass
    return report


# --- what would change ---------------------------------------------------------------------------

_ENTRY_OF: dict[str, Callable[[Any], dict[str, Any]]] = {
    "machine_types": type_entry, "machines": machine_entry, "alert_rules": rule_entry,
    "checklist_templates": checklist_entry, "pm_plans": plan_entry,
}


def _steps(sections: dict[str, list[dict[str, Any]]], target: Target) -> list[Step]:
    steps = []
    for name in SECTIONS:  # in order: what later sections refer to comes first
        for index, entry in enumerate(sections[name]):
            existing = target.match(name, natural_key(name, entry))
            action = CREATE if existing is None else UNCHANGED if _ENTRY_OF[name](existing) == entry else UPDATE
            steps.append(Step(name, f"$.{name}[{index}]", entry, action, existing))
    return steps


# --- applying -------------------------------------------------------------------------------------


def _apply(steps: list[Step], actor_id: int | None) -> None:
    """Every step in the caller's transaction; each in a savepoint, so one refusal does not hide
    the next one's. Any refusal: `ConfigInvalid`, and the caller's transaction rolls back."""
    problems = _quota_problems(steps)
    for step in steps:
        if step.action == UNCHANGED:
            continue
        try:
            with transaction.atomic():
                _APPLY[step.section](step, actor_id)
        except ServiceError as exc:
            problems.append(Problem(step.path, exc.message))
        except ValidationError as exc:
            problems.extend(_validation_problems(step.path, exc.detail))
        except DatabaseError:  # what the checks and services missed (a race): said in words, logged whole
            logger.exception("config import: the database refused %s", step.path)
            problems.append(Problem(step.path, "The database refused this entry (perhaps changed at the same "
                                               "time by someone else); try the import again."))
    if problems:
        raise ConfigInvalid(problems)


def _quota_problems(steps: list[Step]) -> list[Problem]:
    """The plan's machine limit against every machine the file adds (or brings back from retired)
    at once, so the refusal names the whole import rather than its nth machine."""
    adding = sum(1 for s in steps if s.section == "machines" and s.entry["status"] != "retired" and (
        s.action == CREATE or (s.action == UPDATE and s.existing.status == "retired")))
    try:
        with transaction.atomic():
            machine_quota_guard(tenant_id=connection.tenant.id, adding=adding, used=machines_in_use)
    except ServiceError as exc:
        return [Problem("$.machines", exc.message)]
    return []


def _validation_problems(path: str, detail: Any) -> list[Problem]:
    if isinstance(detail, dict):
        return [Problem(f"{path}.{name}", " ".join(str(m) for m in (messages if isinstance(messages, list)
                                                                     else [messages])))
                for name, messages in detail.items()]
    return [Problem(path, " ".join(str(m) for m in detail) if isinstance(detail, list) else str(detail))]


def _type_apply(step: Step, actor_id: int | None) -> None:
    if step.existing is None:
        machine_type_import(document=step.entry["metadata"])
    else:
        machine_type_update(type_id=step.existing.id, document=step.entry["metadata"])


def _machine_fields(entry: dict[str, Any]) -> dict[str, Any]:
    fields = {name: entry[name] for name in ("site", "line", "position", "serial_number", "criticality", "status")}
    cost, installed = entry["downtime_cost_per_hour"], entry["install_date"]
    return {**fields, "downtime_cost_per_hour": Decimal(cost) if cost is not None else None,
            "install_date": date.fromisoformat(installed) if installed else None}


def _machine_apply(step: Step, actor_id: int | None) -> None:
    fields = _machine_fields(step.entry)
    if step.existing is None:
        machine_type = MachineType.objects.get(key=step.entry["machine_type"])
        machine = machine_create(machine_type_id=machine_type.id, name=step.entry["name"], **fields)
        if machine_entry(machine) == step.entry:
            return
        step.existing = machine  # the service filled a default the file leaves empty: set it as the file says
    machine_update(machine_id=step.existing.id, **fields)


def _rule_apply(step: Step, actor_id: int | None) -> None:
    entry = step.entry
    numbers = {name: entry[name] for name in SECTIONS["alert_rules"] if name not in ("machine_type", "machine")}
    alert_rule_save(rule_id=step.existing.id if step.existing else None,
                    machine_type=MachineType.objects.get(key=entry["machine_type"]) if entry["machine_type"] else None,
                    machine=Machine.objects.get(name=entry["machine"]) if entry["machine"] else None, **numbers)


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _checklist_apply(step: Step, actor_id: int | None) -> None:
    entry = step.entry
    items = [ItemSpec(text=i["text"], required=i["required"], kind=i["kind"], unit=i["unit"],
                      min_value=_decimal(i["min_value"]), max_value=_decimal(i["max_value"])) for i in entry["items"]]
    existing: ChecklistTemplate | None = step.existing or _seeded(entry)
    checklist_template_save(template_id=existing.id if existing else None,
                            machine_type_id=MachineType.objects.get(key=entry["machine_type"]).id,
                            failure_mode=entry["failure_mode"], name=entry["name"], items=items)


def _seeded(entry: dict[str, Any]) -> ChecklistTemplate | None:
    """A type new to the organization gets its checklists from its recommended actions when the
    import creates it (as every new type does): the file's entry of the same name updates that one."""
    return ChecklistTemplate.objects.filter(machine_type__key=entry["machine_type"], failure_mode=entry["failure_mode"],
                                            name=entry["name"]).order_by("id").first()


def _plan_apply(step: Step, actor_id: int | None) -> None:
    serializer = PreventivePlanSerializer(instance=step.existing, data=step.entry)
    serializer.is_valid(raise_exception=True)
    serializer.save(**({} if step.existing else {"created_by_id": actor_id}))


_APPLY: dict[str, Callable[[Step, int | None], None]] = {
    "machine_types": _type_apply, "machines": _machine_apply, "alert_rules": _rule_apply,
    "checklist_templates": _checklist_apply, "pm_plans": _plan_apply,
}
