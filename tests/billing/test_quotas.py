"""Plan quotas: machines per plan and predictions per period on plans without overage, with clear
402s, all-or-nothing bulk creation, and exact counts under real concurrency (threads on their own
database connections, committed data)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pytest
from django.db import connections, transaction
from django_tenants.utils import tenant_context

from billing.models import Plan, Subscription, UsageCounter
from billing.quotas import prediction_quota_check, prediction_quota_reserve
from billing.services import usage_predictions, usage_record_predictions, usage_reserve_predictions
from machines.ingest.fleet import MachineResolver
from machines.models import Machine, MachineType
from machines.services import (
    machine_create,
    machine_delete,
    machine_type_adopt,
    machine_update,
    machines_create_named,
    machines_import_file,
)
from pdm_saas.errors import PaymentRequired
from tenants.db import connection
from tests.billing.conftest import usage_set
from tests.conftest import TRAINED_TYPE

# Rerun under a shifted clock (faketime) by `make test`: see scripts/shifted_clock_tests.sh.
pytestmark = pytest.mark.clock

MOTOR = "induction-motor-siemens-1la7"
PUMP = "centrifugal-pump"
# A period no other test counts in: the threaded tests commit their counts there.
PAST = datetime(2001, 1, 15, tzinfo=UTC)


@pytest.fixture
def quotas(settings: Any) -> None:
    settings.BILLING_QUOTAS_ENABLED = True  # the test env turns them off for the shared world


def _on_plan(tenant_id: int, code: str) -> Plan:
    plan = Plan.objects.get(code=code)
    Subscription.objects.filter(tenant_id=tenant_id).update(plan=plan)
    return plan


def _motor_type() -> MachineType:
    return MachineType.objects.filter(key=MOTOR).first() or machine_type_adopt(key=MOTOR)


# --- machines -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_machine_past_the_trial_limit_is_refused_clearly(quotas, in_acme):
    motor = _motor_type()
    for n in range(3):
        machine_create(machine_type_id=motor.id, name=f"Q-{n}")
    with pytest.raises(PaymentRequired) as refused:
        machine_create(machine_type_id=motor.id, name="Q-3")
    assert refused.value.message == (
        "Your Free trial plan includes 3 machines and you have 3. Upgrade at /billing/ to add more.")
    assert refused.value.status_code == 402 and refused.value.code == "payment_required"
    assert refused.value.details == {"limit": 3, "used": 3, "requested": 1, "upgrade_url": "/billing/"}
    assert Machine.objects.count() == 3


@pytest.mark.django_db
def test_retired_machines_do_not_count_until_they_return(quotas, in_acme):
    motor = _motor_type()
    machines = [machine_create(machine_type_id=motor.id, name=f"R-{n}") for n in range(3)]
    machine_update(machine_id=machines[0].id, status=Machine.Status.RETIRED)
    machine_create(machine_type_id=motor.id, name="R-3")  # the retired one freed its seat
    with pytest.raises(PaymentRequired):
        machine_update(machine_id=machines[0].id, status=Machine.Status.ACTIVE)
    machine_create(machine_type_id=motor.id, name="R-old", status=Machine.Status.RETIRED)  # never counts
    machine_delete(machine_id=machines[1].id)
    machine_update(machine_id=machines[0].id, status=Machine.Status.ACTIVE)


@pytest.mark.django_db
def test_bulk_creation_is_all_or_nothing_against_the_plan(quotas, in_acme):
    motor = _motor_type()
    machine_create(machine_type_id=motor.id, name="B-0")
    with pytest.raises(PaymentRequired) as refused:
        machines_create_named(machine_type_id=motor.id, names=["B-1", "B-2", "B-3"])
    assert "Adding 3 would make 4" in refused.value.message
    assert refused.value.details["requested"] == 3
    csv = f"name,machine_type\nC-1,{MOTOR}\nC-2,{MOTOR}\nC-3,{MOTOR}\n".encode()
    with pytest.raises(PaymentRequired):
        machines_import_file(data=csv)
    assert list(Machine.objects.values_list("name", flat=True)) == ["B-0"]
    assert len(machines_create_named(machine_type_id=motor.id, names=["B-1", "B-2"])) == 2


@pytest.mark.django_db
def test_paid_and_unlimited_plans_and_the_off_switch(quotas, settings, world, in_acme):
    motor = _motor_type()
    _on_plan(world.acme.id, "enterprise")
    assert len(machines_create_named(machine_type_id=motor.id, names=[f"E-{n}" for n in range(12)])) == 12
    _on_plan(world.acme.id, "starter")  # 10 machines: 12 exist already
    with pytest.raises(PaymentRequired) as refused:
        machine_create(machine_type_id=motor.id, name="S-1")
    assert refused.value.message.startswith("Your Starter plan includes 10 machines and you have 12.")
    settings.BILLING_QUOTAS_ENABLED = False
    machine_create(machine_type_id=motor.id, name="S-1")


@pytest.mark.django_db
def test_an_upload_rejects_the_rows_of_machines_over_the_limit(quotas, in_acme):
    motor = _motor_type()
    resolver = MachineResolver(machine_type=motor, create_unknown=True)
    ids, rejections = resolver.resolve_column(pa.array(["U-1", "U-2", "U-3", "U-4", "U-1"]))
    assert resolver.created == ["U-1", "U-2", "U-3"]
    assert ids.null_count == 1 and "Free trial plan includes 3 machines" in resolver.refused["U-4"]


@pytest.mark.django_db
def test_the_api_answers_402_in_the_error_shape(quotas, client_for, world):
    with tenant_context(world.acme):
        _motor_type()
        for n in range(3):
            machine_create(machine_type_id=MachineType.objects.get(key=MOTOR).id, name=f"A-{n}")
    response = client_for("engineer").post("/api/v1/machines/", {"name": "A-3", "machine_type": MOTOR},
                                           content_type="application/json")
    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "payment_required" and "Upgrade at /billing/" in error["message"]
    assert error["details"] == {"limit": 3, "used": 3, "requested": 1, "upgrade_url": "/billing/"}


# --- predictions ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_conditional_reservation_is_exact_at_the_boundary(world):
    tenant = world.globex.id
    assert usage_reserve_predictions(tenant_id=tenant, count=11, limit=10, at=PAST) is None  # insert case
    assert not UsageCounter.objects.filter(tenant_id=tenant, period_start=PAST.date().replace(day=1)).exists()
    assert usage_reserve_predictions(tenant_id=tenant, count=8, limit=10, at=PAST) == 8
    assert usage_reserve_predictions(tenant_id=tenant, count=3, limit=10, at=PAST) is None  # update case
    assert usage_reserve_predictions(tenant_id=tenant, count=2, limit=10, at=PAST) == 10
    assert usage_reserve_predictions(tenant_id=tenant, count=1, limit=10, at=PAST) is None
    assert usage_record_predictions(tenant_id=tenant, count=5, at=PAST) == 15  # unconditional
    assert usage_predictions(tenant_id=tenant, at=PAST) == 15


@pytest.mark.django_db
def test_a_trial_is_refused_whole_past_its_included_predictions(quotas, world):
    tenant = world.acme.id
    usage_set(tenant, 995)
    assert prediction_quota_reserve(tenant_id=tenant, count=5) == 1000
    with pytest.raises(PaymentRequired) as refused:
        prediction_quota_reserve(tenant_id=tenant, count=1)
    assert refused.value.details == {"limit": 1000, "used": 1000, "requested": 1, "upgrade_url": "/billing/"}
    assert refused.value.message.startswith("Your Free trial plan includes 1,000 predictions a month and 1,000 "
                                            "are used; this needs 1 more. Upgrade at /billing/")
    with pytest.raises(PaymentRequired):
        prediction_quota_check(tenant_id=tenant)
    assert usage_predictions(tenant_id=tenant) == 1000


@pytest.mark.django_db
def test_a_refusal_after_reserving_rolls_the_count_back(quotas, world):
    tenant = world.acme.id
    usage_set(tenant, 10)
    with pytest.raises(RuntimeError), transaction.atomic():
        prediction_quota_reserve(tenant_id=tenant, count=7)
        raise RuntimeError("the insert of the predictions failed")
    assert usage_predictions(tenant_id=tenant) == 10


@pytest.mark.django_db
def test_overage_and_unlimited_plans_are_never_refused(quotas, world):
    tenant = world.acme.id
    _on_plan(tenant, "starter")  # 10,000 included, overage billed
    usage_set(tenant, 10_000)
    assert prediction_quota_reserve(tenant_id=tenant, count=50) == 10_050
    _on_plan(tenant, "enterprise")  # unlimited, no overage
    assert prediction_quota_reserve(tenant_id=tenant, count=10**6) == 1_010_050


def _scored(machine: str) -> dict[str, Any]:
    return {"machine": machine, "window_end": datetime.now(UTC), "horizon_h": 24.0, "probability": 0.1,
            "prediction": False, "failure_mode": "", "rul_h": 100.0, "rul_lower_h": 80.0, "rul_upper_h": 120.0,
            "anomaly_score": 0.1, "health_score": 90.0, "confidence": 0.9,
            "state": "healthy", "risk": 0.1, "threshold": 0.5, "rul_beyond_h": None, "learning": None}


@pytest.fixture
def scored_machines(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The machines each call of the real `score_frame` scored: it runs unchanged, the list only
    shows whether scoring happened (the quota must refuse before that work, not after)."""
    from predictions.services import scoring

    real = scoring.score_frame
    seen: list[str] = []

    def observed(*args: Any, **kwargs: Any) -> list[dict[str, Any]]:
        scored = real(*args, **kwargs)
        seen.extend(item["machine"] for item in scored)
        return scored

    monkeypatch.setattr(scoring, "score_frame", observed)
    return seen


@pytest.mark.django_db
def test_storing_predictions_past_the_limit_stores_none_of_them(quotas, trained_motor, world, in_acme):
    from predictions.models import Prediction
    from predictions.services.registry import model_set_for
    from predictions.services.scoring import _store

    models = model_set_for(machine_type=MachineType.objects.get(id=trained_motor.machine_type_id))
    assert models is not None
    batch = Prediction.objects.filter(machine_id=trained_motor.machine_id, source=Prediction.Source.BATCH)
    before = batch.count()
    usage_set(world.acme.id, 999)
    with pytest.raises(PaymentRequired):
        _store([_scored("ABB-101"), _scored("ABB-101")], models, source=Prediction.Source.BATCH)
    assert batch.count() == before and usage_predictions(tenant_id=world.acme.id) == 999
    (stored,) = _store([_scored("ABB-101")], models, source=Prediction.Source.BATCH)
    assert stored.model_version_id == models.versions["failure_classifier"]
    assert batch.count() == before + 1 and usage_predictions(tenant_id=world.acme.id) == 1000


@pytest.mark.django_db
def test_scheduled_scoring_at_the_limit_skips_and_keeps_going(quotas, trained_motor, world, in_acme, caplog,
                                                              scored_machines):
    from predictions.models import Prediction
    from predictions.services.scoring import fleet_score

    scheduled = Prediction.objects.filter(machine_id=trained_motor.machine_id, source=Prediction.Source.SCHEDULED)
    before = scheduled.count()
    usage_set(world.acme.id, 1000)
    with caplog.at_level(logging.WARNING, logger="predictions.services.scoring"):
        assert fleet_score() == []  # refused inside, not raised: the run goes on
    assert scored_machines == [] and scheduled.count() == before
    assert f"Scoring of {TRAINED_TYPE} skipped in {world.acme.schema_name}" in caplog.text
    assert "1,000 predictions" in caplog.text
    usage_set(world.acme.id, 0)  # room again: the same run scores ABB-101
    stored = fleet_score()
    assert "ABB-101" in scored_machines and scheduled.count() == before + 1
    assert usage_predictions(tenant_id=world.acme.id) == len(stored) >= 1


@pytest.mark.django_db
def test_the_api_refuses_a_prediction_before_scoring(quotas, trained_motor, client_for, world, scored_machines):
    from predictions.models import Prediction

    def stored() -> int:
        with tenant_context(world.acme):
            return Prediction.objects.filter(machine_id=trained_motor.machine_id).count()

    before = stored()
    engineer = client_for("engineer")
    usage_set(world.acme.id, 1000)
    response = engineer.post("/api/v1/predictions/", {"machine": "ABB-101"}, content_type="application/json")
    assert response.status_code == 402
    assert response.json()["error"]["details"] == {"limit": 1000, "used": 1000, "requested": 1,
                                                   "upgrade_url": "/billing/"}
    assert scored_machines == [] and stored() == before
    usage_set(world.acme.id, 999)
    response = engineer.post("/api/v1/predictions/", {"machine": "ABB-101"}, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["machine"] == "ABB-101" and scored_machines == ["ABB-101"]
    assert stored() == before + 1 and usage_predictions(tenant_id=world.acme.id) == 1000


# --- under real concurrency -------------------------------------------------------------------------


@pytest.fixture
def committed(world: Any, django_db_blocker: Any) -> Iterator[None]:
    """Autocommit access: each thread opens its own connection and sees committed rows only."""
    with django_db_blocker.unblock():
        yield


def _threads(count: int, target: Any) -> list[Any]:
    results: list[Any] = [None] * count
    start = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            start.wait()
            results[index] = target(index)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[index] = exc
        finally:
            connections.close_all()  # this thread's own connection

    workers = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    return results


def test_concurrent_reservations_never_pass_the_limit_nor_lose_a_count(committed, world):
    tenant, limit, start = world.globex.id, 400, 250
    period = PAST.date().replace(day=1)
    UsageCounter.objects.filter(tenant_id=tenant, period_start=period).delete()
    usage_record_predictions(tenant_id=tenant, count=start, at=PAST)

    def reserve_until_refused(index: int) -> list[int]:
        granted: list[int] = []
        sizes = [1 + (index + n) % 5 for n in range(1000)]  # mixed sizes, like batches
        refusals = 0
        for size in sizes:
            with transaction.atomic():  # like _store: the counter row stays locked until commit
                total = usage_reserve_predictions(tenant_id=tenant, count=size, limit=limit, at=PAST)
                time.sleep(0.0005)
            if total is None:
                refusals += 1
                if refusals == 3:
                    break
            else:
                granted.append(size)
        return granted

    try:
        results = _threads(16, reserve_until_refused)
        assert not [r for r in results if isinstance(r, BaseException)], results
        granted = sum(sum(r) for r in results)
        final = usage_predictions(tenant_id=tenant, at=PAST)
        assert final == start + granted  # no lost count
        assert limit - 5 < final <= limit  # never past the limit; refused only when a size did not fit
    finally:
        UsageCounter.objects.filter(tenant_id=tenant, period_start=period).delete()


def test_two_creations_at_the_machine_boundary_cannot_both_pass(committed, world, settings):
    settings.BILLING_QUOTAS_ENABLED = True
    with tenant_context(world.globex):
        pump = MachineType.objects.filter(key=PUMP).first() or machine_type_adopt(key=PUMP)
        for n in range(2):
            machine_create(machine_type_id=pump.id, name=f"Race-{n}")

    def create(index: int) -> str:
        with tenant_context(world.globex), transaction.atomic():
            machine_create(machine_type_id=pump.id, name=f"Race-x{index}")
            time.sleep(0.3)  # keep the transaction open: without the lock both would count 2
        return "created"

    try:
        results = _threads(2, create)
        assert sorted(type(r).__name__ for r in results) == ["PaymentRequired", "str"], results
        with tenant_context(world.globex):
            assert Machine.objects.filter(machine_type=pump).count() == 3
    finally:
        with tenant_context(world.globex):
            for machine in Machine.objects.filter(machine_type=pump):
                machine_delete(machine_id=machine.id)
            pump.delete()
        connection.set_schema_to_public()
