"""Checklist pages: the templates per machine type (engineers write them, everyone reads them),
"Create from recommended actions", and a work order's items ticked, measured and noted.

Every change goes through `maintenance.services.checklists`, as the API does
(`maintenance/checklist_api.py`); reads through `maintenance.checklist_selectors`. An item's form
works without JavaScript (the answer, then the work order's page again); with htmx it swaps only
that item and the progress line.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse

from accounts.roles import Scope
from machines.models import MachineType
from maintenance import checklist_selectors
from maintenance.checklist_models import ChecklistTemplate, ItemKind, WorkOrderChecklistItem
from maintenance.services import checklists
from pdm_saas.errors import ServiceError
from pdm_saas.web_access import can, member_view, page_actor

# --- the templates -----------------------------------------------------------------------------


@member_view()
def checklist_index(request: HttpRequest) -> HttpResponse:
    """Each machine type with its checklists, in order: for every work order, then per mode."""
    templates = list(checklist_selectors.checklist_templates())
    groups = [(machine_type, [_shown(t) for t in templates if t.machine_type_id == machine_type.id])
              for machine_type in checklist_selectors.machine_types_for_checklists()]
    return render(request, "maintenance/checklists.html", {"groups": groups})


def _shown(template: ChecklistTemplate) -> ChecklistTemplate:
    template.scope = checklists.template_mode_label(template)  # type: ignore[attr-defined]
    return template


@member_view()
def checklist_seed_page(request: HttpRequest, type_id: int) -> HttpResponse:
    """POST: "Create from recommended actions" for one machine type."""
    if request.method == "POST":
        try:
            made = checklists.checklist_templates_seed(machine_type_id=type_id)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{len(made)} checklists made from the recommended actions." if made else
                             "Every failure mode of this type has a checklist already.")
    return HttpResponseRedirect(reverse("checklists:index") + f"#type-{type_id}")


class TemplateForm(forms.Form):
    """Which work orders get the checklist: a machine type's, all or those of one failure mode."""

    machine_type = forms.TypedChoiceField(coerce=int, label="Machine type")
    failure_mode = forms.ChoiceField(required=False, label="For work orders on")
    name = forms.CharField(max_length=200, help_text="Shown above its items on the work order, such as "
                                                     "“Bearing change” or “Safety before work”.")

    def __init__(self, *args: Any, types: list[MachineType], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.types = types
        self.fields["machine_type"].choices = [(t.id, t.name) for t in types]  # type: ignore[attr-defined]
        self.fields["failure_mode"].choices = [  # type: ignore[attr-defined]
            ("", "Every work order on the type"),
            *[(t.name, [(m["name"], m.get("label") or m["name"]) for m in t.metadata.get("failure_modes") or []])
              for t in types]]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen = next((t for t in self.types if t.id == data.get("machine_type")), None)
        mode = data.get("failure_mode") or ""
        if chosen is not None and mode and mode not in {m["name"] for m in chosen.metadata.get("failure_modes") or []}:
            self.add_error("failure_mode", f"Not a failure mode of {chosen.name}.")
        return data


class ItemForm(forms.Form):
    text = forms.CharField(max_length=500, label="Item")
    kind = forms.ChoiceField(choices=ItemKind.choices, initial=ItemKind.TICK)
    required = forms.BooleanField(required=False)
    unit = forms.CharField(max_length=32, required=False, help_text="number items")
    min_value = forms.DecimalField(max_digits=14, decimal_places=4, required=False, label="Lowest")
    max_value = forms.DecimalField(max_digits=14, decimal_places=4, required=False, label="Highest")


ItemFormSet = forms.formset_factory(ItemForm, extra=3, can_order=True, can_delete=True,
                                    max_num=checklists.MAX_ITEMS, validate_max=True)


@member_view()
def checklist_template_new(request: HttpRequest) -> HttpResponse:
    types = checklist_selectors.machine_types_for_checklists()
    if request.method != "POST":
        chosen = request.GET.get("type", "")
        form = TemplateForm(types=types, initial={"machine_type": int(chosen) if chosen.isdigit() else None})
        return _form_page(request, form, ItemFormSet(prefix="items"), None)
    return _saved(request, TemplateForm(request.POST, types=types), ItemFormSet(request.POST, prefix="items"), None)


@member_view()
def checklist_template_edit(request: HttpRequest, pk: int) -> HttpResponse:
    template = checklist_selectors.checklist_template_or_404(template_id=pk)
    types = [template.machine_type]  # a checklist's type does not change
    if request.method != "POST":
        form = TemplateForm(types=types, initial={"machine_type": template.machine_type_id,
                                                  "failure_mode": template.failure_mode, "name": template.name})
        items = ItemFormSet(prefix="items", initial=[
            {"text": i.text, "kind": i.kind, "required": i.required, "unit": i.unit, "min_value": i.min_value,
             "max_value": i.max_value, "ORDER": i.position} for i in template.items.all()])
        return _form_page(request, form, items, template)
    return _saved(request, TemplateForm(request.POST, types=types), ItemFormSet(request.POST, prefix="items"),
                  template)


def _saved(request: HttpRequest, form: TemplateForm, items: Any, template: ChecklistTemplate | None) -> HttpResponse:
    if not (form.is_valid() and items.is_valid()):
        return _form_page(request, form, items, template, status=400)
    specs = [checklists.ItemSpec(**{name: row.cleaned_data[name] for name in ItemForm.base_fields})
             for row in items.ordered_forms]
    data = form.cleaned_data
    try:
        saved = checklists.checklist_template_save(
            template_id=template.id if template else None, machine_type_id=data["machine_type"],
            failure_mode=data["failure_mode"], name=data["name"], items=specs)
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return _form_page(request, form, items, template, status=400)
    messages.success(request, f"Checklist “{saved.name}” saved. Work orders created from now on get it; "
                              "open ones keep the list they have.")
    return HttpResponseRedirect(reverse("checklists:index") + f"#template-{saved.id}")


def _form_page(request: HttpRequest, form: TemplateForm, items: Any, template: ChecklistTemplate | None,
               status: int = 200) -> HttpResponse:
    return render(request, "maintenance/checklist_template_form.html",
                  {"form": form, "items": items, "template": template}, status=status)


@member_view()
def checklist_template_delete_page(request: HttpRequest, pk: int) -> HttpResponse:
    if request.method == "POST":
        template = checklist_selectors.checklist_template_or_404(template_id=pk)
        checklists.checklist_template_delete(template_id=pk)
        messages.success(request, f"Checklist “{template.name}” deleted; work orders keep their copies.")
    return HttpResponseRedirect(reverse("checklists:index"))


# --- a work order's items ----------------------------------------------------------------------


@member_view()
def checklist_item_page(request: HttpRequest, order_pk: int, pk: int) -> HttpResponse:
    """POST: one item's answer. Without htmx, back to the work order at that item."""
    item = checklist_selectors.work_order_checklist_item_or_404(order_id=order_pk, item_id=pk)
    back = reverse("predictions:work-order-detail", args=[order_pk]) + f"#checklist-item-{pk}"
    if request.method != "POST":
        return HttpResponseRedirect(back)
    error = ""
    try:
        item = checklists.checklist_item_update(order_id=order_pk, item_id=pk, actor_id=page_actor(request).user_id,
                                                answer=_answer(request.POST))
    except ServiceError as exc:
        error = exc.message
    if request.headers.get("HX-Request"):
        return _item_fragment(request, item, error)
    if error:
        messages.error(request, error)
    return HttpResponseRedirect(back)


def _answer(post: QueryDict) -> checklists.Answer:
    """The form sends `done` only from the tick button, `value` only for number and text items."""
    done = post.get("done")
    return checklists.Answer(done=None if done is None else done == "1", value=post.get("value"),
                             note=post.get("note"))


def _item_fragment(request: HttpRequest, item: WorkOrderChecklistItem, error: str) -> HttpResponse:
    """The item again (with the refusal, if any) and the progress line, swapped out of band.
    Answered 200 even when refused: htmx swaps only successful answers, and the item shows why."""
    items = checklist_selectors.work_order_checklist(order_id=item.work_order_id)
    fresh = next((i for i in items if i.id == item.id), item)
    return render(request, "maintenance/partials/checklist_item_answer.html", {
        "item": fresh, "order_id": item.work_order_id, "error": error,
        "editable": checklist_selectors.checklist_editable(order=fresh.work_order, can_write=can(request, Scope.WRITE)),
        "progress": checklist_selectors.checklist_progress(items),
    })
