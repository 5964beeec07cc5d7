"""A small independent-observation machine type and a generator of its files (tests of the
observation path: upload, training, scoring). One row per test cycle: a scalar temperature, a
flow curve of 20 values in one cell, a categorical mode, and two labels: a valve condition (three
classes, which moves the step of the flow curve) and a 0/1 failure flag (hot cycles)."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np

RIG_KEY = "test-rig"
VALVES = ("100", "90", "80")
HEADER = ["cycle", "Temperature", "Flow", "mode", "valve", "Machine failure"]
MAPPING = {"time_column": "cycle", "time_format": "cycle", "machine_name": "Rig-1", "create_unknown_machines": True,
           "sensors": {"Temperature": "temp_c", "Flow": "flow", "mode": "mode"},
           "labels": {"valve": "valve", "Machine failure": "failed"}}


def rig_document() -> dict[str, Any]:
    ranges = {"normal": [0, 100], "warning": [0, 120], "critical": [-50, 500]}
    return {
        "schema_version": 1, "key": RIG_KEY, "name": "Test rig", "category": "other", "data_kind": "observations",
        "sensors": [
            {"name": "temp_c", "label": "Temperature", "unit": "°C", "kind": "numeric", "sampling_interval_s": 60,
             "ranges": ranges},
            {"name": "flow", "label": "Flow", "unit": "l/min", "kind": "numeric", "sampling_interval_s": 60,
             "values": "array", "ranges": ranges},
            {"name": "mode", "label": "Mode", "unit": "", "kind": "categorical", "sampling_interval_s": 60,
             "categories": ["A", "B"]},
        ],
        "derived_signals": [{"name": "heat", "label": "Heat", "unit": "", "formula": "temp_c * flow"}],
        "observation_labels": [
            {"name": "valve", "label": "Valve condition", "classes": list(VALVES)},
            {"name": "failed", "label": "Machine failure", "classes": ["0", "1"], "aliases": ["Machine failure"]},
        ],
        "failure_modes": [{"name": "overheat", "label": "Overheating", "affected_signals": [],
                           "symptoms": ["Hot cycles"], "recommended_action": "Check the cooler.", "repair_cost": 100,
                           "downtime_hours": 1, "mean_time_to_failure_hours": 1000}],
        "operating_regimes": [{"name": "normal", "label": "Normal", "share": 1, "signal_levels": {}}],
        "costs": {"currency": "EUR", "downtime_per_hour": 100, "planned_maintenance": 50,
                  "unplanned_failure_multiplier": 3},
    }


def rig_rows(count: int, *, seed: int = 0, start: int = 1) -> list[list[Any]]:
    """Rows of HEADER; the valve is set in blocks of consecutive cycles, as test rigs do."""
    rng = np.random.default_rng(seed)
    rows = []
    for index in range(count):
        valve = VALVES[(index * len(VALVES)) // count]
        step = {"100": 5, "90": 10, "80": 15}[valve]
        flow = np.where(np.arange(20) < step, 2.0, 8.0) + rng.normal(0, 0.3, 20)
        temp = float(rng.normal(60, 10))
        rows.append([start + index, round(temp, 3), " ".join(f"{v:.3f}" for v in flow), rng.choice(["A", "B"]),
                     valve, int(temp > 70)])
    return rows


def rig_csv(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()
