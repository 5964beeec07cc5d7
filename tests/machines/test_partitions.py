"""Monthly reading partitions at the edges of the calendar: the last instant of a year, a leap day
and a month end each land in their own month's partition, and live readings stamped with the
clock around midnight of New Year (clock pinned) are stored and read back in order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django_tenants.utils import tenant_context

from machines.ingest.mapping import ColumnMapping
from machines.ingest.store import readings_ingest
from machines.live import readings_push
from machines.models import Machine
from machines.selectors import readings_for_machine
from tenants.db import connection

pytestmark = pytest.mark.clock


def _partition_of_each_reading() -> dict[datetime, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT ts, tableoid::regclass::text FROM machines_reading ORDER BY ts")
        return {ts: table.split(".")[-1].strip('"') for ts, table in cursor.fetchall()}


def test_edges_of_years_months_and_leap_days_land_in_their_own_partitions(world, motor, tmp_path):
    stamps = ["2026-12-31T23:59:59.999999", "2027-01-01T00:00:00", "2028-02-28T23:59:59", "2028-02-29T00:00:00",
              "2028-02-29T23:59:59.999999", "2028-03-01T00:00:00", "2027-04-30T23:59:59", "2027-05-01T00:00:00"]
    path = tmp_path / "edges.csv"
    path.write_text("time,current\n" + "".join(f"{ts},{i}\n" for i, ts in enumerate(stamps)))
    mapping = ColumnMapping(time_column="time", sensors={"current": "current_a"}, machine_name="M-1")
    with tenant_context(world.acme):
        result = readings_ingest(source=path, mapping=mapping, machine_type=motor, upload_id=1)
        assert result.rows_stored == len(stamps)
        assert sorted(result.partitions_created) == [
            "machines_reading_p202612", "machines_reading_p202701", "machines_reading_p202704",
            "machines_reading_p202705", "machines_reading_p202802", "machines_reading_p202803"]
        placed = {f"{ts:%Y-%m-%dT%H:%M:%S}": table for ts, table in _partition_of_each_reading().items()}
    assert placed == {
        "2026-12-31T23:59:59": "machines_reading_p202612", "2027-01-01T00:00:00": "machines_reading_p202701",
        "2027-04-30T23:59:59": "machines_reading_p202704", "2027-05-01T00:00:00": "machines_reading_p202705",
        "2028-02-28T23:59:59": "machines_reading_p202802", "2028-02-29T00:00:00": "machines_reading_p202802",
        "2028-02-29T23:59:59": "machines_reading_p202802", "2028-03-01T00:00:00": "machines_reading_p202803",
    }


def test_live_readings_across_midnight_of_new_year(world, motor):
    eve = datetime(2026, 12, 31, 23, 59, 58, tzinfo=UTC)
    with time_machine.travel(eve, tick=False), tenant_context(world.acme):
        stamps = [eve + timedelta(seconds=s) for s in range(4)]  # 23:59:58 ... 00:00:01
        result = readings_push(items=[{"machine": "M-1", "ts": ts.isoformat(), "values": {"current_a": float(i)}}
                                      for i, ts in enumerate(stamps)])
        assert (result.stored, result.rejected) == (4, [])
        machine = Machine.objects.select_related("machine_type").get(name="M-1")
        assert [(ts, values["current_a"]) for ts, values in readings_for_machine(machine=machine)] == [
            (ts, float(i)) for i, ts in enumerate(stamps)]
        assert set(_partition_of_each_reading().values()) == {"machines_reading_p202612", "machines_reading_p202701"}
