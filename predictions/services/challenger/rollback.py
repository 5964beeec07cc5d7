"""Rollback (point 4 of the package docstring): a champion classifier whose live F1 fell too far
is rolled back to the previous champion."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction

from engine.bundles import FAILURE, RUL
from pdm_saas.errors import Conflict
from predictions.models import ModelEvent, ModelVersion, OutcomeSnapshot
from predictions.services.challenger.deciding import companion, f1_of, resolved
from predictions.services.registry import model_version_rollback

logger = logging.getLogger(__name__)

S = ModelVersion.Status


def _previous_champion(version: ModelVersion) -> ModelVersion | None:
    """The champion `model_version_rollback` would bring back (the same query)."""
    versions = ModelVersion.objects.filter(machine_type_id=version.machine_type_id, kind=version.kind,
                                           machine__isnull=version.machine_id is None, status=S.ARCHIVED,
                                           promoted_at__isnull=False).exclude(id=version.id)
    if version.machine_id is not None:
        versions = versions.filter(machine_id=version.machine_id)
    return versions.order_by("-promoted_at").first()


def _live_f1(snapshot: OutcomeSnapshot | None, min_outcomes: int) -> float | None:
    """A snapshot's live F1 when it has enough resolved outcomes to mean anything."""
    if snapshot is None or resolved(snapshot) < min_outcomes:
        return None
    return f1_of(snapshot.tp, snapshot.fp, snapshot.fn)


def champion_health_check(*, version: ModelVersion, snapshot: OutcomeSnapshot | None = None,
                          actor_id: int | None = None) -> ModelVersion | None:
    """Roll back a champion classifier whose live F1 fell too far below its held-out F1, or below
    the previous champion's live F1 (its latest snapshot with enough outcomes); the champion
    brought back, or None. Once per snapshot."""
    snapshot = snapshot or version.outcome_snapshots.first()
    drop = float(settings.ROLLBACK_DROP)
    min_outcomes = int(settings.CHALLENGER_MIN_OUTCOMES)
    held = version.metrics.get("f1")
    if snapshot is None or version.status != S.CHAMPION or version.kind != FAILURE:
        return None
    live = _live_f1(snapshot, min_outcomes)
    if live is None:
        return None
    before = _previous_champion(version)
    before_snapshot = before.outcome_snapshots.first() if before is not None else None
    before_live = _live_f1(before_snapshot, min_outcomes)
    reasons: dict[str, str] = {}  # basis -> why
    if held is not None and float(held) - live > drop:
        reasons["held_out"] = (f"live F1 {live:.3f} is below held-out F1 {float(held):.3f} by more than {drop:g}")
    if before is not None and before_live is not None and before_live - live > drop:
        reasons["previous_live"] = (f"live F1 {live:.3f} is below the live F1 {before_live:.3f} of "
                                    f"v{before.number}, the previous champion, by more than {drop:g}")
    if not reasons:
        return None
    if ModelEvent.objects.filter(version=version, action__in=("automatic_rollback", "degradation_detected"),
                                 details__snapshot=snapshot.id).exists():
        return None
    details = {"snapshot": snapshot.id, "live_f1": live, "held_out_f1": held, "drop": drop,
               "previous_id": before.id if before else None, "previous_live_f1": before_live,
               "previous_snapshot": before_snapshot.id if before_live is not None and before_snapshot else None,
               "basis": list(reasons),
               "tp": snapshot.tp, "fp": snapshot.fp, "tn": snapshot.tn, "fn": snapshot.fn,
               "precision": snapshot.precision, "recall": snapshot.recall, "fpr": snapshot.fpr}
    note = "; ".join(reasons.values())
    with transaction.atomic():
        try:
            previous = model_version_rollback(machine_type_id=version.machine_type_id, kind=FAILURE,
                                              machine_id=version.machine_id, actor_id=actor_id,
                                              note=f"automatic rollback: {note}")
        except Conflict as exc:
            ModelEvent.objects.create(version=version, action="degradation_detected", details=details,
                                      note=f"{note}; {exc.message}")
            return None
        ModelEvent.objects.create(version=version, action="automatic_rollback", actor_id=actor_id,
                                  note=f"{note}; v{previous.number} is champion again",
                                  details={**details, "restored": previous.id})
        rul = companion(version)
        if rul is not None and rul.status == S.CHAMPION:
            try:
                model_version_rollback(machine_type_id=version.machine_type_id, kind=RUL,
                                       machine_id=version.machine_id, actor_id=actor_id,
                                       note="automatic rollback with its classifier")
            except Conflict:
                logger.warning("RUL regressor %s stays champion: nothing to roll back to", rul.id)
    return previous
