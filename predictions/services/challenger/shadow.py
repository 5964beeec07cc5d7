"""Shadow scoring and the traffic split (point 2 of the package docstring): the challenger scores
the champions' frames silently, or serves its share of the type's machines."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.db import transaction
from django.utils import timezone

from engine.bundles import FAILURE, RUL
from engine.scoring import ModelSet, score_frame
from machines.models import Machine, MachineType
from predictions.models import ModelVersion, ShadowPrediction
from predictions.services.challenger.retraining import challenger_pending, version_bundle
from predictions.services.registry import champion_versions
from tenants.db import connection

logger = logging.getLogger(__name__)

S = ModelVersion.Status


# --- shadow scoring -----------------------------------------------------------------------------

_SHADOW_CACHE_SIZE = 16
_shadow_cache: OrderedDict[tuple[Any, ...], ModelSet] = OrderedDict()
_shadow_lock = threading.Lock()


def shadow_models(*, machine_type: MachineType, machine_id: int | None = None) -> ModelSet | None:
    """The type's champions with the challenger pair in place; None without a challenger, or for
    a machine with a classifier of its own (the challenger challenges the type's)."""
    challenger = challenger_pending(machine_type_id=machine_type.id)
    if challenger is None:
        return None
    if machine_id is not None and ModelVersion.objects.filter(machine_id=machine_id, kind=FAILURE,
                                                              status=S.CHAMPION).exists():
        return None
    versions = dict(champion_versions(machine_type_id=machine_type.id))
    rul_id = (challenger.params.get("challenger") or {}).get("rul_id")
    versions[FAILURE] = challenger
    rul = (ModelVersion.objects.filter(id=rul_id, status=S.CANDIDATE).defer("global_explanation").first()
           if rul_id else None)
    if rul is not None:
        versions[RUL] = rul
    key = (connection.schema_name, tuple(sorted((k, v.id, v.artifact_sha256) for k, v in versions.items())))
    with _shadow_lock:
        if key in _shadow_cache:
            _shadow_cache.move_to_end(key)
            return _shadow_cache[key]
    models = ModelSet(machine_type.metadata, {k: version_bundle(v) for k, v in versions.items()},
                      {k: v.id for k, v in versions.items()}, {k: v.data_source for k, v in versions.items()})
    with _shadow_lock:
        _shadow_cache[key] = models
        while len(_shadow_cache) > _SHADOW_CACHE_SIZE:
            _shadow_cache.popitem(last=False)
    return models


def shadow_score(*, machine_type: MachineType, frame: pa.Table, machine_id: int | None = None) -> int:
    """Score the frame the champions just scored with the challenger; store ShadowPredictions.
    Any failure is logged and swallowed: the champion's scoring must not notice."""
    try:
        with transaction.atomic():  # a savepoint: a failed query leaves the caller's transaction usable
            models = shadow_models(machine_type=machine_type, machine_id=machine_id)
            if models is None or not frame.num_rows:
                return 0
            scored = score_frame(models, frame, explain=False, forecast_horizon_h=None)
            names = dict(Machine.objects.filter(name__in={s["machine"] for s in scored}).values_list("name", "id"))
            now = timezone.now()
            rows = [ShadowPrediction(
                machine_id=names[s["machine"]], version_id=models.versions[FAILURE],
                window_end=s["window_end"] if isinstance(s["window_end"], datetime) else now,
                horizon_h=s["horizon_h"], probability=s["probability"], predicted_failure=bool(s["prediction"]),
                rul_h=s.get("rul_h"),
            ) for s in scored if s["machine"] in names]
            return len(ShadowPrediction.objects.bulk_create(rows))
    except Exception:  # noqa: BLE001 - shadow scoring must never break the champion's
        logger.exception("Shadow scoring of %s failed in %s", machine_type.key, connection.schema_name)
        return 0


# --- traffic split ------------------------------------------------------------------------------


def challenger_traffic(challenger: ModelVersion) -> float:
    """The share of the type's machines the challenger serves (0: shadow only), fixed at its creation."""
    return float((challenger.params.get("challenger") or {}).get("traffic") or 0.0)


def served_by_challenger(*, challenger_id: int, machine_id: int, traffic: float) -> bool:
    """Whether a machine is in the challenger's share: a hash of both ids, so the same machines
    every run, and another draw for the next challenger."""
    if traffic <= 0:
        return False
    digest = hashlib.sha256(f"{challenger_id}:{machine_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < traffic


@dataclass(frozen=True)
class Route:
    """The challenger's models and the machines (ids and names) they serve in traffic mode."""

    challenger_id: int
    models: ModelSet
    machine_ids: frozenset[int]
    names: frozenset[str]

    def split(self, frame: pa.Table) -> tuple[pa.Table, pa.Table]:
        """The frame's rows of the challenger's machines, and the rest (the champion's)."""
        mine = pc.is_in(frame.column("machine"), value_set=pa.array(sorted(self.names), pa.string()))
        return frame.filter(mine), frame.filter(pc.invert(mine))


def challenger_route(*, machine_type: MachineType, machine_ids: Sequence[int]) -> Route | None:
    """In traffic mode, the machines among these whose served predictions come from the
    challenger; None in shadow mode, without a challenger or when none of them is in its share.
    Machines with a classifier of their own stay with it. A challenger that fails to load is
    logged and its share falls back to the champion."""
    try:
        with transaction.atomic():  # a savepoint, as in shadow_score
            challenger = challenger_pending(machine_type_id=machine_type.id)
            traffic = challenger_traffic(challenger) if challenger is not None else 0.0
            if challenger is None or traffic <= 0:
                return None
            own = set(ModelVersion.objects.filter(machine_id__in=machine_ids, kind=FAILURE, status=S.CHAMPION)
                      .values_list("machine_id", flat=True))
            chosen = frozenset(m for m in machine_ids if m not in own and served_by_challenger(
                challenger_id=challenger.id, machine_id=m, traffic=traffic))
            models = shadow_models(machine_type=machine_type) if chosen else None
            if models is None:
                return None
            names = frozenset(Machine.objects.filter(id__in=chosen).values_list("name", flat=True))
            return Route(challenger.id, models, chosen, names)
    except Exception:  # noqa: BLE001 - a broken challenger must not stop the champion serving
        logger.exception("Challenger routing of %s failed in %s; the champion serves", machine_type.key,
                         connection.schema_name)
        return None
