"""Scoring machines with their champions: fleet runs, one machine on demand, batches of rows.

Each call reads the machines' recent readings (enough steps for full windows), buckets them into
model frames (`engine.frames`), scores them (`engine.scoring`), stores one Prediction
per scored step with its verdict (`engine.decision`), counts them for billing, opens or
clears alerts from the verdicts through the alert rules (k of n windows) and pushes a
`machine.health` event per machine to the tenant's live channel.

What counts as a billable prediction: every Prediction row stored, whichever path made it: one
per machine in a fleet run or an on-demand call, one per scored row of a batch. A scheduled run
(beat's, every few minutes) scores only what is new: a machine with no reading newer than the
ones its latest prediction read, and the same models, keeps that prediction and is neither
stored again nor billed (`only_new`). Uploads, onboarding and calls always score. On a plan without
overage, a call that would take the period past its included predictions is refused whole
(`billing.quotas`): a cheap look before scoring, the exact reservation with the rows it counts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
from django.db import transaction
from django.utils import timezone

from billing.quotas import PredictionQuota, prediction_quota_check, prediction_quota_reserve
from engine.frames import Reading, frame_from_readings, other_scale_machines
from engine.metadata import is_observation_type
from engine.scoring import ModelSet, RecentSteps, recent_steps, score_frame
from machines.models import Machine, MachineType
from machines.reading_store import SlotColumns, readings_latest, readings_latest_window
from pdm_saas.errors import Conflict, InvalidInput, PaymentRequired
from pdm_saas.live.events import MACHINE_HEALTH, event_publish
from pdm_saas.monitoring.metrics import predictions_record
from predictions.models import Prediction
from predictions.selectors import machines_with_unread_readings
from predictions.services.challenger.retraining import challenger_pending
from predictions.services.challenger.shadow import challenger_route, shadow_score
from predictions.services.machine_normal import frame_relative_to_baselines
from predictions.services.past_cases import with_real_cases
from predictions.services.registry import json_safe, model_set_for
from predictions.services.scoring_alerts import alarm_memory, alerts_from_anomalies, alerts_from_verdicts
from predictions.services.stored_readings import columns_frame
from predictions.web_format import verdict
from tenants.db import connection
from tenants.row_cache import tenant_cached

logger = logging.getLogger(__name__)

MAX_BATCH_ROWS = 10_000
FORECAST_HORIZON_H = 168.0  # a week ahead
HISTORY_SLACK_STEPS = 2  # a bucket at each end may be partial


def _models_or_conflict(machine_type: MachineType, machine_id: int | None = None) -> ModelSet:
    models = model_set_for(machine_type=machine_type, machine_id=machine_id)
    if models is None and is_observation_type(machine_type.metadata):
        raise Conflict(f"{machine_type.name} is an observations type: its rows are scored one by one from their own "
                       "values with score_file, not as a machine's time series.", code="observation_type")
    if models is None:
        raise Conflict(f"{machine_type.name} has no trained models yet; onboard the type first "
                       f"(POST /api/v1/machine-types/{machine_type.key}/onboard/).")
    return with_real_cases(machine_type=machine_type, models=models)


def stored_frame(*, machine_type: MachineType, machine_ids: Sequence[int], models: ModelSet,
                 names: dict[int, str] | None = None, extra_steps: int = 0,
                 skip_other_scale: bool = False) -> pa.Table:
    """Each machine's readings over the last `history_steps` steps before its own latest reading.
    Models with run features (run age, change from the run's baseline) also get the first
    `baseline_steps` steps of the current run, which starts after the machine's latest failure
    event (or at its first reading): windows count back from the latest row only, so the gap
    between the two stretches never enters a window. `names` (id -> name) spares the query when
    the caller holds the machines already. `extra_steps` more steps give the last steps before the
    latest full windows too (the alert rules' k of n read them). A machine whose readings the
    models cannot read at their scale (`other_scale_refusal`) is refused, or left out with
    `skip_other_scale`."""
    steps = models.history_steps + HISTORY_SLACK_STEPS + extra_steps
    span = timedelta(hours=models.step_hours * steps / models.time_scale)
    early = timedelta(hours=models.step_hours * models.baseline_steps / models.time_scale)
    columns = readings_latest_window(machine_type=machine_type, machine_ids=machine_ids, span=span,
                                     run_start=early if models.baseline_steps else None)
    if names is None:
        names = dict(Machine.objects.filter(id__in=machine_ids).values_list("id", "name"))
    columns = _columns_at_model_scale(columns, names, machine_type, models, skip=skip_other_scale)
    return columns_frame(columns, names, machine_type.metadata, step_hours=models.step_hours,
                         time_scale=models.time_scale)


def _columns_at_model_scale(columns: SlotColumns, names: dict[int, str], machine_type: MachineType,
                            models: ModelSet, *, skip: bool) -> SlotColumns:
    machines = np.array([names[int(m)] for m in columns.machine_ids], dtype=object)
    other = other_scale_machines(machines, columns.seconds, time_scale=models.time_scale)
    if not other:
        return columns
    if not skip:
        raise other_scale_refusal(machine_type, models, other)
    logger.warning("Scoring of %s in %s left out %s: %s", machine_type.key, connection.schema_name, other,
                   other_scale_refusal(machine_type, models, other).message)
    return columns.take(~np.isin(machines, other))


def other_scale_refusal(machine_type: MachineType, models: ModelSet, machines: Sequence[str]) -> Conflict:
    """Why these machines' readings cannot be scored by the type's models, and what to do."""
    listed = ", ".join(machines[:5]) + (f" and {len(machines) - 5} more" if len(machines) > 5 else "")
    if models.time_unit == "cycles":
        message = (f"The models of {machine_type.name} count time in cycles, one cycle a step, but the readings of "
                   f"{listed} carry clock times. Upload them with a cycle column, or train models on clock-time "
                   "readings.")
    else:
        message = (f"The readings of {listed} are counted in cycles, but the models of {machine_type.name} read "
                   f"clock time in steps of {_step_words(models.step_hours)}, so they cannot read them one cycle "
                   "a step. Set how long a cycle takes on the machine type (hours_per_cycle) and onboard it again "
                   "(its models are then simulated in cycles), or train on these machines' real data.")
    return Conflict(message, code="time_scale", details={"machines": list(machines[:50]),
                                                          "model_time_unit": models.time_unit})


def machine_scale_refusal(*, machine: Machine) -> str | None:
    """Why the type's champions cannot score this machine's readings (the machine page says so
    before anyone presses "Score now"), None when they can or there is nothing to judge yet."""
    from machines.selectors import readings_recent

    latest = readings_recent(machine=machine, limit=1)
    models = model_set_for(machine_type=machine.machine_type, machine_id=machine.id) if latest else None
    if models is None:
        return None
    names, seconds = np.array([machine.name], dtype=object), np.array([latest[0][0].timestamp()])
    other = other_scale_machines(names, seconds, time_scale=models.time_scale)
    return other_scale_refusal(machine.machine_type, models, other).message if other else None


def _step_words(step_hours: float) -> str:
    from engine.synthetic.scales import describe_hours  # pure and small; kept out of module start-up

    return describe_hours(step_hours)


def fleet_score(*, machine_type_id: int | None = None, source: str = Prediction.Source.SCHEDULED,
                explain: bool = True, only_new: bool = False) -> list[Prediction]:
    """Score the latest window of every active machine with readings, type by type. `only_new`
    (beat's runs): leave out machines whose latest prediction read their newest reading already,
    with the models serving now."""
    types = MachineType.objects.filter(machines__status=Machine.Status.ACTIVE).distinct()
    if machine_type_id is not None:
        types = types.filter(id=machine_type_id)
    stored: list[Prediction] = []
    for machine_type in types:
        try:
            stored += _fleet_score_type(machine_type, source=source, explain=explain, only_new=only_new)
        except PaymentRequired as exc:
            # Background scoring (beat, after an upload, onboarding) has nobody to answer: the
            # type is skipped and its machines keep their last prediction until the plan allows.
            logger.warning("Scoring of %s skipped in %s: %s", machine_type.key, connection.schema_name, exc.message)
    return stored


def _fleet_score_type(machine_type: MachineType, *, source: str, explain: bool, only_new: bool) -> list[Prediction]:
    models = model_set_for(machine_type=machine_type)
    if models is None:
        return []
    models = with_real_cases(machine_type=machine_type, models=models) if explain else models
    ids = list(machine_type.machines.filter(status=Machine.Status.ACTIVE).values_list("id", flat=True))
    newest = readings_latest(machine_ids=ids)
    route = challenger_route(machine_type=machine_type, machine_ids=ids)  # traffic mode only
    if only_new:
        serving = [models.versions, *([route.models.versions] if route is not None else [])]
        unread = set(machines_with_unread_readings(newest=newest, serving=serving))
        ids = [machine_id for machine_id in ids if machine_id in unread]
        if not ids:
            return []
    quota = prediction_quota_check(tenant_id=connection.tenant.id)
    memory = alarm_memory()
    frame = stored_frame(machine_type=machine_type, machine_ids=ids, models=models, extra_steps=memory,
                         skip_other_scale=True)
    served, frame = route.split(frame) if route is not None else (None, frame)
    relative, learning = frame_relative_to_baselines(machine_type=machine_type, frame=frame, models=models)
    scored = score_frame(models, relative, explain=explain, forecast_horizon_h=FORECAST_HORIZON_H, learning=learning)
    stored = _store(scored, models, source=source, quota=quota,
                    recent=recent_steps(models, relative, steps=memory, learning=learning), newest=newest)
    if route is not None and served is not None and served.num_rows:  # the challenger's share, served
        challenger = with_real_cases(machine_type=machine_type, models=route.models) if explain else route.models
        stored += _store(score_frame(challenger, served, explain=explain, forecast_horizon_h=FORECAST_HORIZON_H),
                         challenger, source=source, quota=quota,
                         recent=recent_steps(challenger, served, steps=memory), newest=newest)
    shadow_score(machine_type=machine_type, frame=frame)  # a challenger's silent scores; never raises
    return stored


def machine_predict(*, machine: Machine, readings: Sequence[Reading] | None = None,
                    source: str = Prediction.Source.API, forecast: bool = False) -> Prediction:
    """One machine now: from readings given inline, else from its latest stored window. The
    sensor forecast is left out unless asked for (scheduled scoring always adds it)."""
    models = _models_or_conflict(machine.machine_type, machine.id)
    challenged = _may_have_challenger(machine.machine_type)
    route = challenger_route(machine_type=machine.machine_type, machine_ids=[machine.id]) if challenged else None
    if route is not None:  # the challenger's share of traffic, explained with the same past cases
        models = with_real_cases(machine_type=machine.machine_type, models=route.models)
    quota = prediction_quota_check(tenant_id=connection.tenant.id)
    memory = alarm_memory()
    if readings:
        _refuse_other_scale(readings, machine.machine_type, models)
        frame = frame_from_readings(readings, machine.machine_type.schema, step_hours=models.step_hours,
                                    time_scale=models.time_scale)
    else:
        frame = stored_frame(machine_type=machine.machine_type, machine_ids=[machine.id], models=models,
                             names={machine.id: machine.name}, extra_steps=memory)
    if not frame.num_rows:
        raise InvalidInput(f"{machine.name} has no readings to predict from; send them inline or upload some first.")
    relative, learning = frame_relative_to_baselines(machine_type=machine.machine_type, frame=frame, models=models,
                                                     known={machine.id: machine.name})
    scored = score_frame(models, relative, forecast_horizon_h=FORECAST_HORIZON_H if forecast else None,
                         learning=learning)
    stored = _store(scored, models, source=source, quota=quota, known={machine.name: machine},
                    recent=recent_steps(models, relative, steps=memory, learning=learning))[0]
    if route is None and challenged:  # served by the champion: the challenger shadows it
        shadow_score(machine_type=machine.machine_type, frame=frame, machine_id=machine.id)  # never raises
    return stored


def _refuse_other_scale(readings: Sequence[Reading], machine_type: MachineType, models: ModelSet) -> None:
    machines = np.array([m for m, _, _ in readings], dtype=object)
    seconds = np.array([(ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp() for _, ts, _ in readings])
    other = other_scale_machines(machines, seconds, time_scale=models.time_scale)
    if other:
        raise other_scale_refusal(machine_type, models, other)


def _may_have_challenger(machine_type: MachineType) -> bool:
    """False only when the type certainly has no challenger, so that the routing and shadowing
    are spared their savepoints (each a BEGIN/COMMIT pair outside a transaction); both would find
    no challenger and do nothing. The answer is kept per process until a version of the tenant
    changes (tenants/row_cache.py), so usually nothing is read. When it is read, it is read in a
    savepoint of its own: inside the caller's transaction a failed read must not abort it. A
    failed read is left to the routing and shadowing (they log it and let the champion serve)."""
    try:
        return tenant_cached("challenged", (machine_type.id,), lambda: _challenger_read(machine_type.id))
    except Exception:  # noqa: BLE001 - as challenger_route: a broken challenger must not stop the champion
        return True


def _challenger_read(machine_type_id: int) -> bool:
    with transaction.atomic():
        return challenger_pending(machine_type_id=machine_type_id) is not None


def batch_predict(*, machine_type: MachineType, readings: Sequence[Reading], explain: bool = False) -> list[Prediction]:
    """Every step of every machine in the batch, each seeing the batch's earlier rows as history."""
    if len(readings) > MAX_BATCH_ROWS:
        raise InvalidInput(f"A batch holds at most {MAX_BATCH_ROWS:,} rows; this one has {len(readings):,}. "
                           "Split it, or use the file-to-file command for large files.")
    models = _models_or_conflict(machine_type)
    _refuse_other_scale(readings, machine_type, models)
    quota = prediction_quota_check(tenant_id=connection.tenant.id)
    frame = frame_from_readings(readings, machine_type.schema, step_hours=models.step_hours,
                                time_scale=models.time_scale)
    relative, learning = frame_relative_to_baselines(machine_type=machine_type, frame=frame, models=models)
    return _store(score_frame(models, relative, rows="all", explain=explain, learning=learning), models,
                  source=Prediction.Source.BATCH, quota=quota)


def _store(scored: list[dict[str, Any]], models: ModelSet, *, source: str, quota: PredictionQuota | None = None,
           known: dict[str, Machine] | None = None, recent: RecentSteps | None = None,
           newest: dict[int, datetime] | None = None) -> list[Prediction]:
    """`quota`: what the call's pre-check read; `known`: the machines by name, when the caller
    holds every one it scored (with their types: the alert rules read them); `recent`: each
    machine's verdict states and anomaly scores over its last steps, oldest first, ending with the
    scored one (else the scored rows themselves are the steps: a batch); `newest`: each machine's
    newest reading (a fleet run), kept on its predictions as what they read."""
    if not scored:
        return []
    names = {s["machine"] for s in scored}
    if known is not None and names <= set(known):
        machines = known
    else:
        machines = {m.name: m for m in Machine.objects.filter(name__in=names).select_related("machine_type")}
    unknown = sorted({s["machine"] for s in scored} - set(machines))
    if unknown:
        raise InvalidInput(f"Unknown machines: {', '.join(unknown[:10])}.", details={"machines": unknown[:50]})
    rows = [_prediction(item, machines[item["machine"]], models, source) for item in scored]
    for row in rows:
        row.readings_until = (newest or {}).get(row.machine.id)
    with transaction.atomic():
        created = Prediction.objects.bulk_create(rows)
        # After the insert, so the counter's row lock is held only until the commit just below;
        # a refusal rolls the rows back with it.
        prediction_quota_reserve(tenant_id=connection.tenant.id, count=len(created), quota=quota)
    predictions_record(schema_name=connection.schema_name, machine_type=str(models.document.get("key", "unknown")),
                       scores=[(p.probability, p.health_score) for p in created])
    latest = _latest_per_machine(created)
    steps = recent if recent is not None else _steps_by_machine(scored)
    by_id = {m.id: m for m in machines.values()}
    states = {machines[name].id: states for name, states in steps.states.items() if name in machines}
    anomalies = {machines[name].id: scores for name, scores in steps.anomalies.items() if name in machines}
    outcomes = alerts_from_verdicts(predictions=latest, machines=by_id, recent=states)
    alerts_from_anomalies(predictions=latest, machines=by_id, states=states, anomalies=anomalies)
    for prediction in latest:  # as alerts_from_verdicts stored it
        prediction.alarm = outcomes[prediction.machine_id].action in ("opened", "updated", "quiet")
    transaction.on_commit(lambda: _publish(latest))
    return created


def _prediction(item: dict[str, Any], machine: Machine, models: ModelSet, source: str) -> Prediction:
    window_end = item["window_end"]
    return Prediction(
        machine=machine, model_version_id=models.versions.get("failure_classifier"), versions=models.versions,
        source=source, window_end=window_end if isinstance(window_end, datetime) else timezone.now(),
        horizon_h=item["horizon_h"], probability=item["probability"], predicted_failure=item["prediction"],
        failure_mode=item["failure_mode"] or "", rul_h=item["rul_h"], rul_lower_h=item["rul_lower_h"],
        rul_upper_h=item["rul_upper_h"], anomaly_score=item["anomaly_score"], health_score=item["health_score"],
        confidence=item["confidence"], explanation=json_safe(item.get("explanation", {})),
        state=item["state"], risk=item["risk"], threshold=item["threshold"], rul_beyond_h=item["rul_beyond_h"],
        learning=item["learning"],
    )


def _steps_by_machine(scored: list[dict[str, Any]]) -> RecentSteps:
    """Each machine's scored rows' states and anomaly scores in time order (a batch's rows are
    its steps)."""
    steps = RecentSteps({}, {})
    for item in sorted(scored, key=lambda s: s["window_end"]):
        steps.states.setdefault(item["machine"], []).append(item["state"])
        steps.anomalies.setdefault(item["machine"], []).append(item["anomaly_score"])
    return steps


def _latest_per_machine(predictions: Iterable[Prediction]) -> list[Prediction]:
    latest: dict[int, Prediction] = {}
    for prediction in predictions:
        current = latest.get(prediction.machine_id)
        if current is None or prediction.window_end >= current.window_end:
            latest[prediction.machine_id] = prediction
    return list(latest.values())


def _shown(prediction: Prediction) -> dict[str, Any]:
    shown = verdict(prediction)
    return {key: shown[key] for key in ("label", "css", "health", "risk", "rul", "confirming")}


def _publish(predictions: list[Prediction]) -> None:
    schema = connection.schema_name
    for p in predictions:
        event_publish(schema_name=schema, event={"type": MACHINE_HEALTH, "machine": {
            "id": p.machine_id, "health": p.health_score, "failure_probability": p.probability, "rul": p.rul_h,
            "time_unit": p.time_unit, "state": p.state, "risk": p.risk, "threshold": p.threshold,
            "rul_beyond": p.rul_beyond_h, "learning": p.learning, "alarm": p.alarm,
            "verdict": _shown(p),  # worded as the server-rendered pages word it
            "anomaly": p.anomaly_score, "failure_mode": p.failure_mode, "predicted_failure": p.predicted_failure,
            "prediction_id": p.id,
            "scored_at": p.created_at.isoformat() if p.created_at else timezone.now().isoformat(),
        }})
