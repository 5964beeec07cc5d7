"""One owner of the reading store: only `machines` queries `machines_reading` (everyone else asks
`machines.reading_store`), and the store's reads return what was stored: the latest window, step
buckets across a leap day and a year end, newest times, gaps, and RUL labels censored after the
last failure."""

from __future__ import annotations

import ast
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.apps import apps
from django_tenants.utils import tenant_context

from machines.live import readings_push
from machines.models import Machine
from machines.reading_store import (
    SlotColumns,
    reading_gap_median,
    readings_bucketed,
    readings_latest,
    readings_latest_window,
    readings_tail,
    rul_labels,
    sensor_slots,
    slot_values,
)
from machines.services import machine_create, machine_type_adopt

ROOT = Path(__file__).resolve().parents[2]
TABLE = "machines_reading"
AI4I = "ai4i-milling-machine"  # five numeric sensors and a categorical one (L / M / H)


# --- the rule ------------------------------------------------------------------------------------


def _python_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, check=True, capture_output=True, text=True)
    return [ROOT / name for name in listed.stdout.split()
            if not name.startswith(("machines/", "tests/")) and "/migrations/" not in name]


def _imports_reading_model(tree: ast.AST) -> bool:
    """An import of a readings model (`machines.models.Reading` or any `...Reading` class), should
    one ever be declared: the table is queried through machines' functions, not an ORM class."""
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("machines"):
            if any(alias.name.endswith("Reading") for alias in node.names):
                return True
        if isinstance(node, ast.Attribute) and node.attr.endswith("Reading") and "machines" in ast.unparse(node):
            return True
    return False


def test_only_machines_queries_the_reading_table() -> None:
    files = _python_files()
    assert len(files) > 50  # the listing works: a rule over no files would hold by accident
    offenders = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        if TABLE in text or _imports_reading_model(ast.parse(text)):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == [], f"Ask machines.reading_store instead of reading {TABLE} in: {offenders}"


# --- the reads -------------------------------------------------------------------------------------

def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (time, product type, speed): a leap day's last hour into March, and a year's last hour into the next.
ROWS = [
    ("2024-02-29T23:10:00", "M", 1500.0), ("2024-02-29T23:40:00", "H", 1520.0),
    ("2024-03-01T00:10:00", "L", 1540.0),
    ("2025-12-31T23:20:00", "M", 1600.0), ("2025-12-31T23:50:00", "L", 1610.0),
    ("2026-01-01T00:20:00", "H", 1620.0), ("2026-01-01T00:50:00", "H", 1630.0),
]


@pytest.fixture
def mill(db: None, world: Any) -> Any:
    """Mill-RS of the AI4I type with the ROWS as its readings, and Mill-Idle without any."""
    with tenant_context(world.acme):
        machine_type = machine_type_adopt(key=AI4I)
        machine = machine_create(machine_type_id=machine_type.id, name="Mill-RS")
        idle = machine_create(machine_type_id=machine_type.id, name="Mill-Idle")
        items = [{"machine": "Mill-RS", "ts": f"{ts}Z",
                  "values": {"product_type": kind, "speed_rpm": speed, "air_temp_k": 300.0}}
                 for ts, kind, speed in ROWS]
        assert not readings_push(items=items).rejected
        yield machine_type, machine, idle


def _failure(machine: Machine, occurred_at: datetime) -> None:
    """A failure event, whichever app holds its model: the store reads the table by its name."""
    model = next(m for m in apps.get_models() if m._meta.db_table == "predictions_failureevent")
    model._default_manager.create(machine_id=machine.id, occurred_at=occurred_at, failure_mode="tool_wear")


@pytest.mark.django_db
def test_newest_reading_per_machine_leaves_out_machines_without_readings(mill, world) -> None:
    machine_type, machine, idle = mill
    with tenant_context(world.acme):
        assert readings_latest(machine_ids=[machine.id, idle.id]) == {machine.id: at("2026-01-01T00:50:00")}
        assert readings_latest(machine_ids=[]) == {}
        assert [ts for ts, _ in readings_tail(machine_id=machine.id, limit=2)] == [
            at("2026-01-01T00:50:00"), at("2026-01-01T00:20:00")]


@pytest.mark.django_db
def test_latest_window_reads_the_span_before_each_machines_newest_reading(mill, world) -> None:
    machine_type, machine, idle = mill
    with tenant_context(world.acme):
        window = readings_latest_window(machine_type=machine_type, machine_ids=[machine.id, idle.id],
                                        span=timedelta(hours=1, minutes=5))
        assert list(window.seconds) == [at(ts).timestamp() for ts, _, _ in ROWS[4:]]  # over the year end
        assert list(window.machine_ids) == [machine.id] * 3
        assert list(window.categorical["product_type"]) == ["L", "H", "H"]
        assert list(window.numeric["speed_rpm"]) == [1610.0, 1620.0, 1630.0]
        assert np.isnan(window.numeric["torque_nm"]).all()  # never sent: missing
        assert window.numeric["speed_rpm"].dtype == np.float64


@pytest.mark.django_db
def test_latest_window_adds_the_start_of_the_run_after_the_last_failure(mill, world) -> None:
    machine_type, machine, _ = mill
    with tenant_context(world.acme):
        _failure(machine, at("2024-03-01T00:00:00"))  # the current run starts with the 00:10 reading
        window = readings_latest_window(machine_type=machine_type, machine_ids=[machine.id],
                                        span=timedelta(minutes=45), run_start=timedelta(minutes=1))
        assert list(window.seconds) == [at(ts).timestamp() for ts in
                                        ("2024-03-01T00:10:00", "2026-01-01T00:20:00", "2026-01-01T00:50:00")]


@pytest.mark.django_db
def test_buckets_average_numbers_and_keep_the_last_category_across_a_leap_day_and_a_year_end(mill, world) -> None:
    machine_type, machine, _ = mill
    hour_us = 3_600_000_000
    with tenant_context(world.acme):
        buckets = readings_bucketed(machine_type=machine_type, machine_ids=[machine.id], step_us=hour_us)
        assert list(buckets.seconds) == [at(ts).timestamp() for ts in (
            "2024-02-29T23:00:00", "2024-03-01T00:00:00", "2025-12-31T23:00:00", "2026-01-01T00:00:00")]
        assert list(buckets.numeric["speed_rpm"]) == [1510.0, 1540.0, 1605.0, 1625.0]
        assert list(buckets.categorical["product_type"]) == ["H", "L", "L", "H"]  # each hour's last
        since = readings_bucketed(machine_type=machine_type, machine_ids=[machine.id], step_us=hour_us,
                                  start=at("2024-03-01T00:00:00"), end=at("2025-12-31T23:59:59"))
        assert list(since.numeric["speed_rpm"]) == [1540.0, 1605.0]
        recent = readings_bucketed(machine_type=machine_type, machine_ids=[machine.id], step_us=hour_us,
                                   span=timedelta(minutes=31))
        assert list(recent.numeric["speed_rpm"]) == [1625.0]
        day = readings_bucketed(machine_type=machine_type, machine_ids=[machine.id], step_us=24 * hour_us)
        assert list(day.seconds) == [at(ts).timestamp() for ts in (
            "2024-02-29T00:00:00", "2024-03-01T00:00:00", "2025-12-31T00:00:00", "2026-01-01T00:00:00")]


@pytest.mark.django_db
def test_gap_median_and_slots(mill, world) -> None:
    machine_type, machine, idle = mill
    with tenant_context(world.acme):
        gap, last = reading_gap_median(machine_ids=[machine.id, idle.id], sample=3)
        assert (gap, last) == (1800.0, at("2026-01-01T00:50:00").timestamp())  # the newest 3: 30 min apart
        assert reading_gap_median(machine_ids=[idle.id], sample=10) == (None, None)
        assert set(sensor_slots(machine_type_id=machine_type.id)) >= {"product_type", "speed_rpm", "air_temp_k"}


@pytest.mark.django_db
def test_rul_labels_count_to_the_next_failure_and_are_censored_after_the_last(mill, world) -> None:
    machine_type, machine, _ = mill
    with tenant_context(world.acme):
        _failure(machine, at("2024-03-01T01:10:00"))  # a leap day before it: 2024-02-29 23:10 is 2 h away
        _failure(machine, at("2026-01-01T00:20:00"))  # at a reading: that reading's RUL is 0
        labels = rul_labels(machine_id=machine.id)
        assert [row["rul"] for row in labels] == [2.0, 1.5, 1.0, 1.0, 0.5, 0.0, None]
        assert [row["next_failure_mode"] for row in labels][-2:] == ["tool_wear", None]
        assert [row["censored"] for row in labels] == [False] * 6 + [True]
        assert labels[0]["rul_seconds"] == 7200.0 and labels[0]["time_unit"] == "h" and labels[0]["cycle"] is None
        later = rul_labels(machine_id=machine.id, after=at("2025-12-31T23:50:00"), limit=1)
        assert [row["ts"] for row in later] == [at("2026-01-01T00:20:00")]


def test_slot_values_and_taking_rows() -> None:
    values = slot_values([[1.0, None], None, [2.0, 3.0, 4.0], [float("inf")]], 2)
    assert values.shape == (4, 2) and values[2].tolist() == [2.0, 3.0] and values[3, 0] == float("inf")
    assert np.isnan(values[0, 1]) and np.isnan(values[1]).all()
    columns = SlotColumns(np.array([1, 2], dtype=np.int64), np.array([10.0, 20.0]), {"a": np.array([1.0, 2.0])},
                          {"b": np.array(["x", None], dtype=object)})
    taken = columns.take(np.array([False, True]))
    assert (taken.machine_ids.tolist(), taken.seconds.tolist(), taken.numeric["a"].tolist(),
            taken.categorical["b"].tolist()) == ([2], [20.0], [2.0], [None])
