"""Page views read through named selectors (each app's `selectors.py`, typed and reusable by the
API), never through `Model.objects` themselves: a view authorizes, calls, renders. A view may
still look a row up with `get_object_or_404` on a queryset a selector gives it.

The modules are listed one by one: a page-view module joins the list once its reads have moved
(the alert and work-order pages joined with the maintenance app)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGE_VIEW_MODULES = [
    "accounts/views.py",
    "billing/views.py",
    "insights/views.py",
    "machines/views/types.py",
    "machines/views/uploads.py",
    "maintenance/views/alarm_history.py",
    "maintenance/views/alerts.py",
    "maintenance/views/checklists.py",
    "maintenance/views/offline.py",
    "maintenance/views/photos.py",
    "maintenance/views/push.py",
    "maintenance/views/work_orders.py",
    "pdm_saas/config_transfer/views.py",
    "planning/stock_views.py",
    "planning/preventive_views.py",
    "planning/views.py",
    "predictions/views/fleet.py",
    "predictions/views/model_display.py",
    "predictions/views/models.py",
    "predictions/views/onboarding.py",
    "tenants/views.py",
]


def objects_uses(source: str) -> list[int]:
    """The lines that reach a model manager: `X.objects` anywhere, called or not."""
    return sorted(node.lineno for node in ast.walk(ast.parse(source))
                  if isinstance(node, ast.Attribute) and node.attr == "objects")


@pytest.mark.parametrize("module", PAGE_VIEW_MODULES)
def test_page_views_query_no_model_manager(module: str) -> None:
    lines = objects_uses((ROOT / module).read_text(encoding="utf-8"))
    assert not lines, f"{module} queries models directly at lines {lines}: move the read into a selector"


def test_the_check_sees_a_manager_in_a_view() -> None:
    source = "def page(request):\n    rows = Machine.objects.filter(site='x')\n    return render(request, 't', {})\n"
    assert objects_uses(source) == [2]
    assert objects_uses("def page(request):\n    return render(request, 't', {'rows': machine_list()})\n") == []
