"""The checks of a read file against itself and the target organization, before anything is
written: entries named twice, references to machine types and machines that are neither in the
file nor in the organization, machine type documents (the metadata checks every type passes),
failure modes and signals a type does not have, and values a service would silently rewrite
(which would make a second import of the same file report changes)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from engine.metadata_checks import metadata_validate
from machines.models import Machine, MachineType
from maintenance.checklist_models import ChecklistTemplate
from maintenance.models import AlertRule
from pdm_saas.config_transfer.document import SECTIONS, Problem, entry_label, natural_key
from planning.preventive_models import PreventivePlan
from planning.preventive_serializers import MAX_CALENDAR_EVERY

USAGE_UNITS = ("running_hours", "cycles")


@dataclass
class Target:
    """The target organization's entries that a file can match, by natural key."""

    types: dict[str, MachineType]
    machines: dict[str, Machine]
    rules: dict[tuple[Any, ...], AlertRule]
    templates: dict[tuple[Any, ...], ChecklistTemplate]
    plans: dict[tuple[Any, ...], PreventivePlan]

    @classmethod
    def load(cls) -> Target:
        rules = AlertRule.objects.select_related("machine_type", "machine")
        templates = ChecklistTemplate.objects.select_related("machine_type").prefetch_related("items").order_by("-id")
        plans = PreventivePlan.objects.select_related("machine").order_by("-id")
        return cls(  # by descending id, so where names repeat the oldest entry is the one matched
            types={t.key: t for t in MachineType.objects.all()},
            machines={m.name: m for m in Machine.objects.select_related("machine_type")},
            rules={("machine", r.machine.name) if r.machine else ("type", r.machine_type.key if r.machine_type
                                                                   else None): r for r in rules},
            templates={(t.machine_type.key, t.failure_mode, t.name): t for t in templates},
            plans={(p.machine.name, p.title): p for p in plans},
        )

    def match(self, section: str, key: tuple[Any, ...]) -> Any:
        """The organization's entry a file's entry of `section` with natural `key` names, or None."""
        if section == "machine_types":
            return self.types.get(key[0])
        if section == "machines":
            return self.machines.get(key[0])
        if section == "alert_rules":
            return self.rules.get(key)
        return self.templates.get(key) if section == "checklist_templates" else self.plans.get(key)


def config_check(sections: dict[str, list[dict[str, Any]]], target: Target) -> list[Problem]:
    world = _World(sections, target)
    return [*_repeats(sections), *_type_problems(sections["machine_types"]), *world.machine_problems(),
            *world.rule_problems(), *world.checklist_problems(), *world.plan_problems()]


def _repeats(sections: dict[str, list[dict[str, Any]]]) -> Iterator[Problem]:
    for name in SECTIONS:
        seen: dict[tuple[Any, ...], int] = {}
        for index, entry in enumerate(sections[name]):
            key = natural_key(name, entry)
            if name != "alert_rules" and None in key[-1:]:  # no name: a problem of its own already
                continue
            if key in seen:
                yield Problem(f"$.{name}[{index}]", f"{entry_label(name, entry)} is already at $.{name}[{seen[key]}]; "
                                                    "each may appear once.")
            seen.setdefault(key, index)


def _type_problems(entries: list[dict[str, Any]]) -> Iterator[Problem]:
    for index, entry in enumerate(entries):
        document = entry.get("metadata")
        if not isinstance(document, dict):
            continue
        for problem in metadata_validate(document):
            yield Problem(f"$.machine_types[{index}].metadata{problem.path[1:]}", problem.message)
        if document.get("key") != entry.get("key"):
            yield Problem(f"$.machine_types[{index}].key", f"\"{entry.get('key')}\" differs from the document's own "
                                                           f"key \"{document.get('key')}\".")


class _World:
    """The file's entries seen over the target's: a type or machine in the file wins."""

    def __init__(self, sections: dict[str, list[dict[str, Any]]], target: Target) -> None:
        self.sections = sections
        self.target = target
        self.documents = {key: t.metadata for key, t in target.types.items()}
        self.documents.update({e["key"]: e["metadata"] for e in sections["machine_types"]
                               if e.get("key") and isinstance(e.get("metadata"), dict)})
        self.machine_types = {name: m.machine_type.key for name, m in target.machines.items()}
        self.machine_types.update({e["name"]: e["machine_type"] for e in sections["machines"] if e.get("name")})

    def _type_ref(self, path: str, key: Any) -> Problem | None:
        if key is not None and key not in self.documents:
            return Problem(path, f"No machine type \"{key}\" in the file nor in this organization.")
        return None

    def _machine_ref(self, path: str, name: Any) -> Problem | None:
        if name is not None and name not in self.machine_types:
            return Problem(path, f"No machine \"{name}\" in the file nor in this organization.")
        return None

    def _modes(self, type_key: str) -> list[str]:
        return [str(m.get("name")) for m in self.documents.get(type_key, {}).get("failure_modes") or []
                if isinstance(m, dict)]

    def _mode_problem(self, path: str, type_key: str, mode: str) -> Problem | None:
        if mode and type_key in self.documents and mode not in self._modes(type_key):
            return Problem(path, f"\"{mode}\" is not a failure mode of {type_key}: one of "
                                 f"{', '.join(self._modes(type_key)) or 'none'}, or empty.")
        return None

    def machine_problems(self) -> Iterator[Problem]:
        for index, entry in enumerate(self.sections["machines"]):
            path = f"$.machines[{index}]"
            if problem := self._type_ref(f"{path}.machine_type", entry.get("machine_type")):
                yield problem
            here = self.target.machines.get(entry.get("name") or "")
            if here is not None and entry.get("machine_type") and here.machine_type.key != entry["machine_type"]:
                yield Problem(f"{path}.machine_type", f"{here.name} is a {here.machine_type.key} here; an import "
                                                      "does not change a machine's type (its readings follow it).")

    def rule_problems(self) -> Iterator[Problem]:
        for index, entry in enumerate(self.sections["alert_rules"]):
            path = f"$.alert_rules[{index}]"
            if entry.get("machine") and entry.get("machine_type"):
                yield Problem(path, "A rule is for one machine or for one machine type, not both.")
            for problem in (self._type_ref(f"{path}.machine_type", entry.get("machine_type")),
                            self._machine_ref(f"{path}.machine", entry.get("machine"))):
                if problem:
                    yield problem

    def checklist_problems(self) -> Iterator[Problem]:
        for index, entry in enumerate(self.sections["checklist_templates"]):
            path = f"$.checklist_templates[{index}]"
            key = str(entry.get("machine_type") or "")
            for problem in (self._type_ref(f"{path}.machine_type", key),
                            self._mode_problem(f"{path}.failure_mode", key, entry.get("failure_mode") or "")):
                if problem:
                    yield problem
            yield from _item_problems(path, entry.get("items") or [])

    def plan_problems(self) -> Iterator[Problem]:
        for index, entry in enumerate(self.sections["pm_plans"]):
            path = f"$.pm_plans[{index}]"
            if problem := self._machine_ref(f"{path}.machine", entry.get("machine")):
                yield problem
                continue
            type_key = self.machine_types.get(entry.get("machine") or "", "")
            if problem := self._mode_problem(f"{path}.failure_mode", type_key, entry.get("failure_mode") or ""):
                yield problem
            yield from self._schedule_problems(path, entry, type_key)

    def _schedule_problems(self, path: str, entry: dict[str, Any], type_key: str) -> Iterator[Problem]:
        unit, every = entry.get("unit"), entry.get("every")
        if unit in MAX_CALENDAR_EVERY and isinstance(every, int) and every > MAX_CALENDAR_EVERY[unit]:
            yield Problem(f"{path}.every", f"at most {MAX_CALENDAR_EVERY[unit]} {unit} (a century)")
        if unit in USAGE_UNITS:
            sensors = self.documents.get(type_key, {}).get("sensors") or []
            numeric = sorted(str(s.get("name")) for s in sensors if isinstance(s, dict) and s.get("kind") == "numeric")
            if type_key in self.documents and entry.get("signal") not in numeric:
                yield Problem(f"{path}.signal", f"A usage plan counts from one of the machine's signals: "
                                                f"one of {', '.join(numeric)}.")
            if entry.get("threshold") is None:
                yield Problem(f"{path}.threshold", "A usage plan needs the level at or above which the machine "
                                                   "counts as running.")
        elif unit and (entry.get("signal") or entry.get("threshold") is not None):
            yield Problem(f"{path}.signal", "A calendar plan reads no signal: leave signal empty and threshold null.")


def _item_problems(path: str, items: list[dict[str, Any]]) -> Iterator[Problem]:
    for position, item in enumerate(items):
        where = f"{path}.items[{position}]"
        has_limits = item.get("unit") or item.get("min_value") is not None or item.get("max_value") is not None
        if item.get("kind") != "number" and has_limits:
            yield Problem(where, "Only number items have a unit and limits; this one is a "
                                 f"{item.get('kind')} item.")
        low, high = item.get("min_value"), item.get("max_value")
        if low is not None and high is not None and Decimal(low) > Decimal(high):
            yield Problem(f"{where}.min_value", "The lowest allowed value is above the highest.")
