"""Stored readings as model frames (engine.frames): the reading store's columns
(`machines.reading_store`, the one owner of the reading table) bucketed into model steps.

- `bucketed_frame`: bucketed into model steps inside Postgres (numeric slots averaged, categorical
  ones their last value), so only one row per machine and step crosses the wire. Drift checks and
  real-data training read this way.
- `columns_frame`: any `SlotColumns` (scoring's latest window) as a frame.

`data_step_hours` turns how often the machines report into the model step
(`engine.frames.step_hours_for`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa

from engine.frames import frame_from_columns, step_hours_for, time_scale_for
from machines.models import MachineType
from machines.reading_store import SlotColumns, reading_gap_median, readings_bucketed


def columns_frame(columns: SlotColumns, names: Mapping[int, str], document: Mapping[str, Any], *,
                  step_hours: float, time_scale: float) -> pa.Table:
    """The reading store's columns as a model frame, machines named through `names` (id -> name)."""
    machines = np.array([names[int(machine_id)] for machine_id in columns.machine_ids], dtype=object)
    return frame_from_columns(machines, columns.seconds, columns.numeric, columns.categorical, document,
                              step_hours=step_hours, time_scale=time_scale)


def bucketed_frame(*, machine_type: MachineType, machines: Mapping[int, str], step_hours: float = 1.0,
                   time_scale: float = 1.0, start: datetime | None = None, end: datetime | None = None,
                   span: timedelta | None = None) -> pa.Table:
    """The machines' readings bucketed into model steps: all of them; or from `start` to `end`;
    or, with `span`, each machine's readings within `span` before its own latest one."""
    # In whole stored microseconds, exact in numeric arithmetic as frame_from_columns cuts them.
    step_us = max(1, round(step_hours * 3.6e9 / time_scale))
    columns = readings_bucketed(machine_type=machine_type, machine_ids=list(machines), step_us=step_us,
                                start=start, end=end, span=span)
    return columns_frame(columns, machines, machine_type.metadata, step_hours=step_hours, time_scale=time_scale)


INTERVAL_SAMPLE = 10_000  # latest readings per machine the step is measured on


def data_step_hours(machine_ids: Sequence[int]) -> float:
    """The model step the machines' readings call for (`engine.frames.step_hours_for`): the
    median gap between consecutive readings of the same machine, over each machine's latest
    INTERVAL_SAMPLE readings (an index scan, however long the history), in model time (cycles
    count as hours, `time_scale_for`)."""
    gap, last = reading_gap_median(machine_ids=machine_ids, sample=INTERVAL_SAMPLE)
    scale = time_scale_for(np.array([np.nan if last is None else last]))
    return step_hours_for(None if gap is None else gap * scale)
