"""What the alerts API (maintenance/api.py) needs for the alarm history: its filters read from the
query (once per request), their OpenAPI description, and the export's content negotiation.

`GET /api/v1/alerts/` takes the history's filters beside the older field filters (`status`,
`machine__name`...), all of them narrowing together; `ordering` stays the API's (`opened_at`,
`probability`, `severity`, `-` for descending). `GET /api/v1/alerts/export/?file=csv|xlsx&...`
writes the same rows as a file.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from maintenance.alarm_export import MEDIA_TYPES
from maintenance.alarm_filters import KINDS, SEVERITIES, STATES, alarm_filters_parse
from maintenance.selectors import AlarmFilters
from tenants.selectors import tenant_time_zone

FILTER_PARAMETERS = [
    OpenApiParameter("machine", str, description="a machine's name; an unknown name answers 400"),
    OpenApiParameter("failure_mode", str, description="a failure mode's name (as `/machine-types/` lists them)"),
    OpenApiParameter("kind", str, enum=list(KINDS), description="failure: a failure mode at risk; "
                     "anomaly: readings unlike the machine's normal"),
    OpenApiParameter("severity", str, enum=list(SEVERITIES)),
    OpenApiParameter("state", str, enum=list(STATES), description="as people read it: `handled` is an open or "
                     "acknowledged alert a live work order is on (then not `open` or `acknowledged`); `active` "
                     "is every alert not resolved"),
    OpenApiParameter("from", str, description="first day of the period the alerts opened in, YYYY-MM-DD, "
                     "included, a local day of `tz`"),
    OpenApiParameter("to", str, description="last day of the period, YYYY-MM-DD, included (up to the next "
                     "local midnight: 23 or 25 hours on the days clocks change)"),
    OpenApiParameter("tz", str, description="the IANA time zone the days are read in (Europe/Berlin); default "
                     "the organization's, else UTC"),
]
EXPORT_PARAMETERS = [
    OpenApiParameter("file", str, enum=list(MEDIA_TYPES), default="csv",
                     description="csv (UTF-8, streamed) or xlsx (Excel); times in `tz`'s local time"),
    *FILTER_PARAMETERS,
]
EXPORT_RESPONSES = {
    (200, MEDIA_TYPES["csv"]): OpenApiResponse(OpenApiTypes.STR,
                                               description="one alert a row, headings with units and the zone"),
    (200, MEDIA_TYPES["xlsx"]): OpenApiResponse(OpenApiTypes.BINARY, description="the same rows as an Excel sheet"),
    400: OpenApiResponse(description="a filter that cannot be read, a format other than csv or xlsx, or more "
                                     "alerts than one file holds (`export_too_large`)"),
}


def history_filters(request: Request) -> AlarmFilters:
    """The history's filters of this request (InvalidInput, a 400, when one cannot be read). The
    API's own `ordering` is left to DRF's OrderingFilter, which knows more fields."""
    cached: AlarmFilters | None = getattr(request, "_alarm_filters", None)
    if cached is None:
        params = {name: value for name, value in request.query_params.items() if name != "ordering"}
        zone = tenant_time_zone(tenant_id=request.tenant.id)  # type: ignore[attr-defined]
        cached = alarm_filters_parse(params, time_zone=zone)
        request._alarm_filters = cached  # type: ignore[attr-defined]
    return cached


class FileNegotiation(BaseContentNegotiation):
    """A file answers in its own type whatever the Accept header says (`text/csv` would otherwise
    be a 406), and an error in the API's JSON."""

    def select_parser(self, request: Request, parsers: list[BaseParser]) -> BaseParser | None:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: list[BaseRenderer],
                        format_suffix: str | None = None) -> tuple[BaseRenderer, Any]:
        return renderers[0], renderers[0].media_type
