"""Champion / challenger: retraining makes a challenger, the challenger scores in shadow, the rule
promotes or rejects it on recent outcomes, and a champion whose live metrics fall is rolled back.

1. **Retrain** (`challenger_request` -> job `models.challenger` on the `train` queue ->
   `challenger_train_run`): a new failure classifier and RUL regressor for a machine type, on the
   type's real readings and failure events fine-tuned from the champions when there are enough
   (`real_training.real_table`: at least 3 failures inside the readings), else on a fresh
   simulated fleet with another seed, the same size and horizon as the champion's. The simulated
   path does not learn from the drifted readings (the simulator knows nothing of them): it is a
   second draw that the outcomes then judge; only the real path learns the plant's new normal.
   Both register as `candidate` with `params.challenger` = {reason, champion_id, job, rul_id} and
   `shadow_since`, and a `challenger_created` event. Triggers: a drifted report
   (`drift.drift_response`), failure events recorded since the type's newest classifier was
   trained (`challengers_monitor`), or by hand. At most one challenger per type is pending (in
   shadow, or its job queued or running): a second request is a no-op (or a 409 by hand).
2. **Shadow** (`shadow_score`, called by fleet scoring and `machine_predict`): the type's
   champions with the classifier and RUL regressor swapped for the challenger's score the same
   frame; one `ShadowPrediction` per machine. Never returned, never alerting, never counted for
   billing or metrics; a failure is logged and the champion's scoring carries on. Batches and
   file scoring are not shadowed (their rows are not the live traffic outcomes resolve).
   **Traffic split** (optional, `CHALLENGER_TRAFFIC` > 0 when the challenger is created, kept in
   `params.challenger.traffic`): `challenger_route` gives that share of the type's machines, by a
   hash of machine and challenger ids, to the challenger, whose predictions there are the served
   ones (normal Predictions, alerting and billed); the rest are served by the champion and
   shadowed. The rule then compares each version's served outcomes.
3. **Decide** (`challenger_decide`): champion and challenger predictions since `shadow_since`, on
   the machines the challenger scored, resolved by the outcome join (`services/outcomes.py`).
   With at least `CHALLENGER_MIN_OUTCOMES` resolved each: promote when the challenger's F1 is
   at least (1 + margin) x the champion's, or, its recall no lower, its false-positive rate at
   most (1 - margin) x the champion's; reject (archive) when it is that much worse on either
   measure; else keep shadowing, and reject after `CHALLENGER_MAX_SHADOW_DAYS`. Every decision,
   waiting included, is a `challenger_decision` event with the numbers.
4. **Rollback** (`champion_health_check`): a champion classifier whose latest outcome snapshot
   has at least `CHALLENGER_MIN_OUTCOMES` resolved predictions and a live F1 below its held-out
   F1, or below the previous champion's live F1 (its latest snapshot with as many outcomes), by
   more than `ROLLBACK_DROP` is rolled back to the previous champion (and the RUL
   regressor promoted with it, too), with an `automatic_rollback` event; once per snapshot.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from engine.bundles import FAILURE, RUL, Bundle, bundle_load
from engine.frames import CYCLE_DATA_BEFORE
from engine.scoring import ModelSet, score_frame
from engine.synthetic.simulator import simulation_scale
from jobs.models import Job
from jobs.services import ProgressFn, job_create, job_enqueue
from machines.baselines import baseline_model_steps
from machines.models import FailureEvent, Machine, MachineType
from pdm_saas.errors import Conflict, InvalidInput, ServiceError
from predictions.models import (
    Dataset,
    ModelEvent,
    ModelVersion,
    OutcomeSnapshot,
    Prediction,
    ShadowPrediction,
    metrics_headline,
)
from predictions.services.outcomes import _OUTCOMES_SQL, Outcomes
from predictions.services.registry import (
    artifact_read,
    champion_versions,
    dataset_store,
    model_version_archive,
    model_version_promote,
    model_version_register,
    model_version_rollback,
)
from tenants.db import connection

logger = logging.getLogger(__name__)

CHALLENGER_KIND = "models.challenger"
KINDS = (FAILURE, RUL)
DEFAULT_MACHINES = 100
S = ModelVersion.Status


# --- retraining ---------------------------------------------------------------------------------


def challenger_pending(*, machine_type_id: int) -> ModelVersion | None:
    """The type's classifier challenger in shadow, if any."""
    return ModelVersion.objects.filter(machine_type_id=machine_type_id, machine__isnull=True, kind=FAILURE,
                                       status=S.CANDIDATE, shadow_since__isnull=False).first()


def _job_pending(machine_type_id: int) -> Job | None:
    return Job.objects.filter(kind=CHALLENGER_KIND, params__machine_type_id=machine_type_id,
                              status__in=(Job.Status.QUEUED, Job.Status.RUNNING)).first()


def challenger_request(*, machine_type: MachineType, reason: str, created_by_id: int | None = None,
                       details: dict[str, Any] | None = None) -> Job | None:
    """Queue a retrain whose result is a challenger; None when one is already pending for the type."""
    from predictions.tasks import challenger_train_task  # tasks import services, not the reverse

    with transaction.atomic():
        MachineType.objects.select_for_update().filter(id=machine_type.id).first()  # one request at a time
        if challenger_pending(machine_type_id=machine_type.id) or _job_pending(machine_type.id):
            return None
        if FAILURE not in champion_versions(machine_type_id=machine_type.id):
            raise Conflict(f"{machine_type.name} has no champion to challenge; onboard the type first.")
        job = job_create(kind=CHALLENGER_KIND, queue="train", created_by_id=created_by_id,
                         params={"machine_type_id": machine_type.id, "reason": reason, "details": details or {}})
        job_enqueue(job=job, task=challenger_train_task)
    return job


def challenger_start(*, machine_type: MachineType, created_by_id: int | None = None) -> Job:
    """By hand (API, model page): like `challenger_request`, but says why nothing was queued."""
    job = challenger_request(machine_type=machine_type, reason="manual", created_by_id=created_by_id)
    if job is None:
        pending = challenger_pending(machine_type_id=machine_type.id)
        raise Conflict(f"v{pending.number} of {machine_type.name} is already shadowing; decide it first."
                       if pending else f"A challenger of {machine_type.name} is already being trained.")
    return job


def challenger_train_run(job: Job, progress: ProgressFn) -> dict[str, Any]:
    """The job: train, register the challenger pair, start the shadow."""
    # Imported here: scoring imports this module, and the training stack stays out of web start-up.
    from engine.training.classifier import default_horizon_h
    from engine.training.suite import train_suite
    from predictions.services.training import job_machine_type

    machine_type = job_machine_type(job)
    existing = ModelVersion.objects.filter(job_id=job.id, kind=FAILURE).first()
    if existing is not None:  # a rerun after the versions were stored
        return {"challenger": existing.id, "skipped": "already trained"}
    champions = champion_versions(machine_type_id=machine_type.id)
    champion = champions.get(FAILURE)
    if champion is None or champion.machine_id is not None:
        raise Conflict(f"{machine_type.name} has no type-wide champion classifier to challenge.")
    champion = ModelVersion.objects.select_related("dataset").get(id=champion.id)
    started = time.perf_counter()
    progress(5, "Reading the type's data")
    table, source, time_scale, params, init = _training_data(machine_type, champion, champions)
    horizon_h = float(champion.metrics.get("horizon_h") or default_horizon_h(table))
    dataset = dataset_store(machine_type=machine_type, source=source, table=table, params=params, job_id=job.id)
    progress(15, f"Training on {source} data")
    # On real data, a kind whose champion cannot continue boosting (a searched LightGBM or blend)
    # is chosen by the model search again, as real-data training chose its champion.
    from predictions.services.real_training import search_settings  # imports this module's neighbours

    search = search_settings() if source == Dataset.Source.REAL else None
    # A simulated challenger is a cold-start model: it keeps the noise its baselines scale to.
    baseline_steps = (baseline_model_steps(machine_type.metadata, simulation_scale(machine_type.metadata))
                      if source == Dataset.Source.SIMULATED else None)
    suite = train_suite(table, machine_type.metadata, horizon_h=horizon_h, seed=int(params["seed"]),
                        kinds=list(KINDS), init=init or None, search=search, time_scale=time_scale,
                        baseline_steps=baseline_steps, progress=lambda p, m: progress(15 + int(p * 0.8), m))
    base = {"horizon_h": horizon_h, "seed": params["seed"]}
    traffic = min(max(float(settings.CHALLENGER_TRAFFIC), 0.0), 1.0)
    tag = {"reason": job.params.get("reason", "manual"), "champion_id": champion.id, "job": job.id,
           **job.params.get("details", {}), "traffic": traffic}
    now = timezone.now()
    with transaction.atomic():
        versions = {kind: model_version_register(
            machine_type=machine_type, bundle=suite.bundles[kind], dataset=dataset, job_id=job.id,
            training_seconds=suite.seconds[kind], parent=champions.get(kind) if kind in init else None,
            params={**base, "training": _training_label(params["training"], kind, init, source),
                    "challenger": {**tag, "champion_id": champions[kind].id if kind in champions else None}})
            for kind in KINDS if kind in suite.bundles}
        classifier = versions[FAILURE]
        rul = versions.get(RUL)
        challenge = {**classifier.params["challenger"], "rul_id": rul.id if rul else None}
        ModelVersion.objects.filter(id=classifier.id).update(params={**classifier.params, "challenger": challenge})
        ModelVersion.objects.filter(id__in=[v.id for v in versions.values()]).update(shadow_since=now)
        ModelEvent.objects.create(
            version=classifier, action="challenger_created",
            note=f"challenger of v{champion.number} ({tag['reason']}), trained on {source} data; "
                 + (f"serving {traffic:.0%} of the machines, shadowing the rest" if traffic else "shadowing"),
            details={**challenge, "dataset": dataset.id, "skipped": suite.skipped,
                     "metrics": metrics_headline(classifier.metrics, _CLASSIFIER_HEADLINE),
                     "champion_metrics": metrics_headline(champion.metrics, _CLASSIFIER_HEADLINE)})
    progress(100, "Challenger shadowing")
    return {"challenger": classifier.id, "rul": rul.id if rul else None, "dataset": dataset.id, "source": source,
            "metrics": metrics_headline(classifier.metrics, _CLASSIFIER_HEADLINE),
            "seconds": round(time.perf_counter() - started, 2)}


def _training_data(machine_type: MachineType, champion: ModelVersion, champions: dict[str, ModelVersion],
                   ) -> tuple[pa.Table, str, float, dict[str, Any], dict[str, Bundle]]:
    """Real data fine-tuned from the champions when there is enough, else a new simulated fleet."""
    from engine.synthetic.simulator import simulate_fleet
    from predictions.services.real_training import real_table
    from predictions.services.training import LIMITS

    seed = int(champion.params.get("seed") or 0) + 1000 + champion.number
    try:
        table, time_scale = real_table(machine_type=machine_type)
    except InvalidInput as exc:
        low, high = LIMITS["machines"]
        machines = int(min(max(champion.dataset.machines if champion.dataset else DEFAULT_MACHINES, low), high))
        table = simulate_fleet(machine_type.metadata, machines=machines, seed=seed)
        # A type simulated in cycles keeps cycle models (the table's step travels to train_suite).
        return table, Dataset.Source.SIMULATED, simulation_scale(machine_type.metadata).time_scale, {
            "generator": "physics simulator", "machines": machines, "seed": seed,
            "training": "simulated, new seed", "why_not_real": exc.message}, {}
    from engine.training.suite import continues_boosting

    # A searched champion (LightGBM, a blend) cannot continue boosting: its kind trains afresh.
    init = {kind: bundle for kind, bundle in ((kind, _bundle(v)) for kind, v in champions.items() if kind in KINDS)
            if continues_boosting(bundle)}
    return table, Dataset.Source.REAL, time_scale, {
        "seed": seed, "time_scale": time_scale, "training": "real, fine-tuned from the champions"}, init


def _training_label(training: str, kind: str, init: dict[str, Bundle], source: str) -> str:
    """What the version's own training was: real data trains a kind afresh, by the model search,
    when its champion could not continue boosting."""
    if source == Dataset.Source.REAL and kind not in init:
        if kind in (FAILURE, RUL):
            return "real, trained afresh by the model search (the champion cannot continue boosting)"
        return "real, trained afresh"  # the anomaly detector and forecaster never continue training
    return training


def _bundle(version: ModelVersion) -> Bundle:
    return bundle_load(artifact_read(version.artifact_path, sha256=version.artifact_sha256))


_CLASSIFIER_HEADLINE = ("f1", "precision", "recall", "fpr")


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
    rul = ModelVersion.objects.filter(id=rul_id, status=S.CANDIDATE).first() if rul_id else None
    if rul is not None:
        versions[RUL] = rul
    key = (connection.schema_name, tuple(sorted((k, v.id, v.artifact_sha256) for k, v in versions.items())))
    with _shadow_lock:
        if key in _shadow_cache:
            _shadow_cache.move_to_end(key)
            return _shadow_cache[key]
    models = ModelSet(machine_type.metadata, {k: _bundle(v) for k, v in versions.items()},
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


# --- deciding -----------------------------------------------------------------------------------

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
    """The promotion rule (module docstring, point 3)."""
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
        rul = _companion(challenger)
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


def _companion(classifier: ModelVersion) -> ModelVersion | None:
    rul_id = (classifier.params.get("challenger") or {}).get("rul_id")
    return ModelVersion.objects.filter(id=rul_id).first() if rul_id else None


# --- rollback -----------------------------------------------------------------------------------


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
        rul = _companion(version)
        if rul is not None and rul.status == S.CHAMPION:
            try:
                model_version_rollback(machine_type_id=version.machine_type_id, kind=RUL,
                                       machine_id=version.machine_id, actor_id=actor_id,
                                       note="automatic rollback with its classifier")
            except Conflict:
                logger.warning("RUL regressor %s stays champion: nothing to roll back to", rul.id)
    return previous


# --- the scheduled run --------------------------------------------------------------------------


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
