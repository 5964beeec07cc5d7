"""Sensor files into the reading store: formats, time kinds, fleets, duplicates, rejections,
all-or-nothing, tenant isolation, and the reading table of a freshly signed-up tenant."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.db import connection
from django_tenants.utils import tenant_context

from machines.ingest.mapping import ColumnMapping
from machines.ingest.reader import table_open
from machines.ingest.store import readings_ingest
from machines.models import Machine
from machines.selectors import readings_count, readings_for_machine
from machines.services import machine_create, machine_type_adopt, machine_type_slots
from pdm_saas.errors import InvalidInput
from tenants.services import tenant_signup

MOTOR = "induction-motor-siemens-1la7"
SENSORS = {"current": "current_a", "speed": "speed_rpm"}


def _mapping(**overrides) -> ColumnMapping:
    fields = {"time_column": "time", "sensors": SENSORS, "machine_name": "M-1"}
    return ColumnMapping(**{**fields, **overrides})


def _write(tmp_path, content: bytes, name: str = "data.csv"):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _stored(name: str = "M-1"):
    return readings_for_machine(machine=Machine.objects.select_related("machine_type").get(name=name))


@pytest.mark.parametrize(
    ("content", "encoding"),
    [
        ("time,current,speed\n2024-01-01T00:00:00,10.5,1480\n2024-01-01T00:00:01,11,1490.25\n", "utf-8"),
        ("time;current;speed\n2024-01-01T00:00:00;10.5;1480\n2024-01-01T00:00:01;11;1490.25\n", "utf-8"),
        ("time\tcurrent\tspeed\n2024-01-01T00:00:00\t10.5\t1480\n2024-01-01T00:00:01\t11\t1490.25\n", "utf-8-sig"),
        ("time|current|speed\n2024-01-01 00:00:00|10.5|1480\n2024-01-01T02:00:01+02:00|11|1490.25\n", "utf-8"),
    ],
    ids=["comma", "semicolon", "tab-bom", "pipe-offset"],
)
def test_csv_delimiters_and_iso_times(world, motor, tmp_path, content, encoding):
    path = _write(tmp_path, content.encode(encoding))
    with tenant_context(world.acme):
        result = readings_ingest(source=path, mapping=_mapping(), machine_type=motor, upload_id=7)
        assert (result.rows_read, result.rows_stored, result.rows_rejected) == (2, 2, 0)
        assert _stored() == [
            (datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC), {"current_a": 10.5, "speed_rpm": 1480.0}),
            (datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC), {"current_a": 11.0, "speed_rpm": 1490.25}),
        ]
        assert result.partitions_created == ["machines_reading_p202401"]


def test_latin1_and_bom_headers_with_units(world, motor, tmp_path):
    header = "time;Température (°C);Courant [A]\n"
    rows = "2024-03-05T10:00:00;21.5;12\n"
    sensors = {"Température (°C)": "ambient_temp_c", "Courant [A]": "current_a"}
    latin1 = _write(tmp_path, (header + rows).encode("latin-1"), "latin1.csv")
    bom = _write(tmp_path, (header + rows.replace("21.5", "22.5")).encode("utf-8-sig"), "bom.csv")
    with tenant_context(world.acme):
        # Windows-1252 reads the letters of Latin-1 alike (and the € and quotes Latin-1 lacks)
        assert table_open(latin1).encoding == "cp1252" and table_open(bom).encoding == "utf-8"
        readings_ingest(source=latin1, mapping=_mapping(sensors=sensors), machine_type=motor)
        again = readings_ingest(source=bom, mapping=_mapping(sensors=sensors), machine_type=motor)
        assert again.duplicates == 1  # same machine and instant: the first reading stays
        assert _stored() == [(datetime(2024, 3, 5, 10, tzinfo=UTC), {"ambient_temp_c": 21.5, "current_a": 12.0})]


def test_values_follow_the_type_slots_and_missing_values_are_null(world, motor, tmp_path):
    path = _write(tmp_path, b"time,speed,current\n2024-01-01T00:00:00,,3\n2024-01-01T00:00:01,NaN,NA\n")
    with tenant_context(world.acme):
        readings_ingest(source=path, mapping=_mapping(), machine_type=motor)
        slots = machine_type_slots(motor)
        assert slots[:3] == ["current_a", "voltage_v", "speed_rpm"]
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT vals FROM machines_reading ORDER BY ts")
            first, second = (row[0] for row in cursor.fetchall())
        assert len(first) == len(slots) and first[0] == 3.0 and first[2] is None
        assert second[0] is None and second[2] is None  # "NaN" and "NA" are missing, not values


def test_parquet_with_epoch_ms_and_native_types(world, motor, tmp_path):
    path = tmp_path / "data.parquet"
    table = pa.table({"ts": pa.array([1704067200000, 1704067201500], pa.int64()),
                      "current": pa.array([1.25, None]), "speed": pa.array([1500, 1501], pa.int32())})
    pq.write_table(table, path)
    with tenant_context(world.acme):
        result = readings_ingest(source=path, mapping=_mapping(time_column="ts", time_format="epoch_ms"),
                                 machine_type=motor)
        assert result.rows_stored == 2
        assert _stored() == [(datetime(2024, 1, 1, tzinfo=UTC), {"current_a": 1.25, "speed_rpm": 1500.0}),
                             (datetime(2024, 1, 1, 0, 0, 1, 500000, tzinfo=UTC), {"speed_rpm": 1501.0})]


def test_epoch_seconds(world, motor, tmp_path):
    path = _write(tmp_path, b"time,current,speed\n1704067200,1,2\n1704067200.25,3,4\n")
    with tenant_context(world.acme):
        readings_ingest(source=path, mapping=_mapping(time_format="epoch_s"), machine_type=motor)
        assert [ts for ts, _ in _stored()] == [datetime(2024, 1, 1, tzinfo=UTC),
                                               datetime(2024, 1, 1, 0, 0, 0, 250000, tzinfo=UTC)]


def test_fleet_file_with_cycles_creates_machines(world, motor, tmp_path):
    lines = ["unit,cycle,current,speed"] + [f"U-{unit},{cycle},{unit}.5,{cycle * 10}"
                                             for unit in (1, 2, 3) for cycle in (1, 2, 3)]
    path = _write(tmp_path, ("\n".join(lines) + "\n").encode())
    mapping = _mapping(machine_name=None, machine_column="unit", time_column="cycle", time_format="cycle",
                       create_unknown_machines=True)
    with tenant_context(world.acme):
        result = readings_ingest(source=path, mapping=mapping, machine_type=motor)
        assert result.machines_created == ["U-1", "U-2", "U-3"] and result.rows_stored == 9
        assert result.partitions_created == ["machines_reading_p197001"]
        stored = _stored("U-2")
        assert [ts for ts, _ in stored] == [datetime(1970, 1, 1, 0, 0, cycle, tzinfo=UTC) for cycle in (1, 2, 3)]
        assert stored[2][1] == {"current_a": 2.5, "speed_rpm": 30.0}
        assert Machine.objects.get(name="U-3").machine_type_id == motor.id


def test_unknown_machines_are_rejected_when_creation_is_off(world, motor, tmp_path):
    path = _write(tmp_path, b"m,time,current,speed\nM-1,2024-01-01,1,1\nGhost,2024-01-01,1,1\n,2024-01-01,1,1\n")
    with tenant_context(world.acme):
        result = readings_ingest(source=path, mapping=_mapping(machine_name=None, machine_column="m"),
                                 machine_type=motor)
        assert (result.rows_stored, result.rows_rejected) == (1, 2)
        assert [(row.line, row.reason) for row in result.rejected] == [
            (3, "unknown machine 'Ghost' (creating unknown machines is off)"), (4, "no machine name")]
        assert not Machine.objects.filter(name="Ghost").exists()


def test_reingesting_the_same_file_stores_each_reading_once(world, motor, tmp_path):
    rows = [f"2024-02-{day:02d}T12:00:00,{day},{day * 100}\n" for day in range(1, 29)]
    path = _write(tmp_path, ("time,current,speed\n" + "".join(rows + rows[:2])).encode())  # two in-file repeats
    with tenant_context(world.acme):
        first = readings_ingest(source=path, mapping=_mapping(), machine_type=motor)
        second = readings_ingest(source=path, mapping=_mapping(), machine_type=motor)
        assert (first.rows_read, first.rows_stored, first.duplicates) == (30, 28, 2)
        assert (second.rows_stored, second.duplicates) == (0, 30)
        assert readings_count() == 28


def test_rejected_rows_have_line_numbers_and_reasons(world, motor, tmp_path):
    content = (b"time,current,speed\n"
               b"2024-01-01T00:00:00,1,2\n"
               b"yesterday,1,2\n"
               b"2024-01-01T00:00:02,abc,2\n"
               b"2024-13-01T00:00:00,1,2\n"
               b",1,2\n"
               b"2024-01-01T00:00:05,1, 7 \n")
    with tenant_context(world.acme):
        result = readings_ingest(source=_write(tmp_path, content), mapping=_mapping(), machine_type=motor)
    assert (result.rows_read, result.rows_stored, result.rows_rejected) == (6, 2, 4)
    assert dict(result.rejected_by_reason) == {"bad_time": 3, "non_numeric": 1}
    reasons = {row.line: row.reason for row in result.rejected}
    assert sorted(reasons) == [3, 4, 5, 6]
    assert reasons[3].startswith("unparseable time 'yesterday' in column 'time'")
    assert reasons[4] == "non-numeric value 'abc' in column 'current'"
    assert reasons[6] == "missing time in column 'time'"


def test_rejected_details_are_bounded_but_counts_exact(world, motor, tmp_path):
    content = b"time,current,speed\n" + b"later,1,2\n" * 2500
    with tenant_context(world.acme):
        result = readings_ingest(source=_write(tmp_path, content), mapping=_mapping(), machine_type=motor)
    assert (result.rows_stored, result.rows_rejected) == (0, 2500)
    assert len(result.rejected) == 1000 and result.rejected[-1].line == 1001


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"time_column": "timestamp"}, "the time column 'timestamp' is not in the file"),
        ({"sensors": {"current": "current_a", "temp": "winding_temp_c"}},
         "the column 'temp' (sensor 'winding_temp_c') is not in the file"),
        ({"sensors": {"current": "oil_pressure"}}, "'oil_pressure' is not a sensor of machine type"),
        ({"machine_column": "unit"}, "give either a machine column"),
    ],
)
def test_a_mapping_that_does_not_fit_the_file_is_refused(world, motor, tmp_path, overrides, message):
    path = _write(tmp_path, b"time,current,speed\n2024-01-01,1,2\n")
    with tenant_context(world.acme), pytest.raises(InvalidInput) as caught:
        readings_ingest(source=path, mapping=_mapping(**overrides), machine_type=motor)
    assert caught.value.code == "mapping_invalid"
    assert any(message in problem for problem in caught.value.details["problems"]), caught.value.details


@pytest.mark.parametrize(
    ("content", "code"),
    [(b"", "empty_file"), (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary_file"),
     (b"time,current,speed\n", "no_rows"), (b"time,current,speed\n2024-01-01,1,\xff\n", "bad_encoding"),
     (b"time,current,speed\n" + b"2024-01-01,1,2\n" * 5000 + b"2024-01-02,1,\xff\n", "unreadable_file")],
    ids=["empty", "binary", "no-rows", "not-utf8-as-chosen", "not-utf8-after-the-sample"],
)
def test_bad_files_get_clear_errors(world, motor, tmp_path, content, code):
    mapping = _mapping(encoding="utf-8") if code == "bad_encoding" else _mapping()
    with tenant_context(world.acme), pytest.raises(InvalidInput) as caught:
        readings_ingest(source=_write(tmp_path, content), mapping=mapping, machine_type=motor)
    assert caught.value.code == code


def test_a_failure_in_the_third_batch_leaves_no_readings_and_no_machines(world, motor, tmp_path):
    good = "".join(f"U-{row % 3},2024-01-01T{row // 3600:02d}:{row // 60 % 60:02d}:{row % 60:02d},1,2\n"
                   for row in range(3000))
    # The last row is not UTF-8, and lies past the 64 KB the encoding is detected from.
    content = ("unit,time,current,speed\n" + good).encode() + b"U-9,2024-01-02T00:00:00,1,\xff\n"
    source = table_open(_write(tmp_path, content), block_size=16 * 1024)
    mapping = _mapping(machine_name=None, machine_column="unit", create_unknown_machines=True)
    seen = []
    with tenant_context(world.acme):
        with pytest.raises(InvalidInput) as caught:
            readings_ingest(source=source, mapping=mapping, machine_type=motor,
                            progress=lambda step: seen.append(step.rows_stored))
        assert caught.value.code == "unreadable_file"
        assert len(seen) >= 2 and seen[-1] > 0  # batches were stored before the failure...
        assert readings_count() == 0  # ...and rolled back with it
        assert not Machine.objects.filter(name__startswith="U-").exists()


def test_other_tenants_see_none_of_the_readings(world, motor, tmp_path):
    path = _write(tmp_path, b"time,current,speed\n2024-01-01,1,2\n")
    with tenant_context(world.acme):
        readings_ingest(source=path, mapping=_mapping(), machine_type=motor)
        assert readings_count() == 1
    with tenant_context(world.globex):
        assert readings_count() == 0
        globex_motor = machine_type_adopt(key=MOTOR)
        result = readings_ingest(source=path, mapping=_mapping(), machine_type=globex_motor)
        assert result.rows_stored == 0 and result.rejected[0].reason.startswith("unknown machine 'M-1'")
        assert readings_count() == 0


def test_slots_are_append_only(world, motor):
    with tenant_context(world.acme):
        before = machine_type_slots(motor)
        document = dict(motor.metadata)
        document["sensors"] = [s for s in document["sensors"] if s["name"] != "voltage_v"] + [
            {**document["sensors"][0], "name": "oil_temp_c", "aliases": []}]
        motor.metadata = document
        motor.save()
        after = machine_type_slots(motor)
    assert after == [*before, "oil_temp_c"] and "voltage_v" in after


@pytest.mark.parametrize("use_spare", [False, True], ids=["inline-clone", "spare"])
def test_a_freshly_signed_up_tenant_has_a_working_reading_store(db, world, tmp_path, use_spare):
    from tenants.provisioning import spare_pool_fill

    if use_spare:
        spare_pool_fill(target=1)
    signed = tenant_signup(organization_name="Fresh Co", slug="fresh-co", owner_email="owner@fresh.test",
                           owner_password="Correct-Horse-42")
    path = _write(tmp_path, b"cycle,current,speed\n1,1,2\n2,3,4\n")
    with tenant_context(signed.tenant):
        machine_type = machine_type_adopt(key=MOTOR)
        machine_create(machine_type_id=machine_type.id, name="M-1")
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT relkind FROM pg_class WHERE oid = 'machines_reading'::regclass")
            assert cursor.fetchone()[0] == "p"
        result = readings_ingest(source=path, mapping=_mapping(time_column="cycle", time_format="cycle"),
                                 machine_type=machine_type)
        again = readings_ingest(source=path, mapping=_mapping(time_column="cycle", time_format="cycle"),
                                machine_type=machine_type)
        assert (result.rows_stored, again.duplicates) == (2, 2)  # the unique index came along
        assert [values for _, values in _stored()] == [{"current_a": 1.0, "speed_rpm": 2.0},
                                                       {"current_a": 3.0, "speed_rpm": 4.0}]
    assert math.isfinite(result.seconds)


def _rows_stored():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT m.name, r.ts, r.upload_id, r.vals FROM machines_reading r "
                       "JOIN machines_machine m ON m.id = r.machine_id ORDER BY m.name, r.ts")
        return cursor.fetchall()


def test_new_readings_go_straight_in_and_overlapping_ones_through_the_conflict_path(world, motor, tmp_path):
    mapping = _mapping(machine_name=None, machine_column="unit", create_unknown_machines=True)
    first = ["unit,time,current,speed"] + [f"U-{unit},2024-01-01T00:00:{second:02d},{unit},{second}"
                                           for unit in (1, 2) for second in range(10)]
    # U-1 overlaps its stored range (5 repeats, 5 new); U-2 only adds later times; U-3 is new.
    second = ["unit,time,current,speed"] + [f"U-1,2024-01-01T00:00:{second:02d},9,9" for second in range(5, 15)] + [
        f"U-2,2024-01-01T00:01:{second:02d},2,{second}" for second in range(3)] + ["U-3,2024-01-01T00:00:00,3,3"]
    with tenant_context(world.acme):
        one = readings_ingest(source=_write(tmp_path, ("\n".join(first) + "\n").encode(), "1.csv"), mapping=mapping,
                              machine_type=motor, upload_id=1)
        two = readings_ingest(source=_write(tmp_path, ("\n".join(second) + "\n").encode(), "2.csv"), mapping=mapping,
                              machine_type=motor, upload_id=2)
        assert (one.rows_stored, one.duplicates) == (20, 0)
        assert (two.rows_read, two.rows_stored, two.duplicates) == (14, 9, 5)
        stored = _rows_stored()
        assert len(stored) == 29
        u1 = [(ts.second + 60 * ts.minute, upload, vals[0]) for name, ts, upload, vals in stored if name == "U-1"]
        assert u1 == [(s, 1, 1.0) for s in range(10)] + [(s, 2, 9.0) for s in range(10, 15)]  # the first stays
        assert [(name, upload) for name, _, upload, _ in stored if name != "U-1"][-4:] == [
            ("U-2", 2), ("U-2", 2), ("U-2", 2), ("U-3", 2)]


def test_repeats_within_a_batch_keep_the_first_row_of_the_file(world, motor, tmp_path):
    content = (b"time,current,speed\n"
               b"2024-01-01T00:00:01,1,10\n"
               b"2024-01-01T00:00:00,2,20\n"
               b"2024-01-01T00:00:01,3,30\n"
               b"2024-01-01T00:00:00,4,40\n")
    with tenant_context(world.acme):
        result = readings_ingest(source=_write(tmp_path, content), mapping=_mapping(), machine_type=motor)
        assert (result.rows_stored, result.duplicates) == (2, 2)
        assert _stored() == [(datetime(2024, 1, 1, 0, 0, 0, tzinfo=UTC), {"current_a": 2.0, "speed_rpm": 20.0}),
                             (datetime(2024, 1, 1, 0, 0, 1, tzinfo=UTC), {"current_a": 1.0, "speed_rpm": 10.0})]


def test_values_and_nulls_round_trip_exactly(world, motor, tmp_path):
    rng = np.random.default_rng(7)
    count = 500
    current = rng.normal(0, 1e3, count).astype(np.float32)
    speed = rng.normal(0, 1e-3, count).astype(np.float32)
    current_missing = rng.random(count) < 0.3
    speed_missing = rng.random(count) < 0.1
    current[:3] = [np.float32(np.inf), np.float32(-np.inf), np.float32(3.4e38)]
    current_missing[:3] = False
    table = pa.table({
        "ts": pa.array(np.arange(count, dtype=np.int64) * 1000 + 1704067200000),
        "current": pa.array(current, mask=current_missing),
        "speed": pa.array(speed, mask=speed_missing),
    })
    pq.write_table(table, tmp_path / "values.parquet")
    with tenant_context(world.acme):
        result = readings_ingest(source=tmp_path / "values.parquet", machine_type=motor,
                                 mapping=_mapping(time_column="ts", time_format="epoch_ms"))
        # The infinities are rejected rows (non-finite values never reach the store); the
        # largest float32 and every other value round-trip exactly.
        assert result.rows_stored == count - 2 and dict(result.rejected_by_reason) == {"non_finite": 2}
        stored = _rows_stored()
        slots = machine_type_slots(motor)
    current_at, speed_at = slots.index("current_a"), slots.index("speed_rpm")
    for index, (_, ts, upload, vals) in enumerate(stored, start=2):
        assert ts == datetime.fromtimestamp(1704067200 + index, UTC) and upload is None
        assert len(vals) == len(slots)
        assert [position for position, value in enumerate(vals) if value is not None] == sorted(
            position for position, missing in ((current_at, current_missing[index]), (speed_at, speed_missing[index]))
            if not missing)
        if not current_missing[index]:
            assert np.float32(vals[current_at]) == current[index]
        if not speed_missing[index]:
            assert np.float32(vals[speed_at]) == speed[index]


def test_a_reading_stored_concurrently_takes_the_conflict_path(world, motor, tmp_path, monkeypatch):
    """The clash check cannot see readings a concurrent upload has not committed yet: when the
    unique index then refuses the direct COPY, the batch is stored through ON CONFLICT instead."""
    from machines.ingest import store

    path = _write(tmp_path, b"time,current,speed\n2024-01-01T00:00:00,1,2\n2024-01-01T00:00:01,3,4\n")
    later = _write(tmp_path, b"time,current,speed\n2024-01-01T00:00:01,5,6\n2024-01-01T00:00:02,7,8\n", "b.csv")
    with tenant_context(world.acme):
        readings_ingest(source=path, mapping=_mapping(), machine_type=motor)
        monkeypatch.setattr(store.ReadingWriter, "_clashing_machines",
                            lambda self, machine_ids, ts_us: np.array([], dtype=np.int64))
        result = readings_ingest(source=later, mapping=_mapping(), machine_type=motor)
        assert (result.rows_stored, result.duplicates) == (1, 1)
        assert [values for _, values in _stored()] == [{"current_a": 1.0, "speed_rpm": 2.0},
                                                       {"current_a": 3.0, "speed_rpm": 4.0},
                                                       {"current_a": 7.0, "speed_rpm": 8.0}]


def test_reading_a_large_csv_keeps_memory_bounded_by_the_block_size(tmp_path):
    """pyarrow reads CSV blocks ahead on a background thread; from the memory map they cost
    nothing until parsed, and the parsed pages are handed back batch after batch."""
    import resource

    lines = "".join(f"2024-01-01T00:00:{row % 60:02d},{row},{row * 2}\n" for row in range(20000))
    path = _write(tmp_path, ("time,current,speed\n" + lines * 40).encode())  # ~26 MB
    source = table_open(path, block_size=256 * 1024)
    before = pa.total_allocated_bytes()
    peak, rows = 0, 0
    for batch in source.batches():
        rows += batch.num_rows
        peak = max(peak, pa.total_allocated_bytes() - before)
    assert rows == 800000
    assert peak < 16 * 256 * 1024, peak  # a few blocks, not the file
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > 0


NON_FINITE = ["inf", "-inf", "+inf", "Infinity", "-Infinity", "INF", "NAN", "1e39", "-1e39", "1" + "0" * 400]


def test_non_finite_values_are_rejected_rows_with_their_reason(world, motor, tmp_path):
    rows = [f"2024-01-01T00:00:{second:02d},{value},1480" for second, value in enumerate(NON_FINITE)]
    good = ["2024-01-01T00:01:00,3.4e38,1480", "2024-01-01T00:01:01,,1480", "2024-01-01T00:01:02,NaN,1490"]
    content = ("time,current,speed\n" + "\n".join(rows + good) + "\n").encode()
    with tenant_context(world.acme):
        result = readings_ingest(source=_write(tmp_path, content), mapping=_mapping(), machine_type=motor)
        stored = _stored()
    assert (result.rows_read, result.rows_stored, result.rows_rejected) == (13, 3, 10)
    assert dict(result.rejected_by_reason) == {"non_finite": 10}
    reasons = {row.line: row.reason for row in result.rejected}
    assert sorted(reasons) == list(range(2, 12))
    assert reasons[2] == "value 'inf' in column 'current' is not a finite number (NaN, infinity, or beyond ±3.4e38)"
    assert "'1e39'" in reasons[9]
    # The largest float32 is stored; an empty cell and the CSV missing-value marker "NaN" are missing.
    assert [values for _, values in stored] == [{"current_a": pytest.approx(3.4e38), "speed_rpm": 1480.0},
                                                {"speed_rpm": 1480.0}, {"speed_rpm": 1490.0}]


def test_non_finite_floats_in_a_parquet_file_are_rejected(world, motor, tmp_path):
    path = tmp_path / "data.parquet"
    values = [1.5, math.nan, math.inf, -math.inf, 1e39, None]
    pq.write_table(pa.table({"time": pa.array([f"2024-01-01T00:00:0{i}" for i in range(6)]),
                             "current": pa.array(values, pa.float64()),
                             "speed": pa.array([1480.0, 1480.0, 1480.0, 1480.0, 1480.0, math.inf])}), path)
    with tenant_context(world.acme):
        result = readings_ingest(source=path, mapping=_mapping(), machine_type=motor)
        stored = _stored()
    assert (result.rows_stored, result.rows_rejected) == (1, 5)
    assert [row.line for row in result.rejected] == [2, 3, 4, 5, 6]  # parquet rows count from 1
    assert "'speed'" in result.rejected[-1].reason
    assert [values for _, values in stored] == [{"current_a": 1.5, "speed_rpm": 1480.0}]


def test_a_database_refusal_in_a_later_batch_rolls_back_the_whole_file(world, motor, tmp_path, caplog):
    """A value the database refuses (here: a check constraint the test adds to the table) in
    the third batch: the batches stored before are rolled back, machines made for the file too,
    and the error says what happened in words, without the database's message."""
    from machines.ingest.store import StoreRefused

    good = "".join(f"U-{row % 3},2024-01-01T00:{row // 60 % 60:02d}:{row % 60:02d},1,2\n" for row in range(1200))
    content = ("unit,time,current,speed\n" + good + "U-9,2024-01-02T00:00:00,5000,2\n").encode()
    source = table_open(_write(tmp_path, content), block_size=16 * 1024)
    mapping = _mapping(machine_name=None, machine_column="unit", create_unknown_machines=True)
    seen = []
    with tenant_context(world.acme):
        slot = machine_type_slots(motor).index("current_a") + 1
        with connection.cursor() as cursor:  # rolled back with the test's transaction
            cursor.execute(f"ALTER TABLE machines_reading ADD CONSTRAINT current_below_1000 "
                           f"CHECK (vals[{slot}] IS NULL OR vals[{slot}] < 1000)")
        with pytest.raises(StoreRefused) as caught:
            readings_ingest(source=source, mapping=mapping, machine_type=motor,
                            progress=lambda step: seen.append(step.rows_stored))
        assert len(seen) >= 2 and seen[-1] > 0  # batches were stored before the refusal...
        assert readings_count() == 0  # ...and rolled back with it
        assert not Machine.objects.filter(name__startswith="U-").exists()
    message = caught.value.message
    assert "nothing of it was stored" in message and "constraint" not in message and "current_below" not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "current_below_1000" in caplog.text  # the operator's log has the database's words


def test_a_database_that_cannot_answer_in_time_is_reported_as_unavailable(world, motor, tmp_path, caplog):
    """Another session holds the reading table locked past our lock timeout: an operational
    error, answered as 503 `store_unavailable` in words; nothing stored."""
    import psycopg

    from machines.ingest.store import StoreRefused

    settings = connection.settings_dict
    path = _write(tmp_path, b"time,current,speed\n2024-01-01T00:00:00,1,2\n")
    with psycopg.connect(host=settings["HOST"], port=settings["PORT"], user=settings["USER"],
                         password=settings["PASSWORD"], dbname=settings["NAME"]) as other:
        other.execute("LOCK TABLE t_acme.machines_reading IN ACCESS EXCLUSIVE MODE")  # held until `with` ends
        with tenant_context(world.acme):
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            with pytest.raises(StoreRefused) as caught:
                readings_ingest(source=path, mapping=_mapping(), machine_type=motor)
        other.rollback()
    assert caught.value.code == "store_unavailable" and caught.value.status_code == 503
    assert "nothing was stored" in caught.value.message and "lock" not in caught.value.message
    assert "lock timeout" in caplog.text
    with tenant_context(world.acme):
        assert readings_count() == 0


# --- Files as people send them (issue 13) ------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter", "decimal_mark"),
    [
        ("time;current;speed\n2024-01-01;60,5;1480\n".encode("cp1252"), "utf-8", ";", ","),
        ("Zeit;Strom;Drehzahl (1/min)\n2024-01-01;60,5;1480\n".encode("latin-1"), "utf-8", ";", ","),
        ("Zeit;Strömung;Drehzahl\n2024-01-01;60,5;1480\n".encode("latin-1"), "cp1252", ";", ","),
        ("time\tcurrent\tspeed\n2024-01-01\t60.5\t1480\n".encode("utf-16"), "utf-16", "\t", "."),
        ("time,current,speed\n2024-01-01,60.5,1480\n".encode("utf-16-le"), "utf-16-le", ",", "."),
        ("time,current,speed\n2024-01-01,60.5,1480\n".encode("utf-16-be"), "utf-16-be", ",", "."),
        (b'time,current,speed\n2024-01-01,"60,5",1480\n', "utf-8", ",", ","),
        (b"time;current;speed\n2024-01-01;60;1480\n", "utf-8", ";", "."),  # integers: no sign of a comma
    ],
    ids=["ascii-semicolon-comma", "latin1-ascii-letters", "latin1-umlaut", "utf16-bom-tab", "utf16-le", "utf16-be",
         "quoted-comma", "integers"],
)
def test_encoding_delimiter_and_decimal_mark_are_detected(tmp_path, content, encoding, delimiter, decimal_mark):
    table = table_open(_write(tmp_path, content))
    assert (table.encoding, table.delimiter, table.decimal_mark) == (encoding, delimiter, decimal_mark)
    assert table.columns[0] in ("time", "Zeit")


def test_what_a_person_chose_wins_over_detection(world, motor, tmp_path):
    path = _write(tmp_path, b"time;current;speed\n2024-01-01;60,5;1480\n2024-01-02;61;1.481\n2024-01-03;1.5;1\n"
                            b"2024-01-04;62,5;1,5\n")
    with tenant_context(world.acme):
        comma = readings_ingest(source=path, mapping=_mapping(), machine_type=motor)
        assert [values for _, values in _stored()] == [{"current_a": 60.5, "speed_rpm": 1480},
                                                       {"current_a": 61, "speed_rpm": 1481},  # 1.481: thousands
                                                       {"current_a": 62.5, "speed_rpm": 1.5}]
        assert comma.rejected[0].reason == "non-numeric value '1.5' in column 'current'"  # not with decimal commas
        point = readings_ingest(source=path, mapping=_mapping(machine_name="M-2", create_unknown_machines=True,
                                                             decimal_mark="."), machine_type=motor)
    assert (point.rows_stored, point.rows_rejected) == (2, 2)  # 60,5 is no number when the mark is a point
    assert point.rejected[0].reason == "non-numeric value '60,5' in column 'current'"
    with pytest.raises(InvalidInput) as caught:
        table_open(path, encoding="utf-8", delimiter=":")
    assert caught.value.code == "bad_delimiter"
    utf16 = _write(tmp_path, "time;current\n2024-01-01;1\n".encode("utf-16"), "utf16.csv")
    with pytest.raises(InvalidInput) as caught:
        table_open(utf16, encoding="utf-8")
    assert caught.value.code == "bad_encoding" and "choose another encoding" in caught.value.message


def test_ragged_rows_in_every_batch_keep_the_line_numbers_of_the_rest(world, motor, tmp_path):
    rows = [f"2024-01-01T00:{row // 60 % 60:02d}:{row % 60:02d},1,2" for row in range(3000)]
    ragged = {10, 1500, 1501, 2999}  # row indexes: lines 12, 1502, 1503, 3001
    rows = [row + ",extra" if index in ragged else row for index, row in enumerate(rows)]
    rows[2000] = rows[2000].replace(",1,2", ",one,2")  # line 2002, after three dropped rows
    source = table_open(_write(tmp_path, ("time,current,speed\n" + "\n".join(rows) + "\n").encode()),
                        block_size=16 * 1024)
    with tenant_context(world.acme):
        result = readings_ingest(source=source, mapping=_mapping(), machine_type=motor)
    assert (result.rows_read, result.rows_stored, result.rows_rejected) == (3000, 2995, 5)
    assert dict(result.rejected_by_reason) == {"ragged_row": 4, "non_numeric": 1}
    assert [row.line for row in result.rejected] == [12, 1502, 1503, 2002, 3001]
    assert result.rejected[3].reason == "non-numeric value 'one' in column 'current'"


def test_too_many_ragged_rows_refuse_the_file_and_name_the_delimiter(world, motor, tmp_path, monkeypatch):
    from machines.ingest import reader

    monkeypatch.setattr(reader, "RAGGED_LIMIT", 5)  # a small file crosses the limit
    content = "time;current;speed\n" + "2024-01-01,1,2\n" * 4 + "2024-01-01;1;2\n" + "2024-01-02,1,2\n" * 4
    with tenant_context(world.acme), pytest.raises(InvalidInput) as caught:
        readings_ingest(source=_write(tmp_path, content.encode()), mapping=_mapping(), machine_type=motor)
    assert caught.value.code == "ragged_rows"
    assert "first: line 2, 1 field where the header has 3" in caught.value.message
    assert "Is ';' the right delimiter?" in caught.value.message
    with tenant_context(world.acme):
        assert readings_count() == 0


def test_negative_cycles_are_refused_not_stored_in_1969(world, motor, tmp_path):
    path = _write(tmp_path, b"time,current,speed\n-1,1,2\n0,1,2\n1,1,2\n-2.0,1,2\n")
    with tenant_context(world.acme):
        result = readings_ingest(source=path, mapping=_mapping(time_format="cycle"), machine_type=motor)
        stored = [ts for ts, _ in _stored()]
    assert (result.rows_stored, dict(result.rejected_by_reason)) == (2, {"negative_cycle": 2})
    assert [(row.line, row.reason) for row in result.rejected] == [
        (2, "negative cycle '-1' in column 'time' (cycles count up from 0)"),
        (5, "negative cycle '-2.0' in column 'time' (cycles count up from 0)")]
    assert min(stored) == datetime(1970, 1, 1, tzinfo=UTC)


def test_repeats_are_counted_across_batches_and_machines():
    from machines.quality import RepeatCounter

    counter = RepeatCounter()
    counter.add(np.array([1, 1, 2, 1]), np.array([10, 20, 10, 10]))  # (1, 10) twice in one batch
    counter.add(np.array([2, 2, 1, 3]), np.array([10, 30, 20, 10]))  # (2, 10) and (1, 20) again, later
    counter.add(np.array([2]), np.array([5]))  # earlier than everything: new
    assert counter.count == 3 and counter.exact
