"""Champion / challenger on the trained ABB motor: a drifted stream the test generates sets off a
retrain, the challenger shadows fleet scoring and on-demand predictions silently, outcomes the
test records (failure events, closed work orders) promote or reject it by the rule, and a forced
degradation rolls the champion back; every step an event, on the API and the model page."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from billing.services import usage_predictions
from engine.bundles import ANOMALY, FAILURE, RUL, bundle_load
from jobs.models import Job
from machines.failures import failure_event_create
from machines.live import readings_push
from machines.models import FailureEvent, Machine
from machines.services import machine_create
from maintenance.services.work_orders import work_order_close, work_order_create, work_order_transition
from predictions.models import ModelEvent, ModelVersion, OutcomeSnapshot, Prediction, ShadowPrediction
from predictions.services.challenger.deciding import challenger_decide, challenger_rule, f1_of
from predictions.services.challenger.monitor import challengers_monitor
from predictions.services.challenger.retraining import CHALLENGER_KIND, challenger_pending, challenger_request
from predictions.services.challenger.rollback import champion_health_check
from predictions.services.challenger.shadow import served_by_challenger
from predictions.services.drift import drift_check, drift_response
from predictions.services.outcomes import Outcomes, outcome_snapshot_take
from predictions.services.registry import artifact_read, model_version_promote, model_version_register
from predictions.services.scoring import fleet_score, machine_predict
from predictions.tasks import challenger_train_task
from tests.predictions.conftest import failing_run_readings
from tests.predictions.test_drift import WINDOW_DAYS, _champion, _push_stream

# --- the rule (pure) ----------------------------------------------------------------------------


def _o(tp: int, fp: int, tn: int, fn: int) -> Outcomes:
    return Outcomes(tp=tp, fp=fp, tn=tn, fn=fn, pending=0, rul_mae_h=None, rul_count=0)


def test_the_rule_promotes_rejects_and_waits_by_the_margin():
    rule = {"margin": 0.1, "min_outcomes": 5}
    assert f1_of(0, 0, 0) is None and f1_of(2, 1, 1) == pytest.approx(2 / 3, abs=1e-4)
    assert challenger_rule(_o(1, 1, 2, 1), _o(2, 0, 3, 0), **rule).decision == "promote"  # F1 0.5 -> 1.0
    assert challenger_rule(_o(2, 0, 3, 0), _o(1, 1, 2, 1), **rule).decision == "reject"
    assert challenger_rule(_o(2, 1, 3, 0), _o(2, 1, 3, 0), **rule).decision == "wait"  # equal
    assert challenger_rule(_o(2, 0, 3, 0), _o(2, 0, 2, 0), **rule).reason == "4 of 5 resolved outcomes"
    # Equal F1 within the margin, lower false-positive rate at the same recall: promote.
    assert challenger_rule(_o(10, 4, 16, 0), _o(10, 3, 37, 0), **rule).decision == "promote"
    # No failures at all (F1 undefined): the false-positive rate decides either way.
    assert challenger_rule(_o(0, 3, 7, 0), _o(0, 1, 9, 0), **rule).decision == "promote"
    assert challenger_rule(_o(0, 1, 9, 0), _o(0, 3, 7, 0), **rule).decision == "reject"


# --- the whole loop -----------------------------------------------------------------------------


def _drift_to_challenger(version: ModelVersion, *, push: bool = True) -> ModelVersion:
    """Drifted stream -> drifted report -> one challenger job -> the challenger, in shadow."""
    if push:
        _push_stream(version.machine_type, seed=12, scale=1.3)
    report = drift_check(version=version, days=WINDOW_DAYS)
    assert report.status == "drifted"
    jobs = Job.objects.filter(kind=CHALLENGER_KIND, params__machine_type_id=version.machine_type_id)
    assert jobs.count() == 1 and jobs.get().params["reason"] == "drift"
    assert ModelEvent.objects.get(version=version, action="drift_detected").details["retrain_job"] == jobs.get().id
    drift_response(drift_check(version=version, days=WINDOW_DAYS))  # another drifted report: still one job
    assert challenger_request(machine_type=version.machine_type, reason="manual") is None
    assert jobs.count() == 1
    challenger_train_task.run(jobs.get().id)
    challenger_train_task.run(jobs.get().id)  # a second delivery finds the job claimed
    job = jobs.get()
    assert job.status == Job.Status.SUCCEEDED, job.error
    challenger = challenger_pending(machine_type_id=version.machine_type_id)
    assert challenger is not None and challenger.id == job.result["challenger"]
    assert challenger.status == "candidate" and challenger.shadow_since is not None
    assert challenger.params["challenger"]["reason"] == "drift"
    assert challenger.params["challenger"]["champion_id"] == version.id
    # The stream has no failure events: the real-data path has nothing to learn from.
    assert challenger.dataset is not None and challenger.dataset.source == "simulated"
    assert ModelVersion.objects.get(id=job.result["rul"]).shadow_since is not None
    assert ModelEvent.objects.filter(version=challenger, action="challenger_created").count() == 1
    assert challenger_request(machine_type=version.machine_type, reason="drift") is None  # one pending at a time
    return challenger


def _outcomes(names: list[str]) -> tuple[list[int], list[int]]:
    """The first three machines fail half an hour after their scored window; the next three are
    inspected and found fine."""
    failing, fine = names[:3], names[3:6]
    machines = {m.name: m for m in Machine.objects.filter(name__in=names)}
    for name in failing:
        window_end = Prediction.objects.filter(machine=machines[name]).latest("created_at").window_end
        failure_event_create(machine=machines[name], occurred_at=window_end + timedelta(minutes=30))
    for name in fine:
        order = work_order_create(machine_id=machines[name].id, title="Inspect", actor_id=None)
        work_order_transition(order_id=order.id, to_status="in_progress", actor_id=None)
        work_order_close(order_id=order.id, actor_id=None, failure_found=False, action_taken="inspected: fine")
    return [machines[n].id for n in failing], [machines[n].id for n in fine]


def _say(rows: Any, failing: list[int]) -> None:
    """Hand-made predictions: failure for the given machines, none for the rest."""
    rows.update(predicted_failure=False)
    rows.filter(machine_id__in=failing).update(predicted_failure=True)


def test_drift_retrains_the_challenger_shadows_is_promoted_then_rolled_back(trained_motor, world, client_for):
    with tenant_context(world.acme):
        champion = _champion(trained_motor)
        champion_rul = ModelVersion.objects.get(machine_type_id=champion.machine_type_id, kind="rul_regressor",
                                                status="champion")
        _push_stream(champion.machine_type, seed=12, scale=1.3)
        before = {p.machine_id: p.probability for p in fleet_score(machine_type_id=champion.machine_type_id)}
        assert not ShadowPrediction.objects.exists()  # no challenger, no shadow
        challenger = _drift_to_challenger(champion, push=False)

        # Shadow: the champion's predictions as before, the challenger's beside them, not counted.
        usage = usage_predictions(tenant_id=world.acme.id)
        stored = fleet_score(machine_type_id=champion.machine_type_id)
        assert {p.model_version_id for p in stored} == {champion.id}
        assert {p.machine_id: p.probability for p in stored} == pytest.approx(before)
        shadows = ShadowPrediction.objects.filter(version=challenger)
        assert shadows.count() == len(stored) > 20
        assert usage_predictions(tenant_id=world.acme.id) == usage + len(stored)
        one = Machine.objects.get(name=sorted(m for m in Machine.objects.values_list("name", flat=True)
                                              if m.startswith("S12-"))[0])
        machine_predict(machine=one)
        assert shadows.filter(machine=one).count() == 2
        assert usage_predictions(tenant_id=world.acme.id) == usage + len(stored) + 1

        # Too few outcomes: the rule waits, and says so.
        assert challenger_decide(challenger_id=challenger.id)["decision"] == "wait"

        names = sorted({s.machine.name for s in shadows.select_related("machine")})
        failing, _fine = _outcomes(names)
        since = challenger.shadow_since
        _say(Prediction.objects.filter(model_version=champion, created_at__gte=since), [])  # misses every failure
        _say(shadows, failing)  # catches them
        decision = challenger_decide(challenger_id=challenger.id)
        assert decision["decision"] == "promote", decision
        assert decision["champion"]["fn"] >= 3 and decision["champion"]["tp"] == 0
        assert decision["challenger_id"] == challenger.id
        event = ModelEvent.objects.get(version=challenger, action="challenger_decision", note__startswith="promote")
        assert event.details["challenger"]["f1"] == 1.0 and event.details["champion"]["f1"] == 0.0
        challenger.refresh_from_db()
        champion.refresh_from_db()
        assert challenger.status == "champion" and champion.status == "archived"
        rul = ModelVersion.objects.get(id=challenger.params["challenger"]["rul_id"])
        assert rul.status == "champion"
        assert challenger_decide(challenger_id=challenger.id)["decision"] == "none"  # safe to run twice

        # The page, while the new champion holds.
        page = client_for("engineer").get(f"/models/{challenger.id}/").content.decode()
        assert "Champion and challenger" in page and "challenger_decision" in page and "promote: F1" in page

        # Forced degradation: the new champion is wrong everywhere; the monitor rolls it back.
        fleet_score(machine_type_id=champion.machine_type_id)
        new = Prediction.objects.filter(model_version=challenger)
        _say(new, _fine)  # alarms on the machines found fine, silent on the ones that failed
        snapshot = outcome_snapshot_take(version=challenger)
        assert snapshot.tp == 0 and snapshot.fp >= 3 and snapshot.fn >= 3
        done = challengers_monitor()
        assert done["rolled_back"] == [challenger.id]
        champion.refresh_from_db()
        challenger.refresh_from_db()
        champion_rul.refresh_from_db()
        assert champion.status == "champion" and challenger.status == "archived" and champion_rul.status == "champion"
        rollback = ModelEvent.objects.get(version=challenger, action="automatic_rollback")
        assert rollback.details["live_f1"] == 0.0 and rollback.details["held_out_f1"] == challenger.metrics["f1"]
        assert rollback.details["restored"] == champion.id
        assert ModelEvent.objects.filter(version=champion, action="rolled_back").exists()
        assert challengers_monitor()["rolled_back"] == []  # once per snapshot
        # The failures recorded since the newest classifier are new labels: a retrain is queued.
        assert len(done["retrains"]) == 1
        assert Job.objects.get(id=done["retrains"][0]).params["reason"] == "new labels"

    events = client_for("viewer").get(f"/api/v1/models/{challenger.id}/events/").json()
    actions = {e["action"] for e in events}
    assert {"challenger_created", "challenger_decision", "promoted", "automatic_rollback"} <= actions
    status = client_for("viewer").get(f"/api/v1/models/{challenger.id}/challenger/").json()
    assert status["challenger"]["status"] == "archived" and len(status["decisions"]) == 3


def test_a_worse_challenger_is_rejected_and_a_broken_one_never_breaks_scoring(trained_motor, world, client_for):
    with tenant_context(world.acme):
        champion = _champion(trained_motor)
        challenger = _drift_to_challenger(champion)

        # A challenger whose artifact no longer loads: the champion scores as ever, no shadows.
        sha = challenger.artifact_sha256
        ModelVersion.objects.filter(id=challenger.id).update(artifact_sha256="0" * 64)
        assert fleet_score(machine_type_id=champion.machine_type_id)
        assert not ShadowPrediction.objects.exists()
        ModelVersion.objects.filter(id=challenger.id).update(artifact_sha256=sha)
        stored = fleet_score(machine_type_id=champion.machine_type_id)
        shadows = ShadowPrediction.objects.filter(version=challenger)
        assert shadows.count() == len(stored)

    # The page while shadowing: the comparison and "Decide now" for engineers only.
    page = client_for("engineer").get(f"/models/{champion.id}/").content.decode()
    assert "Shadowing" in page and "Decide now" in page and "Retrain now" not in page
    viewer_page = client_for("viewer").get(f"/models/{champion.id}/").content.decode()
    assert "Shadowing" in viewer_page and "Decide now" not in viewer_page
    assert client_for("viewer").post(f"/models/{challenger.id}/decide/").status_code == 403
    assert client_for("globex_owner", tenant=world.globex).post(f"/models/{challenger.id}/decide/").status_code == 404
    assert client_for("globex_owner", tenant=world.globex).get(
        f"/api/v1/models/{challenger.id}/challenger/").status_code == 404
    status = client_for("viewer").get(f"/api/v1/models/{champion.id}/challenger/").json()
    assert status["challenger"]["id"] == challenger.id and status["comparison"]["champion_id"] == champion.id

    with tenant_context(world.acme):
        names = sorted({s.machine.name for s in shadows.select_related("machine")})
        failing, _fine = _outcomes(names)
        _say(Prediction.objects.filter(model_version=champion, created_at__gte=challenger.shadow_since), failing)
        _say(shadows, _fine)  # wrong both ways

    decided = client_for("engineer").post(f"/api/v1/models/{challenger.id}/decide/")
    assert decided.status_code == 200 and decided.json()["decision"] == "reject", decided.json()
    with tenant_context(world.acme):
        challenger.refresh_from_db()
        champion.refresh_from_db()
        assert challenger.status == "archived" and champion.status == "champion"
        assert ModelVersion.objects.get(id=challenger.params["challenger"]["rul_id"]).status == "archived"
        event = ModelEvent.objects.get(version=challenger, action="challenger_decision", note__startswith="reject")
        assert event.details["champion"]["f1"] == 1.0 and event.details["challenger"]["f1"] == 0.0
        assert challenger_pending(machine_type_id=champion.machine_type_id) is None
        fleet_score(machine_type_id=champion.machine_type_id)
        assert shadows.count() == len(stored)  # no challenger, no more shadows


def test_a_challenger_without_a_clear_win_is_rejected_after_the_longest_shadow(db, trained_motor, world, settings):
    with tenant_context(world.acme):
        champion = _champion(trained_motor)
        job = challenger_request(machine_type=champion.machine_type, reason="manual")
        assert job is not None
        challenger_train_task.run(job.id)
        challenger = challenger_pending(machine_type_id=champion.machine_type_id)
        assert challenger is not None and challenger.params["challenger"]["reason"] == "manual"
        assert challenger_decide(challenger_id=challenger.id)["decision"] == "wait"
        later = timezone.now() + timedelta(days=settings.CHALLENGER_MAX_SHADOW_DAYS + 1)
        decided = challenger_decide(challenger_id=challenger.id, now=later)
        assert decided["decision"] == "reject" and "no clear win" in decided["reason"]
        challenger.refresh_from_db()
        assert challenger.status == "archived"


def test_retrain_by_hand_for_writers_of_this_tenant_only(trained_motor, client_for, world):
    body = {"machine_type": "induction-motor-abb-m3bp"}
    assert client_for("viewer").post("/api/v1/models/retrain/", body,
                                      content_type="application/json").status_code == 403
    started = client_for("engineer").post("/api/v1/models/retrain/", body, content_type="application/json")
    assert started.status_code == 202 and started.json()["kind"] == CHALLENGER_KIND
    again = client_for("engineer").post("/api/v1/models/retrain/", body, content_type="application/json")
    assert again.status_code == 409 and "already being trained" in again.json()["error"]["message"]
    assert client_for("globex_owner", tenant=world.globex).post(
        "/api/v1/models/retrain/", body, content_type="application/json").status_code == 400  # not its type
    with tenant_context(world.acme):
        champion = _champion(trained_motor)
        Job.objects.filter(kind=CHALLENGER_KIND).delete()
    assert client_for("viewer").post(f"/models/{champion.id}/retrain/").status_code == 403
    assert client_for("globex_owner", tenant=world.globex).post(f"/models/{champion.id}/retrain/").status_code == 404
    assert client_for("engineer").post(f"/models/{champion.id}/retrain/").status_code == 302
    with tenant_context(world.acme):
        assert Job.objects.filter(kind=CHALLENGER_KIND, params__reason="manual").count() == 1


# --- the real-data path -------------------------------------------------------------------------


def _failing_runs(machine_type: Any, *, count: int, seed: int = 40) -> list[Machine]:
    """`count` machines of the type, each with a simulated run ending in a failure, and a
    FailureEvent at each run's end (the labels the real-data path learns from)."""
    machines = []
    for i in range(count):
        machine = machine_create(machine_type_id=machine_type.id, name=f"Real-{i}")
        items = failing_run_readings(machine_type.metadata, machine.name, seed=seed + i)
        assert not readings_push(items=items).rejected
        FailureEvent.objects.create(machine=machine, occurred_at=datetime.fromisoformat(items[-1]["ts"]),
                                    failure_mode="bearing")
        machines.append(machine)
    return machines


def test_a_type_with_real_failures_gets_a_challenger_fine_tuned_on_real_data(db, trained_motor, world):
    with tenant_context(world.acme):
        champion = _champion(trained_motor)
        champion_rul = ModelVersion.objects.get(machine_type_id=champion.machine_type_id, kind="rul_regressor",
                                                status="champion")
        _failing_runs(champion.machine_type, count=8)
        job = challenger_request(machine_type=champion.machine_type, reason="manual")
        assert job is not None
        challenger_train_task.run(job.id)
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, job.error
        assert job.result["source"] == "real"
        challenger = challenger_pending(machine_type_id=champion.machine_type_id)
        assert challenger is not None and challenger.id == job.result["challenger"]
        assert challenger.dataset is not None and challenger.dataset.source == "real"
        assert challenger.dataset.failures >= 3 and challenger.data_source == "real"
        assert challenger.params["training"] == "real, fine-tuned from the champions"
        trained = dict(ModelVersion.objects.filter(job_id=job.id).values_list("kind", "params__training"))
        assert trained == {FAILURE: "real, fine-tuned from the champions", RUL: "real, fine-tuned from the champions"}
        assert "why_not_real" not in challenger.params
        assert challenger.parent_id == champion.id  # fine-tuned from the champion
        rul = ModelVersion.objects.get(id=challenger.params["challenger"]["rul_id"])
        assert rul.parent_id == champion_rul.id and rul.dataset_id == challenger.dataset_id
        assert rul.params["challenger"]["champion_id"] == champion_rul.id
        created = ModelEvent.objects.get(version=challenger, action="challenger_created")
        assert "trained on real data" in created.note and created.details["dataset"] == challenger.dataset_id


# --- traffic split ------------------------------------------------------------------------------


def _hashed(challenger_id: int, machine_id: int, traffic: float) -> bool:
    """The documented split, computed here independently of the code under test."""
    digest = hashlib.sha256(f"{challenger_id}:{machine_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < traffic


def test_the_split_is_a_stable_hash_of_both_ids():
    chosen = [served_by_challenger(challenger_id=7, machine_id=m, traffic=0.2) for m in range(4_000)]
    assert chosen == [_hashed(7, m, 0.2) for m in range(4_000)]
    assert 0.18 < sum(chosen) / len(chosen) < 0.22
    assert chosen != [served_by_challenger(challenger_id=8, machine_id=m, traffic=0.2) for m in range(4_000)]
    assert not any(served_by_challenger(challenger_id=7, machine_id=m, traffic=0.0) for m in range(100))


def test_with_traffic_the_hashed_machines_are_served_by_the_challenger(db, trained_motor, world, settings):
    settings.CHALLENGER_TRAFFIC = 0.5
    with tenant_context(world.acme):
        champion = _champion(trained_motor)
        machine_type = champion.machine_type
        job = challenger_request(machine_type=machine_type, reason="manual")
        assert job is not None
        challenger_train_task.run(job.id)
        challenger = challenger_pending(machine_type_id=machine_type.id)
        assert challenger is not None and challenger.params["challenger"]["traffic"] == 0.5
        assert "serving 50% of the machines" in ModelEvent.objects.get(
            version=challenger, action="challenger_created").note
        added = set()
        for i in range(4):
            machine = machine_create(machine_type_id=machine_type.id, name=f"Split-{i}")
            assert not readings_push(items=failing_run_readings(machine_type.metadata, machine.name,
                                                                seed=60 + i)).rejected
            added.add(machine.id)

        usage = usage_predictions(tenant_id=world.acme.id)
        runs = []
        for _ in range(2):  # the same machines each run
            stored = fleet_score(machine_type_id=machine_type.id)
            runs.append({p.machine_id: p.model_version_id for p in stored})
        ids = set(runs[0])
        assert added <= ids and len(stored) == len(ids)
        expected = {m for m in ids if _hashed(challenger.id, m, 0.5)}
        assert runs[0] == runs[1] == {m: challenger.id if m in expected else champion.id for m in ids}
        assert usage_predictions(tenant_id=world.acme.id) == usage + 2 * len(ids)  # billed as usual
        # The challenger shadows only the machines the champion serves.
        shadowed = set(ShadowPrediction.objects.filter(version=challenger).values_list("machine_id", flat=True))
        assert shadowed == ids - expected
        for machine in Machine.objects.filter(id__in=ids):  # on demand too
            assert machine_predict(machine=machine).model_version_id == (
                challenger.id if machine.id in expected else champion.id)

        # This step checks the mode and traffic a decision records, not the rule (tested above):
        # machines of the type that other modules committed may already have outcomes.
        settings.CHALLENGER_MIN_OUTCOMES = 1_000_000
        decided = challenger_decide(challenger_id=challenger.id)
        assert decided["decision"] == "wait" and decided["traffic"] == 0.5, decided
        assert decided["mode"] == ("traffic" if expected else "shadow")
        event = ModelEvent.objects.filter(version=challenger, action="challenger_decision").get()
        assert event.details["mode"] == decided["mode"]

        # Traffic 0: shadow only, the champion serves every machine.
        ModelVersion.objects.filter(id=challenger.id).update(
            params={**challenger.params, "challenger": {**challenger.params["challenger"], "traffic": 0.0}})
        assert {p.model_version_id for p in fleet_score(machine_type_id=machine_type.id)} == {champion.id}
        assert set(ShadowPrediction.objects.filter(version=challenger).values_list("machine_id", flat=True)) == ids


# --- rollback against the previous champion's live metrics ---------------------------------------


def test_a_champion_below_the_previous_champions_live_f1_is_rolled_back(db, trained_motor, world):
    with tenant_context(world.acme):
        old = _champion(trained_motor)
        bundle = bundle_load(artifact_read(old.artifact_path, sha256=old.artifact_sha256))
        new = model_version_register(machine_type=old.machine_type, bundle=bundle, dataset=old.dataset,
                                     training_seconds=0.0)
        model_version_promote(version_id=new.id)
        ModelVersion.objects.filter(id=new.id).update(metrics={**new.metrics, "f1": 0.7})
        new.refresh_from_db()
        now = timezone.now()

        def snap(version: ModelVersion, tp: int, fp: int, tn: int, fn: int) -> OutcomeSnapshot:
            return OutcomeSnapshot.objects.create(version=version, window_start=now - timedelta(days=28),
                                                  window_end=now, tp=tp, fp=fp, tn=tn, fn=fn)

        snap(new, 3, 2, 10, 2)  # live F1 0.6: within the drop of its held-out 0.7
        assert champion_health_check(version=new) is None  # the previous champion has no snapshot
        snap(old, 2, 0, 1, 0)  # F1 1.0 on 3 resolved outcomes: too few to judge by
        assert champion_health_check(version=new) is None
        before = snap(old, 8, 0, 10, 0)  # F1 1.0 on 18
        restored = champion_health_check(version=new)
        assert restored is not None and restored.id == old.id
        new.refresh_from_db()
        assert new.status == "archived" and ModelVersion.objects.get(id=old.id).status == "champion"
        event = ModelEvent.objects.get(version=new, action="automatic_rollback")
        assert event.details["basis"] == ["previous_live"] and event.details["previous_live_f1"] == 1.0
        assert event.details["live_f1"] == 0.6 and event.details["previous_snapshot"] == before.id
        assert "previous champion" in event.note
        assert champion_health_check(version=new) is None  # once


def test_a_kind_that_cannot_continue_boosting_says_it_was_trained_afresh() -> None:
    """A searched champion (LightGBM, a blend) has no boosting to continue: its challenger is
    searched again, and the version says so rather than "fine-tuned"."""
    from predictions.services.challenger.retraining import _training_label

    fine_tuned = "real, fine-tuned from the champions"
    init = {FAILURE: object()}
    assert _training_label(fine_tuned, FAILURE, init, "real") == fine_tuned  # type: ignore[arg-type]
    assert "by the model search" in _training_label(fine_tuned, RUL, init, "real")  # type: ignore[arg-type]
    assert _training_label(fine_tuned, ANOMALY, init, "real") == "real, trained afresh"  # type: ignore[arg-type]
    assert _training_label("simulated, new seed", RUL, {}, "simulated") == "simulated, new seed"
