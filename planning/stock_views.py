"""Pages of the stock: parts used on a work order (the partial on its page posts here), receiving
parts, returning unused ones, and a part's ledger. Every change goes through `planning.stock`, as
the API does; each answers with a redirect and a message (`run_action`)."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from maintenance.models import WorkOrder
from pdm_saas.page_actions import run_action
from pdm_saas.web_access import can, member_view, page_actor
from planning import stock
from planning.models import PartUse, SparePart
from planning.selectors import part_movements, part_use_list

LEDGER_ROWS = 200


class QuantityForm(forms.Form):
    quantity = forms.IntegerField(min_value=0, max_value=stock.MAX_QUANTITY)
    note = forms.CharField(required=False, max_length=500)


def _quantity(request: HttpRequest, *, minimum: int = 0) -> int:
    """The posted quantity; one that is not a whole number in range reaches the service as -1, which
    refuses it with its message."""
    form = QuantityForm(request.POST)
    if not form.is_valid() or form.cleaned_data["quantity"] < minimum:
        return -1
    return int(form.cleaned_data["quantity"])


def _order_page(order: WorkOrder) -> str:
    return reverse("predictions:work-order-detail", args=[order.id]) + "#parts"


@require_POST
@member_view()
def work_order_part_set(request: HttpRequest, pk: int) -> HttpResponse:
    """POST part (id) and quantity: what the work order uses of that part (0 removes it)."""
    order = get_object_or_404(WorkOrder, pk=pk)
    part_id = request.POST.get("part", "")
    actor = page_actor(request).user_id

    def record() -> PartUse | None:
        return stock.part_use_set(order_id=order.id, part_id=int(part_id) if part_id.isdigit() else 0,
                                  quantity=_quantity(request), actor_id=actor)

    return run_action(request, record, success=lambda line: "Parts used updated." if line else "Part removed.",
                      redirect_to=_order_page(order))


@require_POST
@member_view()
def work_order_unrecorded(request: HttpRequest, pk: int) -> HttpResponse:
    """POST: the parts the order uses were there though the stock says fewer (recorded as found)."""
    order = get_object_or_404(WorkOrder, pk=pk)
    return run_action(request, lambda: stock.work_order_unrecorded_confirm(order_id=order.id,
                                                                           actor_id=page_actor(request).user_id),
                      success=lambda short: ("Recorded as found: " + "; ".join(f"{s.missing} x {s.part}" for s in short)
                                             + ". The work order can close.") if short else "The stock holds enough.",
                      redirect_to=_order_page(order))


@require_POST
@member_view()
def part_use_return_page(request: HttpRequest, pk: int) -> HttpResponse:
    """POST quantity: parts a closed work order did not use, back into stock."""
    line = get_object_or_404(part_use_list(), pk=pk)
    return run_action(request, lambda: stock.part_use_return(use_id=line.id, quantity=_quantity(request, minimum=1),
                                                             actor_id=page_actor(request).user_id),
                      success=f"Returned to stock: {line.part.name}.", redirect_to=_order_page(line.work_order))


@member_view()
def part_stock(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the part's ledger, newest first. POST quantity (and note): parts received."""
    part = get_object_or_404(SparePart, pk=pk)
    if request.method == "POST":
        return run_action(request, lambda: stock.stock_receive(part_id=part.id, quantity=_quantity(request, minimum=1),
                                                               actor_id=page_actor(request).user_id,
                                                               note=request.POST.get("note", "")[:500]),
                          success=lambda movement: f"Received {movement.quantity} x {part.name}: "
                                                   f"{movement.balance} in stock.",
                          redirect_to=reverse("planning:part-stock", args=[part.id]))
    return render(request, "planning/part_stock.html", {
        "part": part, "movements": part_movements(part_id=part.id)[:LEDGER_ROWS],
        "reserved": stock.parts_reserved().get(part.id, 0), "can_write": can(request, "write"),
    })
