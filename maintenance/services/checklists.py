"""Checklists: templates per machine type and failure mode, seeded from the type's recommended
actions; copied onto each new work order as a snapshot; ticked, measured and noted item by item
with every change in the work order's audit trail; and a work order with required items left
cannot close (docs/web.md, "Checklists").

Seeded items are not required: the recommended actions come from a library document written for
every plant, not from this plant's procedure. An engineer marks what must be done before a work
order can close.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from engine.metadata import failure_mode_label
from machines.failures import failure_mode_resolve
from machines.models import MachineType
from maintenance.checklist_models import (
    ChecklistTemplate,
    ChecklistTemplateItem,
    ItemKind,
    WorkOrderChecklistItem,
)
from maintenance.models import WorkOrder, WorkOrderEvent
from pdm_saas.errors import Conflict, InvalidInput, NotFound

MAX_ITEMS = 100  # a checklist longer than this is a procedure document, not a checklist
VALUE_LIMIT = Decimal("1e10")  # the columns hold 14 digits, 4 after the point
PLACES = Decimal("0.0001")
# Step boundaries in a recommended action: a semicolon, or a full stop before a capital letter.
_STEP_END = re.compile(r";\s+|\.\s+(?=[A-Z])")


# --- seeding from the recommended actions ------------------------------------------------------


def recommended_steps(action: str) -> list[str]:
    """A recommended action cut into steps a technician ticks one by one: at semicolons and
    between sentences, never inside parentheses ("Restore suction (open the valve; clean ...)")."""
    steps, depth, start = [], 0, 0
    for index, char in enumerate(action):
        depth += {"(": 1, ")": -1}.get(char, 0)
        match = _STEP_END.match(action, index) if depth <= 0 and char in ";." else None
        if match is not None:
            steps.append(action[start:index])
            start = match.end()
    steps.append(action[start:])
    return [_sentence(step) for step in steps if step.strip(" .;")]


def _sentence(text: str) -> str:
    text = text.strip().rstrip(".;").strip()
    return f"{text[:1].upper()}{text[1:]}."[:500]


@transaction.atomic
def checklist_templates_seed(*, machine_type_id: int) -> list[ChecklistTemplate]:
    """A template per failure mode of the type from its recommended action, for the modes that
    have no template yet (so it is safe to run again: the page's "Create from recommended actions"
    button and the type's creation both call it). Returns the templates it made."""
    machine_type = MachineType.objects.select_for_update().filter(id=machine_type_id).first()
    if machine_type is None:
        raise NotFound("No such machine type.")
    covered = set(ChecklistTemplate.objects.filter(machine_type=machine_type).values_list("failure_mode", flat=True))
    made = []
    for mode in machine_type.metadata.get("failure_modes") or []:
        steps = recommended_steps(str(mode.get("recommended_action") or ""))
        if mode.get("name") in covered or not steps:
            continue
        template = ChecklistTemplate.objects.create(
            machine_type=machine_type, failure_mode=mode["name"], source=ChecklistTemplate.Source.RECOMMENDED,
            name=str(mode.get("label") or mode["name"])[:200])
        ChecklistTemplateItem.objects.bulk_create(
            ChecklistTemplateItem(template=template, position=position, text=step)
            for position, step in enumerate(steps, start=1))
        made.append(template)
    return made


# --- templates written by engineers ------------------------------------------------------------


@dataclass(frozen=True)
class ItemSpec:
    """One template item as given (page or API), before it is checked."""

    text: str
    required: bool = False
    kind: str = ItemKind.TICK
    unit: str = ""
    min_value: Decimal | None = None
    max_value: Decimal | None = None


@transaction.atomic
def checklist_template_save(*, template_id: int | None = None, machine_type_id: int | None = None,
                            failure_mode: str | None = None, name: str | None = None,
                            items: list[ItemSpec] | None = None) -> ChecklistTemplate:
    """Create a template (`template_id` None: type, name and items needed) or change one; `items`,
    when given, replace the template's list in that order. Open work orders keep their copies."""
    template = _template_for_save(template_id, machine_type_id)
    if failure_mode is not None:
        template.failure_mode = _mode_of(template.machine_type, failure_mode)
    if name is not None:
        template.name = _name(name)
    if template.pk is None and items is None:
        raise InvalidInput("A checklist needs at least one item.", details={"items": ["required"]})
    checked = _items_checked(items) if items is not None else None
    template.save()
    if checked is not None:
        template.items.all().delete()
        ChecklistTemplateItem.objects.bulk_create(
            ChecklistTemplateItem(template=template, position=position, **vars(spec))
            for position, spec in enumerate(checked, start=1))
    return template


def _template_for_save(template_id: int | None, machine_type_id: int | None) -> ChecklistTemplate:
    if template_id is None:
        machine_type = MachineType.objects.filter(id=machine_type_id).first() if machine_type_id else None
        if machine_type is None:
            raise InvalidInput("Choose the machine type the checklist is for.", details={"machine_type": ["required"]})
        return ChecklistTemplate(machine_type=machine_type, source=ChecklistTemplate.Source.MANUAL)
    template = ChecklistTemplate.objects.select_for_update().select_related("machine_type").filter(
        id=template_id).first()
    if template is None:
        raise NotFound("No such checklist template.")
    if machine_type_id is not None and machine_type_id != template.machine_type_id:
        raise InvalidInput("A checklist's machine type cannot change; make a new checklist for the other type.",
                           details={"machine_type": ["immutable"]})
    return template


def _mode_of(machine_type: MachineType, given: str) -> str:
    """"" for every work order of the type; else a failure mode of the type, by name, label or
    alias (stored as its name)."""
    if not given.strip():
        return ""
    for mode in machine_type.metadata.get("failure_modes") or []:
        if str(mode.get("label", "")).casefold() == given.strip().casefold():
            return str(mode["name"])
    return failure_mode_resolve(machine_type=machine_type, label=given)


def _name(name: str) -> str:
    if not name.strip():
        raise InvalidInput("Give the checklist a name.", details={"name": ["required"]})
    return name.strip()[:200]


def _items_checked(items: list[ItemSpec]) -> list[ItemSpec]:
    if not items:
        raise InvalidInput("A checklist needs at least one item.", details={"items": ["required"]})
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"A checklist holds at most {MAX_ITEMS} items.", details={"items": ["too many"]})
    problems = {str(index): [problem] for index, item in enumerate(items, start=1)
                if (problem := _item_problem(item))}
    if problems:
        first = next(iter(problems))
        raise InvalidInput(f"Item {first}: {problems[first][0]}", details={"items": problems})
    return [ItemSpec(text=item.text.strip(), required=item.required, kind=item.kind,
                     unit=item.unit.strip() if item.kind == ItemKind.NUMBER else "",
                     min_value=item.min_value if item.kind == ItemKind.NUMBER else None,
                     max_value=item.max_value if item.kind == ItemKind.NUMBER else None) for item in items]


def _item_problem(item: ItemSpec) -> str:
    if not item.text.strip():
        return "say what to do or check."
    if len(item.text.strip()) > 500:
        return "at most 500 characters."
    if item.kind not in ItemKind.values:
        return f"the kind is one of {', '.join(ItemKind.values)}."
    if len(item.unit.strip()) > 32:
        return "a unit has at most 32 characters."
    bounds = [bound for bound in (item.min_value, item.max_value) if bound is not None]
    if any(not bound.is_finite() or abs(bound) >= VALUE_LIMIT for bound in bounds):
        return "the limits must be numbers below 10,000,000,000."
    if len(bounds) == 2 and item.min_value > item.max_value:  # type: ignore[operator]
        return "the lowest allowed value is above the highest."
    return ""


@transaction.atomic
def checklist_template_delete(*, template_id: int) -> None:
    """Work orders keep the items they copied from it."""
    if not ChecklistTemplate.objects.filter(id=template_id).delete()[0]:
        raise NotFound("No such checklist template.")


# --- a work order's checklist ------------------------------------------------------------------


def work_order_checklist_attach(*, order: WorkOrder) -> int:
    """Copy the items of the templates that match the new work order (its type's templates for
    every work order, then those of its failure mode) onto it; returns how many. Called from
    `work_order_create`, inside its transaction."""
    match = Q(failure_mode="") | Q(failure_mode=order.failure_mode) if order.failure_mode else Q(failure_mode="")
    templates = (ChecklistTemplate.objects.filter(match, machine_type_id=order.machine.machine_type_id)
                 .prefetch_related("items").order_by("id"))
    items = [(template, item) for template in sorted(templates, key=lambda t: (t.failure_mode != "", t.id))
             for item in template.items.all()]
    WorkOrderChecklistItem.objects.bulk_create(
        WorkOrderChecklistItem(work_order=order, template=template, template_name=template.name, position=position,
                               text=item.text, required=item.required, kind=item.kind, unit=item.unit,
                               min_value=item.min_value, max_value=item.max_value)
        for position, (template, item) in enumerate(items, start=1))
    return len(items)


@dataclass(frozen=True)
class Answer:
    """A change to one item: `done` for a tick; `value` for a number or text ("" clears it);
    `note` for any. None leaves that part as it is."""

    done: bool | None = None
    value: str | None = None
    note: str | None = None


@transaction.atomic
def checklist_item_update(*, order_id: int, item_id: int, actor_id: int | None,
                          answer: Answer) -> WorkOrderChecklistItem:
    """Record an answer; the change goes into the work order's audit trail. The work order's row
    is locked first, as closing locks it: an answer and a close take turns."""
    order = WorkOrder.objects.select_for_update().filter(id=order_id).first()
    item = WorkOrderChecklistItem.objects.filter(id=item_id, work_order_id=order_id).first()
    if order is None or item is None:
        raise NotFound("No such checklist item on this work order.")
    if order.status in (WorkOrder.Status.DONE, WorkOrder.Status.CANCELLED):
        raise Conflict(f"A {order.status} work order's checklist cannot change.", code="work_order_closed")
    before = _answer_words(item)
    _apply(item, answer)
    after = _answer_words(item)
    changes = {key: [before[key], after[key]] for key in before if before[key] != after[key]}
    if changes:
        item.done_by_id, item.done_at = (actor_id, timezone.now()) if item.done else (None, None)
        item.save()
        WorkOrderEvent.objects.create(work_order=order, actor_id=actor_id, action="checklist",
                                      changes={"item": f"{item.position}. {item.text}", **changes})
    return item


def _apply(item: WorkOrderChecklistItem, answer: Answer) -> None:
    if answer.note is not None:
        if len(answer.note) > 2000:
            raise InvalidInput("A note has at most 2,000 characters.", details={"note": ["too long"]})
        item.note = answer.note.strip()
    if item.kind == ItemKind.TICK:
        if answer.value not in (None, ""):
            raise InvalidInput(f"“{item.text}” is ticked, not given a value: send done.", details={"value": ["tick"]})
        item.done = item.done if answer.done is None else answer.done
        return
    if answer.done is not None and answer.value is None:
        raise InvalidInput(f"“{item.text}” is done when its value is entered: send value.",
                           details={"done": [f"{item.kind} item"]})
    if answer.value is not None:
        _apply_value(item, answer.value.strip())


def _apply_value(item: WorkOrderChecklistItem, text: str) -> None:
    if item.kind == ItemKind.TEXT:
        if len(text) > 2000:
            raise InvalidInput("An answer has at most 2,000 characters.", details={"value": ["too long"]})
        item.value_text, item.done = text, bool(text)
        return
    item.value_number = _number(item, text) if text else None
    item.done = item.value_number is not None


def _number(item: WorkOrderChecklistItem, text: str) -> Decimal:
    try:
        value = Decimal(text.replace(",", ".").replace(" ", ""))  # a decimal comma from a phone keyboard
    except InvalidOperation:
        raise InvalidInput(f"“{item.text}” needs a number, not {text[:40]!r}.",
                           details={"value": ["not a number"]}) from None
    if not value.is_finite() or abs(value) >= VALUE_LIMIT:
        raise InvalidInput(f"“{item.text}”: {text[:40]} is not a measurable value.", details={"value": ["too large"]})
    value = value.quantize(PLACES, rounding=ROUND_HALF_EVEN)
    low, high = item.min_value, item.max_value
    if (low is not None and value < low) or (high is not None and value > high):
        entered = f"{number_text(value)} {item.unit}".strip()
        raise InvalidInput(f"“{item.text}” must be {_range_words(item)}; {entered} was entered.",
                           code="out_of_range", details={"value": ["out of range"]})
    return value


def number_text(value: Decimal) -> str:
    """0.1200 -> "0.12", 100.0000 -> "100"."""
    return f"{value.normalize():f}"


def _range_words(item: WorkOrderChecklistItem | ChecklistTemplateItem) -> str:
    unit = f" {item.unit}" if item.unit else ""
    low = number_text(item.min_value) if item.min_value is not None else None
    high = number_text(item.max_value) if item.max_value is not None else None
    if low is not None and high is not None:
        return f"between {low} and {high}{unit}"
    return f"at least {low}{unit}" if low is not None else f"at most {high}{unit}"


def range_words(item: WorkOrderChecklistItem | ChecklistTemplateItem) -> str:
    """"between 0.05 and 0.2 mm", "at most 80 °C", or "" without limits (the pages' hint)."""
    return _range_words(item) if item.min_value is not None or item.max_value is not None else ""


def _answer_words(item: WorkOrderChecklistItem) -> dict[str, Any]:
    """The item's answer as the audit trail records it, in words (units included)."""
    value: str | None = None
    if item.kind == ItemKind.NUMBER and item.value_number is not None:
        value = f"{number_text(item.value_number)} {item.unit}".strip()
    elif item.kind == ItemKind.TEXT:
        value = item.value_text or None
    return {"done": item.done, "value": value, "note": item.note or None}


def checklist_close_check(*, order: WorkOrder) -> None:
    """Refuse to close a work order whose required items are not done, naming them."""
    left = list(WorkOrderChecklistItem.objects.filter(work_order=order, required=True, done=False)
                .order_by("position", "id").values_list("position", "text"))
    if not left:
        return
    named = "; ".join(f"{position}. {text}" for position, text in left[:5])
    more = f" and {len(left) - 5} more" if len(left) > 5 else ""
    raise Conflict(f"Finish the required checklist items first: {named}{more}.", code="checklist_unfinished",
                   details={"items": [str(position) for position, _ in left]})


def template_mode_label(template: ChecklistTemplate) -> str:
    """"Every work order" or the failure mode's label, as the pages show a template's scope."""
    if not template.failure_mode:
        return "Every work order"
    return failure_mode_label(template.machine_type.metadata, template.failure_mode)
