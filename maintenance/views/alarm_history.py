"""The alarm history (`/alerts/history/`): active and past alerts in one table with filters, a
page at a time, and its CSV and Excel exports (`/alerts/history/export/?file=xlsx&...`).

Reading only: anyone in the organization may look and export; acting on an alert stays in the
inbox (maintenance.views.alerts). Filters are read by `maintenance.alarm_filters` exactly as the
API reads them, and a filter it cannot read answers 400 with the page and the reason, never a
silently different list.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from maintenance import selectors
from maintenance.alarm_export import alarm_export_response
from maintenance.alarm_filters import KINDS, ORDERINGS, SEVERITIES, STATES, alarm_filters_parse
from maintenance.alarm_rows import alarm_row
from maintenance.selectors import AlarmFilters
from pdm_saas.errors import InvalidInput
from pdm_saas.web_access import member_view
from tenants.selectors import tenant_time_zone

ROWS_PER_PAGE = 50


@member_view()
def alarm_history(request: HttpRequest) -> HttpResponse:
    try:
        filters = _filters(request)
    except InvalidInput as exc:
        return _render(request, filters=None, error=exc)
    return _render(request, filters=filters, error=None)


# FileResponse and StreamingHttpResponse are no HttpResponse subclasses, which member_view's type does not name.
@member_view()  # type: ignore[type-var]
def alarm_history_export(request: HttpRequest) -> HttpResponse | StreamingHttpResponse | FileResponse:
    try:
        filters = _filters(request)
        return alarm_export_response(alerts=selectors.alarm_history(filters=filters), filters=filters,
                                     file_format=request.GET.get("file", "csv"),
                                     schema_name=request.tenant.schema_name)  # type: ignore[attr-defined]
    except InvalidInput as exc:
        return _render(request, filters=None, error=exc)


def _filters(request: HttpRequest) -> AlarmFilters:
    zone = tenant_time_zone(tenant_id=request.tenant.id)  # type: ignore[attr-defined]
    return alarm_filters_parse(request.GET, time_zone=zone)


def _render(request: HttpRequest, *, filters: AlarmFilters | None, error: InvalidInput | None) -> HttpResponse:
    """The page: the rows when the filters read, else the form with what was wrong (400)."""
    query = request.GET.copy()
    query.pop("page", None)
    query.pop("file", None)
    context: dict[str, Any] = {
        "chosen": {name: request.GET.get(name, "") for name in ("machine", "failure_mode", "kind", "severity",
                                                                 "state", "from", "to", "ordering")},
        "machines": selectors.alarm_machine_names(), "failure_modes": selectors.alarm_failure_modes(),
        "kinds": KINDS, "severities": SEVERITIES, "states": STATES, "orderings": ORDERINGS,
        "query": query.urlencode(), "error": error.message if error else "",
        "field_errors": error.details if error else {}, "time_zone": filters.time_zone if filters else "",
        # A link only where one file can hold the rows; else what the limit is (the export says it too).
        "export_formats": [(name, label, settings.ALARM_EXPORT_MAX_ROWS[name])
                           for name, label in (("csv", "CSV"), ("xlsx", "Excel"))],
    }
    if filters is not None:
        page = Paginator(selectors.alarm_history(filters=filters), ROWS_PER_PAGE).get_page(request.GET.get("page"))
        context.update(page=page, rows=[alarm_row(alert, time_zone=filters.time_zone) for alert in page.object_list])
    return render(request, "maintenance/alarm_history.html", context, status=400 if error else 200)
