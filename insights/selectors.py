"""Reads of the insights app: model performance, prediction analytics, business KPIs and data
quality, each computed from other apps' rows on request. Every formula is in docs/insights.md and
in the page's "How we compute this" note; `FORMULAS` below is the text of that note.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone

from billing.models import Subscription
from engine.metadata import failure_mode_label, failure_mode_or_costliest
from insights.models import SummaryPreference
from machines.models import FailureEvent, Machine, Upload
from maintenance.models import Alert, WorkOrder
from predictions.models import DriftReport, ModelVersion, OutcomeSnapshot, Prediction
from tenants.db import connection

DEFAULT_DAYS = 30
MAX_DAYS = 366
# A failure with an alert opened or a work order created on its machine this many days before it
# was expected: it is not counted as unplanned.
PRECEDING_DAYS = 14
CONFIDENCE_BINS = 10
LATEST_UPLOADS = 5
DRIFT_TREND_REPORTS = 12
DAYS_PER_MONTH = Decimal(30)
CENT = Decimal("0.01")

FORMULAS: list[tuple[str, str]] = [
    ("Caught failure", "a work order closed (done) in the period with a failure found that came from an alert: "
                       "a repair the predictions planned."),
    ("Unplanned failure", f"a failure event in the period not recorded from a work order, with no alert opened "
                          f"and no work order created on its machine in the {PRECEDING_DAYS} days before it."),
    ("Downtime prevented", "per caught failure: the failure mode's downtime_hours x unplanned_failure_multiplier, "
                           "minus the work order's actual downtime (0 when not recorded)."),
    ("Cost avoided", "per caught failure: (repair_cost + downtime_hours x downtime cost per hour) x "
                     "unplanned_failure_multiplier, minus the work order's actual cost (0 when not recorded). "
                     "The cost per hour is the machine's own, else its type's costs.downtime_per_hour."),
    ("Maintenance cost", "the actual cost of every work order closed (done) in the period."),
    ("Subscription", "the plan's monthly price x days in the period / 30."),
    ("ROI", "cost avoided / (subscription + maintenance cost); none when both are 0."),
    ("Failure mode", "the one found on the work order, else the alert's, else the type's costliest "
                     "(repair_cost + downtime_hours), as the planner does."),
]


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return max(1, round((self.end - self.start).total_seconds() / 86400))


def period_of(days: int = DEFAULT_DAYS, *, now: datetime | None = None) -> Period:
    end = now or timezone.now()
    return Period(start=end - timedelta(days=min(max(days, 1), MAX_DAYS)), end=end)


def _num(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


# --- business KPIs ------------------------------------------------------------------------------


@dataclass
class CaughtFailure:
    work_order_id: int
    machine: str
    failure_mode: str
    closed_at: datetime
    unplanned_downtime_h: Decimal
    actual_downtime_h: Decimal
    downtime_prevented_h: Decimal
    unplanned_cost: Decimal
    actual_cost: Decimal
    cost_avoided: Decimal
    failure_mode_label: str = ""  # as people read it (the metadata's label)


@dataclass
class BusinessKpis:
    days: int
    caught: int = 0
    unplanned: int = 0
    downtime_prevented_h: Decimal = Decimal(0)
    cost_avoided: Decimal = Decimal(0)
    maintenance_cost: Decimal = Decimal(0)
    subscription_cost: Decimal = Decimal(0)
    roi: Decimal | None = None
    currency: str = "USD"
    caught_failures: list[CaughtFailure] = field(default_factory=list)
    unplanned_failures: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("downtime_prevented_h", "cost_avoided", "maintenance_cost", "subscription_cost", "roi"):
            data[key] = None if data[key] is None else str(data[key])
        for row in data["caught_failures"]:
            for key, value in row.items():
                if isinstance(value, Decimal):
                    row[key] = str(value)
        return data


def caught_failure(order: WorkOrder) -> CaughtFailure:
    """One caught failure's downtime prevented and cost avoided (docs/insights.md)."""
    machine = order.machine
    document = machine.machine_type.metadata
    named = order.failure_mode_found or (order.alert.failure_mode if order.alert else "")
    mode = failure_mode_or_costliest(document, named)
    costs = document.get("costs") or {}
    multiplier = _num(costs.get("unplanned_failure_multiplier", 1))
    per_hour = _num(machine.downtime_cost_per_hour if machine.downtime_cost_per_hour is not None
                    else costs.get("downtime_per_hour", 0))
    repair, downtime = _num((mode or {}).get("repair_cost", 0)), _num((mode or {}).get("downtime_hours", 0))
    unplanned_downtime = downtime * multiplier
    unplanned_cost = (repair + downtime * per_hour) * multiplier
    actual_downtime, actual_cost = _num(order.actual_downtime_hours), _num(order.actual_cost)
    assert order.closed_at is not None
    return CaughtFailure(
        work_order_id=order.id, machine=machine.name, failure_mode=str((mode or {}).get("name", "")),
        failure_mode_label=failure_mode_label(document, str((mode or {}).get("name", ""))),
        closed_at=order.closed_at, unplanned_downtime_h=unplanned_downtime.quantize(CENT),
        actual_downtime_h=actual_downtime.quantize(CENT),
        downtime_prevented_h=(unplanned_downtime - actual_downtime).quantize(CENT),
        unplanned_cost=unplanned_cost.quantize(CENT), actual_cost=actual_cost.quantize(CENT),
        cost_avoided=(unplanned_cost - actual_cost).quantize(CENT),
    )


def unplanned_failures(period: Period) -> list[FailureEvent]:
    """Failure events in the period that no alert or work order on their machine preceded."""
    before = PRECEDING_DAYS
    alert = Alert.objects.filter(machine_id=OuterRef("machine_id"), opened_at__lte=OuterRef("occurred_at"),
                                 opened_at__gte=OuterRef("occurred_at") - timedelta(days=before))
    order = WorkOrder.objects.filter(machine_id=OuterRef("machine_id"), created_at__lte=OuterRef("occurred_at"),
                                     created_at__gte=OuterRef("occurred_at") - timedelta(days=before))
    return list(FailureEvent.objects.filter(occurred_at__gte=period.start, occurred_at__lt=period.end,
                                            work_order__isnull=True)
                .exclude(source=FailureEvent.Source.WORK_ORDER)
                .filter(~Exists(alert), ~Exists(order)).select_related("machine__machine_type").order_by("occurred_at"))


def subscription_cost(period: Period) -> Decimal:
    subscription = Subscription.objects.filter(tenant=connection.tenant).select_related("plan").first()
    if subscription is None:
        return Decimal(0)
    monthly = Decimal(subscription.plan.monthly_price_cents) / 100
    return (monthly * Decimal(period.days) / DAYS_PER_MONTH).quantize(CENT)


def business_kpis(period: Period) -> BusinessKpis:
    done = WorkOrder.objects.filter(status=WorkOrder.Status.DONE, closed_at__gte=period.start,
                                    closed_at__lt=period.end)
    caught_orders = (done.filter(failure_found=True, alert__isnull=False)
                     .select_related("machine__machine_type", "alert").order_by("closed_at", "id"))
    caught = [caught_failure(order) for order in caught_orders]
    unplanned = unplanned_failures(period)
    kpis = BusinessKpis(days=period.days, caught=len(caught), unplanned=len(unplanned), caught_failures=caught)
    kpis.unplanned_failures = [{"id": e.id, "machine": e.machine.name, "failure_mode": e.failure_mode,
                                "failure_mode_label": failure_mode_label(e.machine.machine_type.metadata,
                                                                         e.failure_mode),
                                "occurred_at": e.occurred_at} for e in unplanned]
    kpis.downtime_prevented_h = sum((c.downtime_prevented_h for c in caught), Decimal(0))
    kpis.cost_avoided = sum((c.cost_avoided for c in caught), Decimal(0))
    kpis.maintenance_cost = _num(done.aggregate(total=Sum("actual_cost"))["total"]).quantize(CENT)
    kpis.subscription_cost = subscription_cost(period)
    spent = kpis.subscription_cost + kpis.maintenance_cost
    kpis.roi = (kpis.cost_avoided / spent).quantize(CENT) if spent else None
    currencies = {(o.machine.machine_type.metadata.get("costs") or {}).get("currency", "USD") for o in caught_orders}
    kpis.currency = currencies.pop() if len(currencies) == 1 else "USD"
    return kpis


# --- prediction analytics -----------------------------------------------------------------------


def prediction_analytics(period: Period) -> dict[str, Any]:
    """Predictions made in the period, the share predicting a failure, the confidence histogram
    (10 bins of 0.1) and the outcomes: TP/FP/TN/FN summed over each classifier's latest outcome
    snapshot taken in the period."""
    rows = Prediction.objects.filter(created_at__gte=period.start, created_at__lt=period.end)
    totals = rows.aggregate(total=Count("id"), failures=Count("id", filter=Q(predicted_failure=True)))
    total, failures = int(totals["total"]), int(totals["failures"])
    bins = [0] * CONFIDENCE_BINS
    for confidence in rows.values_list("confidence", flat=True).iterator():
        index = min(max(int(float(confidence) * CONFIDENCE_BINS), 0), CONFIDENCE_BINS - 1)
        bins[index] += 1
    top = max(bins) or 1
    histogram = [{"low": round(i / CONFIDENCE_BINS, 1), "high": round((i + 1) / CONFIDENCE_BINS, 1),
                  "count": n, "width": round(100 * n / top)} for i, n in enumerate(bins)]
    latest: dict[int, OutcomeSnapshot] = {}
    for snapshot in OutcomeSnapshot.objects.filter(created_at__gte=period.start, created_at__lt=period.end
                                                   ).order_by("version_id", "-created_at", "-id"):
        latest.setdefault(snapshot.version_id, snapshot)
    outcomes = {key: sum(getattr(s, key) for s in latest.values()) for key in ("tp", "fp", "tn", "fn", "pending")}
    return {"predictions": total, "predicted_failures": failures,
            "failure_rate": round(failures / total, 4) if total else None,
            "confidence_histogram": histogram, "outcomes": outcomes}


# --- model performance --------------------------------------------------------------------------


def model_performance(period: Period) -> list[dict[str, Any]]:
    """Per champion failure classifier: its outcome snapshots over the period (oldest first) and
    its latest drift report."""
    result = []
    champions = (ModelVersion.objects.filter(kind=ModelVersion.Kind.FAILURE_CLASSIFIER,
                                             status=ModelVersion.Status.CHAMPION)
                 .select_related("machine_type", "machine").order_by("machine_type__name", "machine_id"))
    for version in champions:
        snapshots = (OutcomeSnapshot.objects.filter(version=version, created_at__gte=period.start,
                                                    created_at__lt=period.end).order_by("created_at", "id"))
        drift = DriftReport.objects.filter(version=version).order_by("-created_at", "-id").first()
        result.append({
            "id": version.id,
            "name": f"{version.machine_type.name}{' / ' + version.machine.name if version.machine else ''} "
                    f"v{version.number}",
            "series": [{"at": s.created_at, "precision": s.precision, "recall": s.recall, "fpr": s.fpr,
                        "tp": s.tp, "fp": s.fp, "tn": s.tn, "fn": s.fn} for s in snapshots],
            "drift": None if drift is None else {"status": drift.status, "drift_share": drift.drift_share,
                                                 "at": drift.created_at},
        })
    return result


def drift_summary() -> dict[str, int]:
    """How many champion classifiers' latest drift report is in each status (none: never checked)."""
    counts: dict[str, int] = {}
    for version in ModelVersion.objects.filter(kind=ModelVersion.Kind.FAILURE_CLASSIFIER,
                                               status=ModelVersion.Status.CHAMPION):
        drift = DriftReport.objects.filter(version=version).order_by("-created_at", "-id").first()
        status = drift.status if drift else "none"
        counts[status] = counts.get(status, 0) + 1
    return counts


# --- data quality -------------------------------------------------------------------------------


def data_quality() -> dict[str, Any]:
    """The latest finished uploads' rejected share, missing data per signal and stuck sensors, and
    the drift reports' missing-data trend (mean recent missing share over signals, oldest first)."""
    uploads = []
    for upload in Upload.objects.filter(status=Upload.Status.SUCCEEDED).order_by("-created_at", "-id"
                                                                                 )[:LATEST_UPLOADS]:
        sensors = (upload.report or {}).get("sensors") or {}
        uploads.append({
            "id": upload.id, "name": upload.original_name, "created_at": upload.created_at,
            "rows_read": upload.rows_read, "rows_rejected": upload.rows_rejected,
            "rejected_share": round(upload.rows_rejected / upload.rows_read, 4) if upload.rows_read else None,
            "missing": [{"signal": name, "missing_pct": s.get("missing_pct", 0.0)}
                        for name, s in sorted(sensors.items())],
            "stuck": sorted(name for name, s in sensors.items() if s.get("stuck")),
        })
    trend = []
    # The classifiers' reports: every kind's check of a type reads the same readings, so the
    # others would repeat each point of the trend.
    reports = DriftReport.objects.filter(version__kind=ModelVersion.Kind.FAILURE_CLASSIFIER)
    for report in reversed(list(reports.select_related("version__machine_type")
                                .order_by("-created_at", "-id")[:DRIFT_TREND_REPORTS])):
        recent = [float(q["recent"]) for q in report.data_quality or [] if q.get("recent") is not None]
        worst = max(report.data_quality or [], key=lambda q: float(q.get("recent") or 0), default=None)
        trend.append({"at": report.created_at, "model": f"{report.version.machine_type.name} v{report.version.number}",
                      "status": report.status,
                      "mean_missing": round(sum(recent) / len(recent), 4) if recent else None,
                      "worst_signal": worst.get("signal") if worst else None,
                      "worst_missing": worst.get("recent") if worst else None})
    return {"uploads": uploads, "drift_trend": trend}


# --- the weekly summary -------------------------------------------------------------------------


def machines_at_risk() -> list[dict[str, Any]]:
    """Machines (not retired) whose latest prediction predicts a failure, riskiest first."""
    from predictions.selectors import fleet_overview

    return [{"machine": row.machine.name, "probability": row.prediction.probability,
             "failure_mode": row.prediction.failure_mode,
             "failure_mode_label": failure_mode_label(row.machine.machine_type.metadata, row.prediction.failure_mode)}
            for row in fleet_overview() if row.prediction is not None and row.prediction.predicted_failure]


def weekly_summary(*, now: datetime | None = None) -> dict[str, Any]:
    period = period_of(7, now=now)
    return {
        "period": period,
        "at_risk": machines_at_risk(),
        "open_alerts": Alert.objects.filter(status__in=Alert.ACTIVE).count(),
        "closed_work_orders": WorkOrder.objects.filter(status=WorkOrder.Status.DONE, closed_at__gte=period.start,
                                                       closed_at__lt=period.end).count(),
        "kpis": business_kpis(period),
        "drift": drift_summary(),
        "machines": Machine.objects.exclude(status=Machine.Status.RETIRED).count(),
    }


def insights_overview(period: Period) -> dict[str, Any]:
    """Every section at once, JSON-ready (the API's answer)."""
    return {
        "period": {"start": period.start, "end": period.end, "days": period.days},
        "model_performance": model_performance(period),
        "predictions": prediction_analytics(period),
        "business": business_kpis(period).as_dict(),
        "data_quality": data_quality(),
        "formulas": [{"name": name, "formula": text} for name, text in FORMULAS],
    }


def summary_weekly_email(*, user_id: int) -> bool:
    """Whether the member gets the weekly summary by email: yes until they turn it off."""
    preference = SummaryPreference.objects.filter(user_id=user_id).first()
    return preference.weekly_email if preference is not None else True
