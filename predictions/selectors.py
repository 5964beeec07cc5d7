"""Reads about what the stored predictions say and have read (the remaining useful life of each
reading is `machines.reading_store.rul_labels`), and the false alarms an alert rule can expect of
the models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from machines.models import Machine, MachineType
from maintenance.models import Alert, AlertRule
from predictions.models import Dataset, DriftReport, ModelEvent, ModelVersion, Prediction

# --- fleet and machine pages -------------------------------------------------------------------

# Columns of a prediction the fleet table shows; the explanation (kilobytes per row) stays behind.
FLEET_FIELDS = ("id", "machine_id", "probability", "predicted_failure", "failure_mode", "rul_h", "rul_lower_h",
                "rul_upper_h", "anomaly_score", "health_score", "created_at", "window_end", "horizon_h",
                "state", "risk", "threshold", "rul_beyond_h", "learning", "alarm")  # the verdict


@dataclass
class FleetRow:
    machine: Machine
    prediction: Prediction | None
    open_alerts: int

    @property
    def risk(self) -> float:
        """Sort key: the highest risk shown first, then least healthy; machines learning their
        normal after the scored ones of the same risk, unscored machines last."""
        p = self.prediction
        if p is None:
            return -1.0
        health = p.health_score if p.health_score is not None else 100.0
        return (p.risk if p.risk is not None else p.probability) + (100.0 - health) / 1000.0


def fleet_overview(*, site: str = "", line: str = "", machine_type_id: int | None = None) -> list[FleetRow]:
    """Every machine that is not retired with its latest prediction and open alerts, riskiest first."""
    latest = Prediction.objects.filter(machine=OuterRef("pk")).order_by("-created_at", "-id").values("id")[:1]
    machines = (Machine.objects.exclude(status=Machine.Status.RETIRED).select_related("machine_type")
                .annotate(latest_id=Subquery(latest),
                          open_alerts=Count("alerts", filter=Q(alerts__status__in=Alert.ACTIVE))))
    if site:
        machines = machines.filter(site=site)
    if line:
        machines = machines.filter(line=line)
    if machine_type_id:
        machines = machines.filter(machine_type_id=machine_type_id)
    machine_list = list(machines)
    ids = [m.latest_id for m in machine_list if m.latest_id]  # type: ignore[attr-defined]
    predictions = {p.id: p for p in Prediction.objects.filter(id__in=ids).only(*FLEET_FIELDS)}
    rows = [FleetRow(m, predictions.get(m.latest_id), m.open_alerts)  # type: ignore[attr-defined]
            for m in machine_list]
    return sorted(rows, key=lambda row: (-row.risk, row.machine.name))


def fleet_filter_options() -> dict[str, list[Any]]:
    """The sites, lines and types present in the fleet, for the dashboard's filters."""
    active = Machine.objects.exclude(status=Machine.Status.RETIRED)
    return {
        # order_by(): Machine's default ordering (name) would join the DISTINCT and repeat a
        # value once per machine.
        "sites": sorted(s for s in active.order_by().values_list("site", flat=True).distinct() if s),
        "lines": sorted(s for s in active.order_by().values_list("line", flat=True).distinct() if s),
        "types": list(MachineType.objects.filter(machines__in=active).distinct().values("id", "name")),
    }


def machine_latest_prediction(*, machine_id: int) -> Prediction | None:
    return Prediction.objects.filter(machine_id=machine_id).order_by("-created_at", "-id").first()


def machine_latest_forecast(*, machine_id: int) -> list[dict[str, Any]]:
    """The newest sensor forecast among the machine's recent predictions (scheduled scoring adds
    one; an on-demand prediction without it should not hide the last projection)."""
    recent = (Prediction.objects.filter(machine_id=machine_id, explanation__has_key="forecast")
              .order_by("-created_at", "-id").values_list("explanation", flat=True)[:1])
    for explanation in recent:
        return list(explanation.get("forecast") or [])
    return []


def prediction_history(*, machine_id: int, limit: int = 500) -> list[dict[str, Any]]:
    """Oldest first, for charts: when each step was scored and what the models said."""
    rows = (Prediction.objects.filter(machine_id=machine_id).order_by("-window_end", "-id")
            .values("window_end", "probability", "health_score", "rul_h", "rul_lower_h", "rul_upper_h",
                    "anomaly_score", "predicted_failure")[:limit])
    return list(reversed([dict(row) for row in rows]))


def machines_with_unread_readings(*, newest: dict[int, datetime],
                                  serving: list[dict[str, Any]] | None = None) -> list[int]:
    """Of the machines in `newest` (machine id -> its newest reading), those a scheduled run
    scores: readings newer than their latest prediction read (`Prediction.readings_until`; none
    read or no prediction counts as unread), or, with `serving` (the versions of the models
    serving now), a latest prediction made by other models (a promotion, a rollback)."""
    latest = {machine_id: (seen, versions) for machine_id, seen, versions in
              Prediction.objects.filter(machine_id__in=list(newest)).order_by("machine_id", "-created_at", "-id")
              .distinct("machine_id").values_list("machine_id", "readings_until", "versions")}
    current = [_version_ids(versions) for versions in serving or []]

    def unread(machine_id: int) -> bool:
        seen, versions = latest.get(machine_id, (None, None))
        if seen is None or seen < newest[machine_id]:
            return True
        return serving is not None and _version_ids(versions or {}) not in current

    return [machine_id for machine_id in newest if unread(machine_id)]


def _version_ids(versions: dict[str, Any]) -> dict[str, int]:
    return {kind: int(version) for kind, version in versions.items()}


# --- what the maintenance plan reads (planning.inputs) ---------------------------------------------


def machines_active_alerts() -> dict[int, list[Alert]]:
    """Each machine's active failure alerts (open or acknowledged: not yet resolved), the most
    severe and likeliest first: a plan raises the alerted failure mode's risk and plans such
    machines first. Anomaly alerts are left out: their `probability` is an anomaly score, and
    unusual readings alone never put a machine at risk (decision rule 3)."""
    rank: dict[str, int] = {Alert.Severity.CRITICAL: 0, Alert.Severity.WARNING: 1}
    alerts: dict[int, list[Alert]] = {}
    for alert in Alert.objects.filter(status__in=Alert.ACTIVE, kind=Alert.Kind.FAILURE):
        alerts.setdefault(alert.machine_id, []).append(alert)
    for items in alerts.values():
        items.sort(key=lambda a: (rank.get(a.severity, 2), -a.probability, a.id))
    return alerts


def prediction_rul_is_evidence(prediction: Prediction) -> bool:
    """Whether a prediction's remaining life is a time to failure a plan may count on, by the
    verdict's own rules (engine.decision, rules 5 and 8): there is one, it is not at the RUL
    model's cap ("beyond N days, no sign of wear") and the model that made it has skill."""
    # Imported here, not at the top: appended beside other work on this module (issue 16).
    from engine.decision import RUL_SKILL
    from predictions.models import ModelVersion

    if prediction.rul_h is None or prediction.rul_beyond_h is not None:
        return False
    version_id = (prediction.versions or {}).get(ModelVersion.Kind.RUL_REGRESSOR)
    if version_id is None:
        return True  # an API caller's own RUL, or no record of the model: taken as given
    metrics = ModelVersion.objects.filter(id=version_id).values_list("metrics", flat=True).first() or {}
    skill = metrics.get("r2")
    return not isinstance(skill, (int, float)) or skill != skill or skill >= RUL_SKILL


FALSE_ALARM_DAYS = 100  # the rate is given per 100 machine-days


def alert_rule_false_alarms(*, rule: AlertRule) -> list[dict[str, Any]]:
    """The rule's expected false alerts per 100 machine-days, for each machine type it covers
    that has a champion failure classifier: a healthy machine whose scored windows are flagged
    independently at the classifier's validation false-positive rate, one window a model step
    (a window scored twice counts once). Cycle-indexed types have no days: per 1,000 windows
    only. Neighbouring windows share readings, so real runs of false flags are likelier: a floor.
    A read of the model registry for maintenance's alert rules (their API and the alerts page)."""
    if rule.machine is not None:
        types = MachineType.objects.filter(id=rule.machine.machine_type_id)
    elif rule.machine_type_id is not None:
        types = MachineType.objects.filter(id=rule.machine_type_id)
    else:  # the tenant default covers every type in use
        types = MachineType.objects.filter(machines__isnull=False).distinct()
    return [rate for machine_type in types.order_by("key") if (rate := _false_alarm_rate(rule, machine_type))]


def _false_alarm_rate(rule: AlertRule, machine_type: MachineType) -> dict[str, Any] | None:
    from engine.decision import expected_false_alarms
    from predictions.services.registry import model_set_for  # the model stack: not at web start-up
    from predictions.web_format import steps_duration

    champion = ModelVersion.objects.filter(machine_type=machine_type, machine__isnull=True,
                                           kind=ModelVersion.Kind.FAILURE_CLASSIFIER,
                                           status=ModelVersion.Status.CHAMPION).only("id", "metrics").first()
    models = model_set_for(machine_type=machine_type) if champion is not None else None
    if champion is None or models is None:
        return None
    metrics = champion.metrics or {}
    fpr = (metrics.get("validation") or {}).get("fpr", metrics.get("fpr"))
    if not isinstance(fpr, int | float):
        return None
    windows = {"k": rule.windows_k, "n": rule.windows_n, "clear": rule.windows_clear}
    per_1000 = expected_false_alarms(float(fpr), windows=1000, **windows)
    daily = None if models.time_unit == "cycles" else 24.0 / models.step_hours
    per_days = expected_false_alarms(float(fpr), windows=round(FALSE_ALARM_DAYS * daily), **windows) if daily else None
    # The rule counts model steps: "4 of 6" is 4 days at risk for a type stepping daily, 8 cycles
    # for an engine read per cycle. Saying so turns the counts into the time a planner expects.
    unit = models.time_unit
    return {"machine_type": machine_type.key, "name": machine_type.name, "model_version": champion.id,
            "validation_fpr": round(float(fpr), 4), "windows_per_day": daily,
            "step": steps_duration(models.step_hours, unit),
            "opens_after": steps_duration(rule.windows_k * models.step_hours, unit),
            "clears_after": steps_duration(rule.windows_clear * models.step_hours, unit),
            "per_100_machine_days": None if per_days is None else round(per_days, 3),
            "per_1000_windows": round(per_1000, 3)}


# --- the model registry's pages ------------------------------------------------------------------


def model_version_list(*, machine_type_id: int | None = None, status: str = "") -> QuerySet[ModelVersion]:
    """Versions with their type, machine and dataset, grouped by type (by name), then machine and
    kind, newest first; without the large JSON documents a list does not show."""
    versions = (ModelVersion.objects.select_related("machine_type", "machine", "dataset")
                .defer("feature_importance", "global_explanation", "baseline", "params")
                .order_by("machine_type__name", "machine_type_id", "machine_id", "kind", "-number"))
    if machine_type_id is not None:
        versions = versions.filter(machine_type_id=machine_type_id)
    return versions.filter(status=status) if status else versions


def model_version_records() -> QuerySet[ModelVersion]:
    """Versions with everything one version's page shows beside it: type, machine, dataset, parent."""
    return ModelVersion.objects.select_related("machine_type", "machine", "dataset", "parent")


def model_version_former_champions() -> set[tuple[int, int | None, str]]:
    """The (type, machine, kind) groups with an archived former champion: the ones a rollback
    can return to."""
    return set(ModelVersion.objects.filter(status=ModelVersion.Status.ARCHIVED, promoted_at__isnull=False)
               .values_list("machine_type_id", "machine_id", "kind").distinct())


def model_version_siblings(*, version: ModelVersion) -> QuerySet[ModelVersion]:
    """The other versions of the same type, machine and kind (id, number, status and date only)."""
    return (ModelVersion.objects.filter(machine_type_id=version.machine_type_id, machine=version.machine,
                                        kind=version.kind)
            .exclude(id=version.id).only("id", "number", "status", "created_at"))


def model_versions_by_id(*, ids: list[int]) -> list[ModelVersion]:
    """These versions with their datasets, by kind."""
    return list(ModelVersion.objects.filter(id__in=ids).select_related("dataset").order_by("kind"))


def model_events(*, version_id: int) -> QuerySet[ModelEvent]:
    """A version's registry log with who did each step, newest first."""
    return ModelEvent.objects.filter(version_id=version_id).select_related("actor")


def drift_report_latest(*, version_id: int) -> DriftReport | None:
    return DriftReport.objects.filter(version_id=version_id).first()


def dataset_get(*, dataset_id: int | None) -> Dataset | None:
    """The dataset with its machine type, or None (no id, or no such dataset)."""
    return Dataset.objects.select_related("machine_type").filter(id=dataset_id).first() if dataset_id else None
