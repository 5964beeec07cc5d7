"""Deciding (point 3 of the package docstring): champion and challenger outcomes over the shadow
window, and the rule that promotes, rejects or keeps shadowing."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from engine.bundles import FAILURE
from engine.frames import CYCLE_DATA_BEFORE
from pdm_saas.errors import InvalidInput
from predictions.models import ModelEvent, ModelVersion, OutcomeSnapshot, Prediction, ShadowPrediction
from predictions.services.challenger.shadow import challenger_traffic
from predictions.services.outcomes import _OUTCOMES_SQL, Outcomes
from predictions.services.registry import model_version_archive, model_version_promote
from tenants.db import connection

S = ModelVersion.Status


# The outcome join of services/outcomes.py, over either table, limited to the shadowed machines.
_PREDICTION_FILTER = "p.model_version_id = %(version)s"
_COMPARE_SQL = (_OUTCOMES_SQL.replace("FROM predictions_prediction p", "FROM {table} p")
                .replace(_PREDICTION_FILTER, "p.{column} = %(version)s AND p.machine_id = ANY(%(machines)s){extra}"))
assert _COMPARE_SQL.count("{table}") == 1 and _COMPARE_SQL.count("{column}") == 1, "outcomes SQL changed"
_TABLES = {"champion": ("predictions_prediction", "model_version_id", " AND p.source <> 'batch'"),
           "challenger": ("predictions_shadowprediction", "version_id", "")}


def _outcomes(which: str, *, version_id: int, machines: list[int], start: datetime, now: datetime) -> Outcomes:
    table, column, extra = _TABLES[which]
    with connection.cursor() as cursor:
        cursor.execute(_COMPARE_SQL.format(table=table, column=column, extra=extra),
                       {"version": version_id, "machines": machines, "start": start, "now": now,
                        "cycle_before": CYCLE_DATA_BEFORE})
        tp, fp, tn, fn, pending, mae, rul_count = cursor.fetchone()
    return Outcomes(tp=tp, fp=fp, tn=tn, fn=fn, pending=pending,
                    rul_mae_h=None if mae is None else round(float(mae), 3), rul_count=rul_count)


def f1_of(tp: int, fp: int, fn: int) -> float | None:
    """None when there is nothing to measure: no failure predicted and none happened."""
    return round(2 * tp / (2 * tp + fp + fn), 5) if 2 * tp + fp + fn else None


def resolved(o: Outcomes | OutcomeSnapshot) -> int:
    return o.tp + o.fp + o.tn + o.fn


def summary(o: Outcomes) -> dict[str, Any]:
    return {**asdict(o), "resolved": resolved(o), "f1": f1_of(o.tp, o.fp, o.fn), "precision": o.precision,
            "recall": o.recall, "fpr": o.fpr}


@dataclass(frozen=True)
class Verdict:
    decision: str  # promote / reject / wait
    reason: str


def _by(a: float | None, b: float | None, margin: float) -> int:
    """+1 when a exceeds b by the relative margin, -1 when b exceeds a by it, else 0."""
    if a is None or b is None:
        return 0
    if a > b and a >= b * (1 + margin):
        return 1
    if b > a and a <= b * (1 - margin):
        return -1
    return 0


def challenger_rule(champion: Outcomes, challenger: Outcomes, *, margin: float, min_outcomes: int) -> Verdict:
    """The promotion rule (the package docstring, point 3)."""
    counts = resolved(champion), resolved(challenger)
    if min(counts) < min_outcomes:
        return Verdict("wait", f"{min(counts)} of {min_outcomes} resolved outcomes")
    f1_c, f1_p = f1_of(challenger.tp, challenger.fp, challenger.fn), f1_of(champion.tp, champion.fp, champion.fn)
    f1_side = _by(f1_c, f1_p, margin)
    if f1_side:
        return Verdict("promote" if f1_side > 0 else "reject",
                       f"F1 {f1_c:.3f} against the champion's {f1_p:.3f} (margin {margin:.0%})")
    recall_c, recall_p = challenger.recall, champion.recall
    fpr_side = -_by(challenger.fpr, champion.fpr, margin)  # lower is better
    same_recall = recall_c is None or recall_p is None or recall_c == recall_p
    if fpr_side > 0 and (same_recall or recall_c >= recall_p):  # type: ignore[operator]
        return Verdict("promote", f"false-positive rate {challenger.fpr:.3f} against {champion.fpr:.3f} "
                                  f"at recall {recall_c} against {recall_p}")
    if fpr_side < 0 and (same_recall or recall_c <= recall_p):  # type: ignore[operator]
        return Verdict("reject", f"false-positive rate {challenger.fpr:.3f} against {champion.fpr:.3f} "
                                 f"at recall {recall_c} against {recall_p}")
    return Verdict("wait", "no difference beyond the margin yet")


def challenger_compare(*, challenger: ModelVersion, now: datetime | None = None) -> dict[str, Any]:
    """Champion and challenger outcomes over the shadow window, on the machines it scored."""
    end = now or timezone.now()
    start = challenger.shadow_since or challenger.created_at
    champion = ModelVersion.objects.filter(machine_type_id=challenger.machine_type_id, machine__isnull=True,
                                           kind=FAILURE, status=S.CHAMPION).first()
    served = (list(Prediction.objects.filter(model_version=challenger, created_at__gte=start)
                   .exclude(source=Prediction.Source.BATCH).values_list("machine_id", flat=True).distinct())
              if challenger_traffic(challenger) > 0 else [])
    if served:  # traffic mode: each version's served predictions, on the machines it served
        theirs = _outcomes("champion", version_id=challenger.id, machines=served, start=start, now=end)
        machines = list(Prediction.objects.filter(model_version_id=champion.id if champion else None,
                                                  created_at__gte=start).exclude(machine_id__in=served)
                        .values_list("machine_id", flat=True).distinct())
    else:  # shadow mode (or no machine in the challenger's share yet): both on the shadowed machines
        machines = list(ShadowPrediction.objects.filter(version=challenger, created_at__gte=start)
                        .values_list("machine_id", flat=True).distinct())
        theirs = _outcomes("challenger", version_id=challenger.id, machines=machines, start=start, now=end)
    ours = (_outcomes("champion", version_id=champion.id, machines=machines, start=start, now=end)
            if champion else Outcomes(0, 0, 0, 0, 0, None, 0))
    return {"champion_id": champion.id if champion else None, "champion": ours, "challenger": theirs,
            "mode": "traffic" if served else "shadow", "traffic": challenger_traffic(challenger),
            "machines": len(machines) + len(served), "champion_machines": len(machines),
            "challenger_machines": len(served) or len(machines), "since": start, "until": end}


def challenger_decide(*, challenger_id: int, actor_id: int | None = None, now: datetime | None = None,
                      ) -> dict[str, Any]:
    """Apply the rule once; the decision (waiting included) is an event with the numbers."""
    margin = float(settings.CHALLENGER_MARGIN)
    min_outcomes = int(settings.CHALLENGER_MIN_OUTCOMES)
    end = now or timezone.now()
    with transaction.atomic():
        challenger = ModelVersion.objects.select_for_update().filter(id=challenger_id).first()
        if challenger is None or challenger.kind != FAILURE or challenger.shadow_since is None:
            raise InvalidInput("This version is not a challenger; retrain the type to make one.")
        if challenger.status != S.CANDIDATE:
            return {"decision": "none", "reason": f"already {challenger.status}", "challenger_id": challenger.id}
        compared = challenger_compare(challenger=challenger, now=end)
        verdict = challenger_rule(compared["champion"], compared["challenger"], margin=margin,
                                  min_outcomes=min_outcomes)
        if compared["champion_id"] is None:
            verdict = Verdict("promote", "the type has no champion classifier any more")
        elif verdict.decision == "wait" and end - challenger.shadow_since > timedelta(
                days=int(settings.CHALLENGER_MAX_SHADOW_DAYS)):
            verdict = Verdict("reject", f"no clear win after {settings.CHALLENGER_MAX_SHADOW_DAYS} days in shadow "
                                        f"({verdict.reason})")
        details = {"decision": verdict.decision, "reason": verdict.reason, "margin": margin,
                   "min_outcomes": min_outcomes, "champion_id": compared["champion_id"],
                   "mode": compared["mode"], "traffic": compared["traffic"], "machines": compared["machines"],
                   "champion": summary(compared["champion"]),
                   "challenger": summary(compared["challenger"])}
        ModelEvent.objects.create(version=challenger, action="challenger_decision", actor_id=actor_id,
                                  note=f"{verdict.decision}: {verdict.reason}", details=details)
        rul = companion(challenger)
        if verdict.decision == "promote":
            model_version_promote(version_id=challenger.id, actor_id=actor_id,
                                  note=f"challenger promoted: {verdict.reason}")
            if rul is not None:
                model_version_promote(version_id=rul.id, actor_id=actor_id, note="promoted with its classifier")
        elif verdict.decision == "reject":
            for version in (challenger, rul):
                if version is not None:
                    model_version_archive(version_id=version.id, actor_id=actor_id,
                                          note=f"challenger rejected: {verdict.reason}")
    return {**details, "challenger_id": challenger.id}


def companion(classifier: ModelVersion) -> ModelVersion | None:
    rul_id = (classifier.params.get("challenger") or {}).get("rul_id")
    return ModelVersion.objects.filter(id=rul_id).first() if rul_id else None
