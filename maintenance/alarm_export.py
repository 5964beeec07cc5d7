"""The alarm history as a file: CSV, streamed row by row, or an Excel workbook (.xlsx, openpyxl in
write-only mode), holding exactly the rows the history lists for the same filters, in the same
order and words (maintenance/alarm_rows.py), times in the history's time zone.

Both are bounded: past `settings.ALARM_EXPORT_MAX_ROWS` alerts (per format: a workbook is built whole
before it is sent, and takes far longer per row) the export is refused before a byte is written,
naming the count, so that a browser never receives half a file. Text that a
spreadsheet would run as a formula (a note starting with "=") is written as text.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import QuerySet
from django.http import FileResponse, StreamingHttpResponse
from django_tenants.utils import schema_context
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from maintenance.alarm_rows import AlarmRow, alarm_row
from maintenance.models import Alert
from maintenance.selectors import AlarmFilters
from pdm_saas.errors import InvalidInput

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
CHUNK = 2_000  # alerts read per query while streaming (their work orders in one more)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what spreadsheets read as a formula (OWASP CSV injection)
LOCAL_TIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Column:
    heading: str  # "{zone}": the history's time zone
    width: int  # in the workbook, in characters
    value: Callable[[AlarmRow], Any]  # numbers as numbers, times as local datetimes


COLUMNS = [
    Column("Alert", 8, lambda row: row.alert_id),
    Column("Machine", 18, lambda row: row.machine),
    Column("Site", 14, lambda row: row.site),
    Column("Kind", 16, lambda row: row.kind),
    Column("Failure mode", 28, lambda row: row.failure_mode),
    Column("Severity", 10, lambda row: row.severity),
    Column("State", 14, lambda row: row.state),
    Column("Failure risk (%)", 10, lambda row: row.risk_percent),
    Column("More unusual than (% of its normal readings)", 14, lambda row: row.unusual_percent),
    Column("Title", 40, lambda row: row.title),
    Column("Opened ({zone})", 20, lambda row: row.opened),
    Column("Acknowledged ({zone})", 20, lambda row: row.acknowledged),
    Column("Acknowledged by", 22, lambda row: row.acknowledged_by),
    Column("Resolved ({zone})", 20, lambda row: row.resolved),
    Column("Occurrences", 8, lambda row: row.occurrences),
    Column("Escalations", 8, lambda row: row.escalations),
    Column("Work order", 22, lambda row: row.work_order),
    Column("Resolution note", 40, lambda row: row.resolution_note),
    # Exact whatever the zone: a local time repeats in the hour the clocks go back.
    Column("Opened (UTC, ISO 8601)", 22, lambda row: row.opened.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")),
]


def alarm_export_headings(*, time_zone: str) -> list[str]:
    """Column headings with their units and the zone the times are in."""
    return [column.heading.format(zone=time_zone) for column in COLUMNS]


def alarm_export_values(row: AlarmRow) -> list[Any]:
    return [column.value(row) for column in COLUMNS]


def alarm_export_response(*, alerts: QuerySet[Alert], filters: AlarmFilters, file_format: str,
                          schema_name: str) -> StreamingHttpResponse | FileResponse:
    """The download of the alerts (`alarm_history`'s queryset for `filters`): `csv` or `xlsx`.
    Raises InvalidInput for another format or more alerts than one file holds."""
    if file_format not in MEDIA_TYPES:
        raise InvalidInput(f"'{file_format[:20]}' is not an export format (parameter 'file'); use csv or xlsx.",
                           code="invalid_filter", details={"file": ["csv or xlsx"]})
    _check_size(alerts, file_format)
    bounded = alerts[:settings.ALARM_EXPORT_MAX_ROWS[file_format]]  # alerts opened since the count stay out
    name = f"alarm-history-{_period(filters)}.{file_format}"
    if file_format == "csv":
        response = StreamingHttpResponse(_csv_lines(bounded, filters.time_zone, schema_name),
                                         content_type=MEDIA_TYPES["csv"])
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    return FileResponse(_workbook(bounded, filters.time_zone), as_attachment=True, filename=name,
                        content_type=MEDIA_TYPES["xlsx"])


def _check_size(alerts: QuerySet[Alert], file_format: str) -> None:
    limit = settings.ALARM_EXPORT_MAX_ROWS[file_format]
    count = alerts.count()
    if count > limit:
        raise InvalidInput(f"This export would hold {count:,} alerts; one file holds at most {limit:,}. "
                           "Narrow the period or the filters.", code="export_too_large",
                           details={"alerts": count, "limit": limit})


def _period(filters: AlarmFilters) -> str:
    """The period's days for the file name: `2026-03-01_2026-03-31`, `from-2026-03-01`, `all`."""
    zone = filters.time_zone
    first = _local_day(filters.opened_from, zone) if filters.opened_from else ""
    last = _local_day(filters.opened_before - timedelta(microseconds=1), zone) if filters.opened_before else ""
    if first and last:
        return f"{first}_{last}"
    return f"from-{first}" if first else f"to-{last}" if last else "all"


def _local_day(moment: datetime, zone: str) -> str:
    return moment.astimezone(ZoneInfo(zone)).date().isoformat()


class _Echo:
    """csv.writer writes into this and gets the line back, to be yielded (Django's recipe)."""

    def write(self, value: str) -> str:
        return value


def _csv_lines(alerts: QuerySet[Alert], time_zone: str, schema_name: str) -> Iterator[str]:
    """The file, a line at a time. The body is read after the view has returned (and the request's
    middleware has run), so the tenant's schema is set again here, for as long as it streams."""
    writer = csv.writer(_Echo())
    yield "\ufeff"  # a byte order mark: Excel then reads the file as UTF-8 (°C, ü)
    yield writer.writerow(alarm_export_headings(time_zone=time_zone))
    with schema_context(schema_name):
        for alert in alerts.iterator(chunk_size=CHUNK):
            yield writer.writerow([_csv_cell(value) for value in
                                   alarm_export_values(alarm_row(alert, time_zone=time_zone))])


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime(LOCAL_TIME)
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return f"'{value}"
    return value


def _workbook(alerts: QuerySet[Alert], time_zone: str) -> IO[bytes]:
    """The workbook in a temporary file (memory up to 16 MB), rewound for the response."""
    book = Workbook(write_only=True)
    sheet: WriteOnlyWorksheet = book.create_sheet("Alarm history")
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    sheet.freeze_panes = "A2"
    sheet.append([_heading(sheet, heading) for heading in alarm_export_headings(time_zone=time_zone)])
    for alert in alerts.iterator(chunk_size=CHUNK):
        values = alarm_export_values(alarm_row(alert, time_zone=time_zone))
        sheet.append([_xlsx_value(sheet, value) for value in values])
    out = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115  (FileResponse closes it)
    book.save(out)
    out.seek(0)
    return out  # type: ignore[return-value]


def _heading(sheet: WriteOnlyWorksheet, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=text)
    cell.font = Font(bold=True)
    return cell


def _xlsx_value(sheet: WriteOnlyWorksheet, value: Any) -> Any:
    """Plain values where they can be (a cell object per value doubles the time a workbook takes):
    a datetime without its zone (Excel keeps none; the heading names it), and a text that openpyxl
    would store as a formula as a text cell."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    if isinstance(value, str) and value.startswith("="):
        cell = WriteOnlyCell(sheet, value=value)
        cell.data_type = "s"
        return cell
    return value
