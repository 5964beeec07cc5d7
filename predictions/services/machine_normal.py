"""Cold-start models read each machine relative to its own normal (docs/models.md, "Each
machine's own normal").

A model trained on simulated data (the type's metadata, before any of the tenant's own history)
learned the simulator's healthy levels and noise. Before such a model scores a frame, each machine
with a ready baseline has its signals moved so that its own baseline level sits on those levels,
and a signal noisier than the simulated machines' is scaled down to their noise
(`engine.baselines.relative_frame`); machines still learning are scored as they are and
carry their progress, so the verdict can say "learning its normal" instead. Models trained on
the tenant's real data learned the tenant's machines as they are and are left alone.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from engine.baselines import references, relative_frame
from engine.scoring import ModelSet
from machines.baselines import machine_baselines_refresh
from machines.models import Machine, MachineType
from predictions.models import Dataset, ModelVersion


def is_cold_start(models: ModelSet) -> bool:
    """True when the failure classifier serving was trained on simulated data."""
    return models.sources.get(ModelVersion.Kind.FAILURE_CLASSIFIER) == Dataset.Source.SIMULATED


def frame_relative_to_baselines(*, machine_type: MachineType, frame: pa.Table, models: ModelSet,
                                known: dict[int, str] | None = None) -> tuple[pa.Table, dict[str, float]]:
    """The frame a cold-start model should score, and the baseline progress (0-0.99) of each
    machine in it that is still learning its normal. Unchanged for models trained on real data;
    their machines' baselines are still learned, so the pages say where each machine stands and
    cold-start models coming back need no new learning. `known` (id -> name): the machines the
    caller holds, which spare their read when they are exactly the frame's."""
    if not frame.num_rows:
        return frame, {}
    names = sorted(set(np.asarray(frame.column("machine").to_numpy(zero_copy_only=False)).astype(str)))
    if known is not None and sorted(known.values()) == names:
        machines = dict(known)
    else:
        machines = dict(Machine.objects.filter(name__in=names).values_list("id", "name"))
    ready, learning = machine_baselines_refresh(machine_type=machine_type, machines=machines,
                                                step_hours=models.step_hours, time_scale=models.time_scale)
    if not is_cold_start(models):
        return frame, {}
    document = models.document
    moved = relative_frame(frame, ready, references(document), reference_spread=models.baseline_spreads)
    return moved, {name: percent / 100 for name, percent in learning.items()}
