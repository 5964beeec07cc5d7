"""A sample sensor file for a machine type: simulated readings for the tenant's own machines, so a
new customer without a data export at hand can try the whole path (upload, scoring, dashboard)
on day one. Clearly a sample: the wizard says so, and the file is only downloaded, never stored.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pyarrow.compute as pc

from engine.metadata import machine_type_schema
from engine.synthetic.simulator import simulate_fleet
from machines.models import MachineType
from pdm_saas.errors import InvalidInput

MAX_SAMPLE_MACHINES = 10


def sample_readings_csv(*, machine_type: MachineType, machine_names: Sequence[str], seed: int = 7,
                        now: datetime | None = None) -> bytes:
    """One simulated run per machine, ending at the current hour; every other machine (the first
    included) is heading for a failure, the rest run normally."""
    names = list(machine_names)[:MAX_SAMPLE_MACHINES]
    if not names:
        raise InvalidInput("Add machines of this type first: the sample file is made for them.")
    document = machine_type.metadata
    failing = (len(names) + 1) // 2
    # The simulator puts healthy machines first: map its failing runs onto our first names.
    table = simulate_fleet(document, machines=len(names), seed=seed,
                           healthy_fraction=(len(names) - failing) / len(names))
    simulated = sorted(set(table.column("machine").to_pylist()))
    order = simulated[len(names) - failing:] + simulated[: len(names) - failing]
    rename = dict(zip(order, names, strict=True))
    sensors = [s.name for s in machine_type_schema(document).sensors]
    end = (now or datetime.now(tz=UTC)).replace(minute=0, second=0, microsecond=0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["timestamp", "machine", *sensors])
    for machine in order:
        rows = table.filter(pc.equal(table.column("machine"), machine))
        times = rows.column("ts").to_pylist()
        shift = end - times[-1]  # each run ends now
        columns = [rows.column(name).to_pylist() for name in sensors]
        for i, ts in enumerate(times):
            writer.writerow([(ts + shift).isoformat(), rename[machine], *[_cell(column[i]) for column in columns]])
    return out.getvalue().encode()


def _cell(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""  # a dropout: the upload's quality report counts it as missing
    return value


