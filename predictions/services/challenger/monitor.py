"""The scheduled run after the drift checks (rollback checks, decisions, retrains on new labels)
and the challenger status the model page and API show."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db.models import Max

from engine.bundles import FAILURE
from machines.models import FailureEvent, MachineType
from pdm_saas.errors import ServiceError
from predictions.models import ModelVersion, Prediction
from predictions.services.challenger.deciding import challenger_compare, challenger_decide, summary
from predictions.services.challenger.retraining import challenger_pending, challenger_request
from predictions.services.challenger.rollback import champion_health_check
from predictions.services.challenger.shadow import challenger_traffic

logger = logging.getLogger(__name__)

S = ModelVersion.Status


def new_labels_since(*, machine_type_id: int) -> int:
    """Failure events recorded since the type's newest classifier was trained."""
    newest = ModelVersion.objects.filter(machine_type_id=machine_type_id, machine__isnull=True,
                                         kind=FAILURE).aggregate(at=Max("created_at"))["at"]
    if newest is None:
        return 0
    return FailureEvent.objects.filter(machine__machine_type_id=machine_type_id, created_at__gt=newest).count()


def challengers_monitor(*, now: datetime | None = None) -> dict[str, list[int]]:
    """After the drift checks: rollback checks, decisions on challengers, retrains on new labels.
    Each step is idempotent; one type's failure does not stop the others."""
    done: dict[str, list[int]] = {"rolled_back": [], "decided": [], "retrains": []}
    for champion in ModelVersion.objects.filter(kind=FAILURE, status=S.CHAMPION):
        try:
            restored = champion_health_check(version=champion)
            if restored is not None:
                done["rolled_back"].append(champion.id)
        except ServiceError as exc:
            logger.warning("Rollback check of %s failed: %s", champion.id, exc.message)
    for challenger in ModelVersion.objects.filter(kind=FAILURE, status=S.CANDIDATE, shadow_since__isnull=False):
        try:
            challenger_decide(challenger_id=challenger.id, now=now)
            done["decided"].append(challenger.id)
        except ServiceError as exc:
            logger.warning("Decision on challenger %s failed: %s", challenger.id, exc.message)
    for machine_type in MachineType.objects.filter(model_versions__kind=FAILURE, model_versions__status=S.CHAMPION,
                                                   model_versions__machine__isnull=True).distinct():
        labels = new_labels_since(machine_type_id=machine_type.id)
        if not labels:
            continue
        try:
            job = challenger_request(machine_type=machine_type, reason="new labels", details={"labels": labels})
        except ServiceError as exc:
            logger.warning("Retrain of %s on new labels refused: %s", machine_type.key, exc.message)
            continue
        if job is not None:
            done["retrains"].append(job.id)
    return done


def challenger_status(*, version: ModelVersion) -> dict[str, Any]:
    """For the model page and API: the challenger of this version's type (or this one), its
    shadow window, outcomes so far beside the champion's, and its decisions."""
    challenger = version if (version.kind == FAILURE and version.shadow_since) else challenger_pending(
        machine_type_id=version.machine_type_id)
    if challenger is None:
        return {"challenger": None}
    compared = challenger_compare(challenger=challenger) if challenger.status == S.CANDIDATE else None
    decisions = list(challenger.events.filter(action__in=("challenger_created", "challenger_decision"))
                     .order_by("-at").values("at", "action", "note", "details"))
    return {
        "challenger": {"id": challenger.id, "number": challenger.number, "status": challenger.status,
                       "shadow_since": challenger.shadow_since, "params": challenger.params.get("challenger", {}),
                       "shadow_predictions": challenger.shadow_predictions.count(),
                       "traffic": challenger_traffic(challenger),
                       "served_predictions": Prediction.objects.filter(model_version=challenger).count()},
        "comparison": None if compared is None else {
            "champion_id": compared["champion_id"], "machines": compared["machines"], "mode": compared["mode"],
            "champion": summary(compared["champion"]), "challenger": summary(compared["challenger"])},
        "decisions": decisions,
    }
