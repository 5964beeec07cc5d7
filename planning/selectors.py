"""Reads of the planning app."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from django.db.models import QuerySet

from engine.metadata import failure_mode_label
from machines.library import library_get
from machines.models import Machine, MachineType
from planning.models import (
    CostsConfirmation,
    MaintenancePlan,
    PartNeed,
    PartUse,
    ProductionWindow,
    SparePart,
    StockMovement,
    Technician,
)
from planning.reasons import status_text

COST_FIELDS = ("downtime_per_hour", "planned_maintenance", "unplanned_failure_multiplier")
MODE_COST_FIELDS = ("repair_cost", "downtime_hours")


def plan_list() -> QuerySet[MaintenancePlan]:
    return MaintenancePlan.objects.all()


def plan_latest() -> MaintenancePlan | None:
    return MaintenancePlan.objects.order_by("-created_at", "-id").first()


def plan_days(plan: MaintenancePlan) -> list[dict[str, Any]]:
    """One row per day of the plan for the bar chart: actions, hours and expected saving."""
    actions = (plan.result or {}).get("actions", [])
    count, saving = Counter[int](), Counter[int]()
    for action in actions:
        count[action["day"]] += 1
        saving[action["day"]] += action["expected_saving"]
    top = max(saving.values(), default=0) or 1
    return [{"day": d, "date": plan.start_date + timedelta(days=d), "actions": count[d],
             "saving": saving[d], "percent": round(100 * saving[d] / top)} for d in range(plan.horizon_days)]


def plan_status_text(plan: MaintenancePlan) -> str:
    """The plan's outcome in words (planning.reasons.status_text); plans made before it was stored
    get it from their result."""
    result = plan.result or {}
    if not result:
        return ""
    return str(result.get("status_text") or status_text(plan.inputs or {}, result, horizon=plan.horizon_days))


def inputs_summary() -> dict[str, Any]:
    return {"technicians": list(Technician.objects.all()), "parts": list(SparePart.objects.all())}


def failure_mode_choices(machine_types: list[MachineType]) -> list[tuple[str, str]]:
    """Each failure mode name once, as (name, "name — the types naming it"). The part-need form
    offers any mode with any type; the serializer refuses a pair the type's metadata does not name."""
    types_of: dict[str, list[str]] = {}
    for machine_type in machine_types:
        for mode in machine_type.metadata.get("failure_modes") or []:
            if mode.get("name"):
                types_of.setdefault(str(mode["name"]), []).append(machine_type.name)
    return [(name, f"{name} — {', '.join(names)}") for name, names in sorted(types_of.items())]


# --- costs ----------------------------------------------------------------------------------------


def _library_costs(machine_type: MachineType) -> dict[str, Any] | None:
    """The built-in library's example costs of an adopted type: its `costs` and each mode's
    repair cost and downtime. None for an imported type (the tenant wrote its costs)."""
    if machine_type.source != MachineType.Source.LIBRARY:
        return None
    try:
        document = library_get(machine_type.key)
    except KeyError:
        return None
    return _costs_of(document)


def _costs_of(document: dict[str, Any]) -> dict[str, Any]:
    costs = document.get("costs") or {}
    return {"costs": {f: costs.get(f) for f in COST_FIELDS},
            "modes": {str(m.get("name")): {f: m.get(f) for f in MODE_COST_FIELDS}
                      for m in document.get("failure_modes") or []}}


def type_costs_are_defaults(machine_type: MachineType, confirmed: set[int] | None = None) -> bool:
    """A type's costs are defaults while they are the library's examples and the tenant has not
    confirmed them on the costs page: an imported type's costs are the tenant's own."""
    if confirmed is None:
        confirmed = set(CostsConfirmation.objects.values_list("machine_type_id", flat=True))
    if machine_type.id in confirmed:
        return False
    library = _library_costs(machine_type)
    return library is not None and _costs_of(machine_type.metadata) == library


def costs_default_types() -> set[int]:
    """Ids of the machine types whose costs are still the library's examples."""
    confirmed = set(CostsConfirmation.objects.values_list("machine_type_id", flat=True))
    return {t.id for t in MachineType.objects.all() if type_costs_are_defaults(t, confirmed)}


def costs_page() -> list[dict[str, Any]]:
    """Every machine type with its costs, its failure modes' costs and its machines' own downtime
    cost, as the costs page edits them; types with machines first."""
    confirmed = set(CostsConfirmation.objects.values_list("machine_type_id", flat=True))
    machines: dict[int, list[Machine]] = {}
    for machine in Machine.objects.exclude(status=Machine.Status.RETIRED).order_by("name"):
        machines.setdefault(machine.machine_type_id, []).append(machine)
    rows = []
    for machine_type in MachineType.objects.order_by("name"):
        document = machine_type.metadata
        rows.append({
            "type": machine_type, "costs": document.get("costs") or {}, "machines": machines.get(machine_type.id, []),
            "modes": [{"name": m.get("name"), "label": failure_mode_label(document, m.get("name")),
                       "repair_cost": m.get("repair_cost"), "downtime_hours": m.get("downtime_hours")}
                      for m in document.get("failure_modes") or []],
            "default": type_costs_are_defaults(machine_type, confirmed),
        })
    return sorted(rows, key=lambda row: (not row["machines"], row["type"].name))


# --- technician skills ----------------------------------------------------------------------------


def skill_choices(machine_types: list[MachineType]) -> list[tuple[str, list[tuple[str, str]]]]:
    """What a technician's skills are chosen from, grouped: the machine categories ("Pump: any
    repair") and each failure mode by its label with the types naming it."""
    categories = sorted({t.category for t in machine_types})
    modes: dict[str, tuple[str, list[str]]] = {}
    for machine_type in machine_types:
        for mode in machine_type.metadata.get("failure_modes") or []:
            name = str(mode.get("name") or "")
            if name:
                label = failure_mode_label(machine_type.metadata, name)
                modes.setdefault(name, (label, []))[1].append(machine_type.name)
    return [
        ("Machine categories", [(c, f"{c.replace('_', ' ').capitalize()}: any repair") for c in categories]),
        ("Failure modes", sorted(((name, f"{label} ({', '.join(types)})") for name, (label, types) in modes.items()),
                                 key=lambda choice: choice[1].lower())),
    ]


def skill_label(skill: str, machine_types: list[MachineType]) -> str:
    """A stored skill key as people read it; a key no type knows stays as typed."""
    for group in skill_choices(machine_types):
        for key, label in group[1]:
            if key == skill:
                return label.split(" (")[0]
    return skill


def _words(text: str) -> list[str]:
    return [w[:-1] if len(w) > 3 and w.endswith("s") else w
            for w in "".join(c if c.isalnum() else " " for c in text.lower()).split()]


def skill_keys(skill: str, machine_types: list[MachineType]) -> set[str]:
    """The failure-mode names and categories a skill means. A key stays itself; free text typed
    before skills were chosen from a list is read as people meant it: a category or mode in another
    spelling or plural ("Pumps", "mechanical seal failure"), else every mode or category with that
    word ("seals": `mechanical_seal_failure`). Text that matches nothing stays as typed (and
    matches no repair)."""
    categories = {t.category for t in machine_types}
    modes = {str(m.get("name")): failure_mode_label(t.metadata, str(m.get("name")))
             for t in machine_types for m in t.metadata.get("failure_modes") or [] if m.get("name")}
    if skill in categories or skill in modes:
        return {skill}
    words = _words(skill)
    if not words:
        return set()
    whole = [k for k in (*categories, *modes) if _words(k) == words or _words(modes.get(k, "")) == words]
    if whole:
        return set(whole)
    found = {k for k in categories if set(_words(k)) <= set(words)}
    found |= {k for k, label in modes.items() if len(words) == 1 and words[0] in set(_words(k)) | set(_words(label))}
    return found or {skill}


def production_window_list() -> QuerySet[ProductionWindow]:
    """The production windows with their machine, by machine."""
    return ProductionWindow.objects.select_related("machine")


def part_need_list() -> QuerySet[PartNeed]:
    """The part needs with their type and part, by type name, failure mode and part name."""
    return PartNeed.objects.select_related("machine_type", "part").order_by("machine_type__name", "failure_mode",
                                                                            "part__name")


def spare_part_names() -> list[str]:
    return list(SparePart.objects.order_by("name").values_list("name", flat=True))


# --- stock --------------------------------------------------------------------------------------------


def parts_low() -> QuerySet[SparePart]:
    """Parts at or below their reorder point since their last movement (the planning page's banner)."""
    return SparePart.objects.filter(low_since__isnull=False).order_by("name")


def part_movements(*, part_id: int) -> QuerySet[StockMovement]:
    """A part's ledger, newest first."""
    return StockMovement.objects.filter(part_id=part_id).order_by("-at", "-id")


def part_use_list() -> QuerySet[PartUse]:
    return PartUse.objects.select_related("work_order", "part")


def work_order_part_uses(*, order_id: int) -> QuerySet[PartUse]:
    return PartUse.objects.filter(work_order_id=order_id).select_related("part").order_by("part__name")


def spare_part_list() -> QuerySet[SparePart]:
    return SparePart.objects.order_by("name")
