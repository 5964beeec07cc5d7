"""The trained ABB motor (`trained_motor`) and its helpers live in tests/conftest.py, shared with
billing's tests; the helpers are re-exported here for the modules that import them from this one.
The fixture itself is deliberately not imported: a second definition would onboard a second time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engine.bundles import KINDS
from machines.live import readings_push
from machines.models import MachineType
from machines.services import machine_create
from tests.conftest import TRAINED_TYPE, Trained, failing_run_readings

TRAINED_KINDS = KINDS  # what `trained_motor` trains
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # cycle-indexed readings are stored at EPOCH + cycles

__all__ = ["EPOCH", "TRAINED_KINDS", "TRAINED_TYPE", "Trained", "failing_run_readings", "push_cycle_fleet"]


def push_cycle_fleet(machine_type: MachineType, *, seed: int, prefix: str, scale: float = 1.0) -> dict[str, int]:
    """Twelve simulated units run to failure, stored the C-MAPSS way (one reading per cycle at
    EPOCH + cycle seconds, numeric sensors times `scale`) as machines `<prefix>-NN`; returns
    the cycles each unit ran."""
    from engine.synthetic.simulator import simulate_fleet

    table = simulate_fleet(machine_type.metadata, machines=12, seed=seed, healthy_fraction=0.0)
    sensors = [s["name"] for s in machine_type.metadata["sensors"]]
    items: list[dict[str, Any]] = []
    cycles: dict[str, int] = {}
    for row in table.select(["machine", *sensors]).to_pylist():
        name = f"{prefix}-{row['machine'][-2:]}"
        cycles[name] = cycles.get(name, 0) + 1
        items.append({"machine": name, "ts": (EPOCH + timedelta(seconds=cycles[name])).isoformat(),
                      "values": {s: row[s] * scale for s in sensors if row[s] is not None and row[s] == row[s]}})
    for name in cycles:
        machine_create(machine_type_id=machine_type.id, name=name)
    for start in range(0, len(items), 10_000):
        assert not readings_push(items=items[start:start + 10_000]).rejected
    return cycles
