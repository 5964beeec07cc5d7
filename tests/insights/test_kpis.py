"""Each KPI formula on hand-made rows, with the exact numbers expected (docs/insights.md).

The rows are made in globex: acme may hold the committed, session-wide trained models and their
predictions, which would change the counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.models import Subscription
from insights import selectors
from machines.models import FailureEvent, Machine, MachineType, Upload
from machines.services import machine_create, machine_type_adopt
from maintenance.models import Alert, WorkOrder
from predictions.models import DriftReport, ModelVersion, OutcomeSnapshot, Prediction
from tests.conftest import MOTOR

# Rerun under a shifted clock (faketime) by `make test`: see scripts/shifted_clock_tests.sh.
pytestmark = pytest.mark.clock

NOW = timezone.now()


@pytest.fixture
def fleet(db: None, world: Any) -> Iterator[dict[str, Any]]:
    """Globex with a motor type of known costs and three machines."""
    with tenant_context(world.globex):
        machine_type = machine_type_adopt(key=MOTOR)
        document = machine_type.metadata
        mode = document["failure_modes"][0]
        mode.update(repair_cost=1000, downtime_hours=10)
        document["costs"].update(downtime_per_hour=100, unplanned_failure_multiplier=3, planned_maintenance=300)
        MachineType.objects.filter(id=machine_type.id).update(metadata=document)
        m1 = machine_create(machine_type_id=machine_type.id, name="M1", downtime_cost_per_hour=Decimal(200))
        m2 = machine_create(machine_type_id=machine_type.id, name="M2")
        m3 = machine_create(machine_type_id=machine_type.id, name="M3")
        Machine.objects.filter(id__in=[m2.id, m3.id]).update(downtime_cost_per_hour=None)
        Subscription.objects.filter(tenant=world.globex).select_related("plan").get().plan.__class__.objects.filter(
            subscriptions__tenant=world.globex).update(monthly_price_cents=30000)
        yield {"type": MachineType.objects.get(id=machine_type.id), "mode": mode["name"], "m1": m1, "m2": m2,
               "m3": m3}


def _alert(machine: Machine, mode: str, opened_at: datetime, status: str = Alert.Status.RESOLVED) -> Alert:
    alert = Alert.objects.create(machine=machine, failure_mode=mode, severity="critical", probability=0.9,
                                 title="risk", status=status)
    Alert.objects.filter(id=alert.id).update(opened_at=opened_at)
    return alert


def _order(machine: Machine, *, closed_at: datetime, alert: Alert | None = None, failure_found: bool = True,
           cost: str | None = None, downtime: str | None = None, mode: str = "",
           status: str = WorkOrder.Status.DONE) -> WorkOrder:
    return WorkOrder.objects.create(
        machine=machine, alert=alert, title="wo", status=status, failure_found=failure_found,
        failure_mode_found=mode, actual_cost=Decimal(cost) if cost else None,
        actual_downtime_hours=Decimal(downtime) if downtime else None, closed_at=closed_at)


def test_business_kpis_exact(fleet: dict[str, Any], world: Any) -> None:
    with tenant_context(world.globex):
        m1, m2, m3, mode = fleet["m1"], fleet["m2"], fleet["m3"], fleet["mode"]
        alert = _alert(m1, mode, NOW - timedelta(days=5))
        caught = _order(m1, alert=alert, closed_at=NOW - timedelta(days=2), cost="1500", downtime="4", mode=mode)
        FailureEvent.objects.create(machine=m1, occurred_at=NOW - timedelta(days=2), failure_mode=mode,
                                    source=FailureEvent.Source.WORK_ORDER, work_order=caught)
        # Caught too, without the mode found or costs recorded: the alert's mode, nothing actual.
        _order(m1, alert=_alert(m1, mode, NOW - timedelta(days=9)), closed_at=NOW - timedelta(days=8))
        _order(m2, closed_at=NOW - timedelta(days=3), cost="500")  # failure found, no alert: not caught
        _order(m1, alert=alert, failure_found=False, closed_at=NOW - timedelta(days=1), cost="200")  # fine
        _order(m1, alert=alert, closed_at=NOW - timedelta(days=40), cost="9999", mode=mode)  # before the period
        _order(m1, alert=alert, closed_at=NOW - timedelta(days=1), cost="777", mode=mode,
               status=WorkOrder.Status.CANCELLED)  # not done
        # Failures: one unplanned (M3, nothing before it), one after an alert (M1), one after a
        # work order on M2 within 14 days, one on M3 with an alert 20 days before it (unplanned).
        FailureEvent.objects.create(machine=m3, occurred_at=NOW - timedelta(days=3), failure_mode=mode)
        FailureEvent.objects.create(machine=m1, occurred_at=NOW - timedelta(days=4))
        before = _order(m2, closed_at=NOW - timedelta(days=60), failure_found=False)
        WorkOrder.objects.filter(id=before.id).update(created_at=NOW - timedelta(days=25))
        FailureEvent.objects.create(machine=m2, occurred_at=NOW - timedelta(days=20))
        _alert(m3, mode, NOW - timedelta(days=30))
        FailureEvent.objects.create(machine=m3, occurred_at=NOW - timedelta(days=10))
        FailureEvent.objects.create(machine=m3, occurred_at=NOW - timedelta(days=45))  # before the period

        kpis = selectors.business_kpis(selectors.period_of(30, now=NOW))

    assert kpis.caught == 2
    second, first = kpis.caught_failures  # oldest first: the one closed 8 days ago
    # Second (closed 8 days ago): 10 h x 3 = 30 h prevented; (1000 + 10 x 200) x 3 = 9000 avoided.
    assert (second.unplanned_downtime_h, second.downtime_prevented_h) == (Decimal("30.00"), Decimal("30.00"))
    assert (second.unplanned_cost, second.cost_avoided) == (Decimal("9000.00"), Decimal("9000.00"))
    # First: 30 - 4 = 26 h; 9000 - 1500 = 7500.
    assert (first.downtime_prevented_h, first.cost_avoided) == (Decimal("26.00"), Decimal("7500.00"))
    assert kpis.downtime_prevented_h == Decimal("56.00")
    assert kpis.cost_avoided == Decimal("16500.00")
    assert kpis.maintenance_cost == Decimal("2200.00")  # 1500 + 500 + 200 (done, in the period)
    assert kpis.subscription_cost == Decimal("300.00")  # 300.00 a month x 30 / 30
    assert kpis.roi == Decimal("6.60")  # 16500 / (300 + 2200)
    assert kpis.unplanned == 2  # M3 3 days ago; M3 10 days ago (its alert was 20 days before)
    assert [f["machine"] for f in kpis.unplanned_failures] == ["M3", "M3"]
    assert kpis.as_dict()["roi"] == "6.60"


def test_type_cost_per_hour_and_costliest_mode_when_unknown(fleet: dict[str, Any], world: Any) -> None:
    with tenant_context(world.globex):
        document = fleet["type"].metadata
        costliest = max(document["failure_modes"],
                        key=lambda m: float(m["repair_cost"]) + float(m["downtime_hours"]))
        alert = _alert(fleet["m2"], "", NOW - timedelta(days=2))
        _order(fleet["m2"], alert=alert, closed_at=NOW - timedelta(days=1), cost="100", downtime="2")
        kpis = selectors.business_kpis(selectors.period_of(7, now=NOW))
    repair, hours = Decimal(str(costliest["repair_cost"])), Decimal(str(costliest["downtime_hours"]))
    (row,) = kpis.caught_failures
    assert row.failure_mode == costliest["name"]
    assert row.cost_avoided == ((repair + hours * 100) * 3 - 100).quantize(Decimal("0.01"))  # the type's 100/h
    assert row.downtime_prevented_h == (hours * 3 - 2).quantize(Decimal("0.01"))
    assert kpis.subscription_cost == Decimal("70.00")  # 300 x 7 / 30
    assert kpis.maintenance_cost == Decimal("100.00")


def test_roi_is_none_without_spending(fleet: dict[str, Any], world: Any) -> None:
    with tenant_context(world.globex):
        Subscription.objects.filter(tenant=world.globex).get().plan.__class__.objects.filter(
            subscriptions__tenant=world.globex).update(monthly_price_cents=0)
        kpis = selectors.business_kpis(selectors.period_of(30, now=NOW))
    assert (kpis.caught, kpis.cost_avoided, kpis.roi) == (0, Decimal(0), None)


def _version(machine_type: MachineType, status: str = ModelVersion.Status.CHAMPION,
             kind: str = ModelVersion.Kind.FAILURE_CLASSIFIER) -> ModelVersion:
    return ModelVersion.objects.create(machine_type=machine_type, kind=kind,
                                       number=1, status=status, data_source="simulated", data_fingerprint="f",
                                       artifact_path="x", artifact_sha256="0" * 64)


def _snapshot(version: ModelVersion, at: datetime, **counts: Any) -> OutcomeSnapshot:
    snapshot = OutcomeSnapshot.objects.create(version=version, window_start=at - timedelta(days=28), window_end=at,
                                              **counts)
    OutcomeSnapshot.objects.filter(id=snapshot.id).update(created_at=at)
    return snapshot


def test_prediction_analytics_exact(fleet: dict[str, Any], world: Any) -> None:
    with tenant_context(world.globex):
        m1 = fleet["m1"]
        for confidence, failure in [(0.05, False), (0.15, False), (0.95, True), (0.99, True), (1.0, False)]:
            Prediction.objects.create(machine=m1, versions={}, source="scheduled", window_end=NOW, horizon_h=24,
                                      probability=0.5, predicted_failure=failure, health_score=50,
                                      confidence=confidence)
        old = Prediction.objects.create(machine=m1, versions={}, source="scheduled", window_end=NOW, horizon_h=24,
                                        probability=0.9, predicted_failure=True, health_score=5, confidence=0.5)
        Prediction.objects.filter(id=old.id).update(created_at=NOW - timedelta(days=40))
        version = _version(fleet["type"])
        _snapshot(version, NOW - timedelta(days=10), tp=1, fp=5, tn=1, fn=0, precision=0.17, recall=1.0, fpr=0.8)
        _snapshot(version, NOW - timedelta(days=1), tp=3, fp=2, tn=10, fn=1, pending=4, precision=0.6, recall=0.75,
                  fpr=0.1667)
        DriftReport.objects.create(version=version, window_start=NOW, window_end=NOW, threshold=0.1,
                                   status=DriftReport.Status.DRIFTED, drift_share=0.4)
        period = selectors.period_of(30)  # up to now: the predictions were created after NOW
        analytics = selectors.prediction_analytics(period)
        performance = selectors.model_performance(period)
        drift = selectors.drift_summary()
    assert analytics["predictions"] == 5
    assert analytics["predicted_failures"] == 2
    assert analytics["failure_rate"] == 0.4
    assert [b["count"] for b in analytics["confidence_histogram"]] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    assert analytics["outcomes"] == {"tp": 3, "fp": 2, "tn": 10, "fn": 1, "pending": 4}  # the latest snapshot
    (model,) = performance
    assert [s["precision"] for s in model["series"]] == [0.17, 0.6]
    assert model["drift"]["status"] == "drifted"
    assert drift == {"drifted": 1}


def test_data_quality(fleet: dict[str, Any], world: Any) -> None:
    with tenant_context(world.globex):
        report = {"sensors": {"temp": {"missing_pct": 2.5, "stuck": True}, "vib": {"missing_pct": 0.0, "stuck": False}}}
        Upload.objects.create(original_name="a.csv", stored_path="x", size_bytes=1, sha256="0" * 64,
                              machine_type=fleet["type"], mapping={}, status=Upload.Status.SUCCEEDED,
                              rows_read=200, rows_rejected=10, report=report)
        Upload.objects.create(original_name="failed.csv", stored_path="x", size_bytes=1, sha256="1" * 64,
                              machine_type=fleet["type"], mapping={}, status=Upload.Status.FAILED)
        version = _version(fleet["type"], status=ModelVersion.Status.ARCHIVED)
        for recent in (0.1, 0.3):
            DriftReport.objects.create(version=version, window_start=NOW, window_end=NOW, threshold=0.1,
                                       status=DriftReport.Status.OK,
                                       data_quality=[{"signal": "temp", "reference": 0, "recent": recent},
                                                     {"signal": "vib", "reference": 0, "recent": 0.0}])
        # Another kind's check of the same readings: not a second point of the trend.
        DriftReport.objects.create(version=_version(fleet["type"], kind=ModelVersion.Kind.RUL_REGRESSOR),
                                   window_start=NOW, window_end=NOW, threshold=0.1, status=DriftReport.Status.OK,
                                   data_quality=[{"signal": "temp", "reference": 0, "recent": 0.9}])
        quality = selectors.data_quality()
    (upload,) = quality["uploads"]
    assert upload["rejected_share"] == 0.05
    assert upload["missing"] == [{"signal": "temp", "missing_pct": 2.5}, {"signal": "vib", "missing_pct": 0.0}]
    assert upload["stuck"] == ["temp"]
    assert [d["mean_missing"] for d in quality["drift_trend"]] == [0.05, 0.15]  # oldest first
    assert quality["drift_trend"][1]["worst_signal"] == "temp"
