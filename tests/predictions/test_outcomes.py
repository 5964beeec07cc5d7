"""Outcome feedback: hand-made predictions joined with failure events and closed work orders give
exactly the expected confusion counts and RUL error; snapshots over the API and roles."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone
from django_tenants.utils import tenant_context

from machines.models import FailureEvent, Machine
from machines.services import machine_create
from maintenance.models import WorkOrder
from predictions.models import ModelVersion, OutcomeSnapshot, Prediction
from predictions.services.outcomes import outcome_snapshot_take, version_outcomes

HORIZON_H = 24.0


@dataclass
class Scene:
    version: ModelVersion
    now: datetime


def _version(machine: Machine, number: int) -> ModelVersion:
    return ModelVersion.objects.create(
        machine_type_id=machine.machine_type_id, kind="failure_classifier", number=number, status="candidate",
        data_source="simulated", data_fingerprint="0" * 64, artifact_path=f"models/x/clf-{number}.zip",
        artifact_sha256="a" * 64)


def _predict(version: ModelVersion, machine: Machine, at: datetime, said: bool, rul_h: float | None = None) -> None:
    Prediction.objects.create(
        machine=machine, model_version=version, versions={"failure_classifier": version.id}, source="api",
        window_end=at, horizon_h=HORIZON_H, probability=0.9 if said else 0.1, predicted_failure=said, rul_h=rul_h,
        health_score=50.0, confidence=0.5)


@pytest.fixture
def scene(db, world, motor) -> Scene:
    """Motor-001 fails at F = now - 100 h and is inspected clean at now - 5 h; Motor-002 never fails.

    | prediction | t | says | what follows within 24 h | outcome | RUL error |
    | 1 | F - 10 h | failure, RUL 12 | the failure | TP | 2 |
    | 2 | F - 20 h | fine, RUL 30 | the failure | FN | 10 |
    | 3 | F - 50 h | failure, RUL 40 | nothing (failure 50 h later) | FP | 10 |
    | 4 | F - 60 h | fine | nothing | TN | |
    | 5 | now - 3 h | failure | horizon still open | pending | |
    | 6 | now - 30 h | fine | nothing | TN | |
    | 7 | now - 8 h | failure | a clean work order at now - 5 h | FP | |
    | 8 (Motor-002) | F - 10 h | failure | nothing: Motor-001's failure is not its own | FP | |
    | another version's prediction | F - 10 h | failure | the failure | not counted | |
    """
    now = timezone.now()
    failure = now - timedelta(hours=100)
    with tenant_context(world.acme):
        other = machine_create(machine_type_id=motor.machine_type_id, name="Motor-002")
        version, rival = _version(motor, 1), _version(motor, 2)
        FailureEvent.objects.create(machine=motor, occurred_at=failure, failure_mode="bearing")
        WorkOrder.objects.create(machine=motor, title="inspect", status="done", failure_found=False,
                                 closed_at=now - timedelta(hours=5))
        WorkOrder.objects.create(machine=motor, title="still open", status="open", failure_found=False,
                                 closed_at=now - timedelta(hours=7))  # not closed: does not count
        for at, said, rul in ((failure - timedelta(hours=10), True, 12.0), (failure - timedelta(hours=20), False, 30.0),
                              (failure - timedelta(hours=50), True, 40.0), (failure - timedelta(hours=60), False, None),
                              (now - timedelta(hours=3), True, None), (now - timedelta(hours=30), False, None),
                              (now - timedelta(hours=8), True, None)):
            _predict(version, motor, at, said, rul)
        _predict(version, other, failure - timedelta(hours=10), True)
        _predict(rival, motor, failure - timedelta(hours=10), True, 5.0)
    return Scene(version, now)


def test_outcomes_are_exactly_the_expected_counts(scene, world):
    with tenant_context(world.acme):
        found = version_outcomes(version_id=scene.version.id, start=scene.now - timedelta(days=1),
                                 now=scene.now + timedelta(seconds=1))
    assert (found.tp, found.fp, found.tn, found.fn, found.pending) == (1, 3, 2, 1, 1)
    assert found.precision == 0.25 and found.recall == 0.5 and found.fpr == 0.6
    assert found.rul_mae_h == pytest.approx((2 + 10 + 10) / 3, abs=1e-3) and found.rul_count == 3


def test_a_pending_prediction_resolves_once_its_horizon_passes(scene, world):
    later = scene.now + timedelta(hours=HORIZON_H)
    with tenant_context(world.acme):
        found = version_outcomes(version_id=scene.version.id, start=scene.now - timedelta(days=1), now=later)
    assert (found.tp, found.fp, found.tn, found.fn, found.pending) == (1, 4, 2, 1, 0)


def test_a_work_order_closed_with_the_failure_found_counts_as_a_failure(scene, world, motor):
    from maintenance.services.work_orders import work_order_close

    with tenant_context(world.acme):
        order = WorkOrder.objects.create(machine=motor, title="bearing", status="in_progress")
        work_order_close(order_id=order.id, actor_id=None, failure_found=True, action_taken="replaced",
                         occurred_at=scene.now - timedelta(hours=1))
        assert FailureEvent.objects.filter(work_order=order, source="work_order").exists()
        found = version_outcomes(version_id=scene.version.id, start=scene.now - timedelta(days=1),
                                 now=scene.now + timedelta(seconds=1))
    # Prediction 5 (now - 3 h, says failure) now has its failure 2 h later.
    assert (found.tp, found.pending) == (2, 0)


def test_snapshots_over_the_api(scene, world, client_for):
    with tenant_context(world.acme):
        snapshot = outcome_snapshot_take(version=scene.version, days=1, now=scene.now + timedelta(seconds=1))
        assert OutcomeSnapshot.objects.filter(version=scene.version).count() == 1
    assert (snapshot.tp, snapshot.fp, snapshot.tn, snapshot.fn) == (1, 3, 2, 1)
    url = f"/api/v1/models/{scene.version.id}/outcomes/"
    body = client_for("viewer").get(url).json()
    assert body[0]["precision"] == 0.25 and body[0]["recall"] == 0.5 and body[0]["fpr"] == 0.6
    assert client_for("globex_owner", tenant=world.globex).get(url).status_code == 404
    assert client_for("outsider").get(url).status_code == 404
    assert client_for(None).get(url).status_code == 401
    page = client_for("viewer").get(f"/models/{scene.version.id}/").content.decode()
    assert "Live outcomes" in page and "0.250" in page and "1 / 3 / 1" in page


PINNED = datetime(2028, 2, 29, 12, 0, tzinfo=UTC)  # when the predictions are made (a leap day)


def _cycle(cycle: float, *, model_step: bool) -> datetime:
    """A cycle as a prediction stores it (one model hour per cycle) or as readings and failures are
    stored (one second per cycle: docs/ingest.md)."""
    return datetime.fromtimestamp(cycle * (3600 if model_step else 1), UTC)


def test_cycle_predictions_are_resolved_on_their_machine_s_cycles(db, world, motor):
    """Engine-1 fails at cycle 200 and was scored up to cycle 190; Engine-2 was scored to cycle 60.

    | prediction | cycle | horizon 30, says | what follows | outcome | RUL error |
    | Engine-1 | 180 | failure, RUL 25 | the failure at 200 | TP | 5 |
    | Engine-1 | 100 | failure | nothing up to 130, scored past it | FP | |
    | Engine-1 | 190 | fine | the failure at 200 | FN | |
    | Engine-2 | 20 | fine | nothing up to 50, scored past it | TN | |
    | Engine-2 | 50, 60 | fine | nothing yet: scored only to 60 | pending | |

    Read against the clock instead, the failure at 1970 + 200 s comes before every prediction
    (1970 + cycles x 1 h) and every horizon is long past: no TP, no FN, nothing pending."""
    with tenant_context(world.acme), time_machine.travel(PINNED, tick=False):
        engines = [machine_create(machine_type_id=motor.machine_type_id, name=f"Engine-{n}") for n in (1, 2)]
        version = _version(motor, 1)
        FailureEvent.objects.create(machine=engines[0], occurred_at=_cycle(200, model_step=False))
        for engine, cycle, said, rul in ((0, 180, True, 25.0), (0, 100, True, None), (0, 190, False, None),
                                         (1, 20, False, None), (1, 50, False, None), (1, 60, False, None)):
            Prediction.objects.create(
                machine=engines[engine], model_version=version, versions={}, source="batch",
                window_end=_cycle(cycle, model_step=True), horizon_h=30.0, probability=0.9 if said else 0.1,
                predicted_failure=said, rul_h=rul, health_score=50.0, confidence=0.5)
        found = version_outcomes(version_id=version.id, start=PINNED - timedelta(days=1),
                                 now=PINNED + timedelta(seconds=1))
    assert (found.tp, found.fp, found.tn, found.fn, found.pending) == (1, 1, 1, 1, 2)
    assert found.rul_mae_h == pytest.approx(5.0) and found.rul_count == 1
