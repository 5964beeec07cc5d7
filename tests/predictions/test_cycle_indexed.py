"""Cycle-indexed data end to end (C-MAPSS-like: one reading per cycle, stored at 1970-01-01 + cycle
seconds, issue 14): real-data training keeps each cycle one step and speaks in cycles; scoring,
its explanation, forecast and live event; `score_file` on a C-MAPSS file; drift checked on each
machine's latest steps.

Every test here reads the same fleet trained once (`cycle_fleet`): training takes a couple of
minutes, and each test used to train the very same data again. The fleet is committed in a tenant
of its own, dropped when this module ends, so no other test sees it; each test runs in its own
rolled-back transaction, so what one test writes (predictions, drift reports, more readings) is
gone before the next."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pyarrow.csv as pa_csv
import pytest
from django.core.management import call_command
from django.test import Client
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from accounts.services import membership_add
from engine.features import window_features
from engine.synthetic.simulator import simulate_fleet
from machines.models import FailureEvent, MachineType
from machines.services import machine_type_adopt
from pdm_saas.live.replay import stream_position, stream_since
from predictions.models import Dataset, ModelVersion
from predictions.serializers import PredictionSerializer
from predictions.services.drift import drift_check
from predictions.services.real_training import _bundle, real_table, train_on_real_data
from predictions.services.scoring import machine_predict
from tenants.models import Tenant
from tenants.services import tenant_signup
from tests.conftest import PASSWORD, committed_tenant_drop, host_of
from tests.predictions.conftest import EPOCH, push_cycle_fleet

CMAPSS = "turbofan-engine-cmapss"
SLUG = "cycle-works"
ROLES = (Role.VIEWER, Role.ENGINEER)


@dataclass
class CycleFleet:
    tenant: Tenant
    machine_type_id: int
    last: dict[str, int]  # the cycles each unit ran: Unit-00 ... Unit-11, all run to failure
    summary: dict[str, Any]  # what train_on_real_data answered

    def machine_type(self) -> MachineType:
        return MachineType.objects.get(id=self.machine_type_id)

    def client(self, role: Role) -> Client:
        client = Client(HTTP_HOST=host_of(self.tenant))
        client.force_login(User.objects.get(email=_email(role)))
        return client


def _email(role: Role) -> str:
    return f"{role}@{SLUG}.test"


@pytest.fixture(scope="module")
def cycle_fleet(django_db_setup: None, django_db_blocker: Any) -> Iterator[CycleFleet]:
    """Twelve simulated units run to failure, stored the C-MAPSS way with their failure events,
    trained on by `train_on_real_data` with the suite's search settings; with a viewer and an
    engineer of the tenant."""
    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="Cycle Works", slug=SLUG, owner_email=f"owner@{SLUG}.test",
                               owner_password=PASSWORD)
        for role in ROLES:
            membership_add(user=User.objects.create_user(_email(role), PASSWORD), tenant=signup.tenant, role=role)
        with tenant_context(signup.tenant):
            machine_type = machine_type_adopt(key=CMAPSS)
            last = push_cycle_fleet(machine_type, seed=4, prefix="Unit")
            for name, cycles in last.items():
                FailureEvent.objects.create(machine=machine_type.machines.get(name=name),
                                            occurred_at=EPOCH + timedelta(seconds=cycles),
                                            failure_mode="hpc_degradation")
            summary = train_on_real_data(machine_type=machine_type)
    yield CycleFleet(signup.tenant, machine_type.id, last, summary)
    with django_db_blocker.unblock():
        committed_tenant_drop(signup.tenant, emails=[f"owner@{SLUG}.test", *map(_email, ROLES)])


@pytest.fixture
def in_cycle_works(db: None, cycle_fleet: CycleFleet) -> Iterator[CycleFleet]:
    """The test body runs in the fleet's tenant, inside the test's transaction."""
    with tenant_context(cycle_fleet.tenant):
        yield cycle_fleet


def test_cycle_indexed_data_trains_in_cycles_not_merged_hours(in_cycle_works: CycleFleet) -> None:
    """Each cycle must stay one step."""
    fleet, machine_type, last = in_cycle_works, in_cycle_works.machine_type(), in_cycle_works.last
    summary = fleet.summary
    assert summary["dataset"]["runs"] == 12 and summary["dataset"]["failures"] == 12
    dataset = Dataset.objects.get(id=summary["dataset"]["id"])
    assert dataset.params["time_scale"] == 3600 and dataset.rows == sum(last.values())  # one step per cycle
    rul = ModelVersion.objects.get(machine_type=machine_type, kind="rul_regressor", status="champion")
    assert rul.data_source == "real" and 5 < rul.metrics["cap_h"] < 600  # cycles, not fractions of an hour
    prediction = machine_predict(machine=machine_type.machines.get(name="Unit-00"))
    # Scoring reads the stored cycles the way training did: its last step is its last cycle.
    assert prediction.window_end == EPOCH + timedelta(hours=last["Unit-00"])
    assert prediction.rul_h is not None and 0 <= prediction.rul_h <= rul.metrics["cap_h"]
    # Issue 14: cycle-indexed results speak in cycles, not 1970 dates and hours.
    shown = PredictionSerializer(prediction).data
    assert shown["window_end_cycle"] == last["Unit-00"] and shown["time_unit"] == "cycles"
    rule = prediction.explanation["rule"]["text"]
    assert " cycles" in rule and not rule.endswith(" h") and " h likely" not in rule
    # The model was searched, and its run features (age, change from the run's first cycles)
    # serve as they trained: scoring reads the run's start and its recent cycles, not all of it.
    assert rul.metrics["search"]["trials"] >= 2 and rul.metrics["search"]["plain_baseline"]["rmse"] > 0
    model = _bundle(rul).model
    assert model.spec.baseline_steps > 0 and last["Unit-00"] > model.spec.baseline_steps + max(model.spec.windows)
    table, _ = real_table(machine_type=machine_type)
    features, _ = window_features(table, signals=model.signals, spec=model.spec)
    last_row = int(np.flatnonzero(table.column("machine").to_numpy(zero_copy_only=False) == "Unit-00#0")[-1])
    assert prediction.rul_h == pytest.approx(float(model.predict(features[last_row:last_row + 1])[0]), abs=0.01)
    # The model page says how the model was chosen, in cycles, with every candidate under the Advanced switch.
    page = fleet.client(Role.VIEWER).get(f"/models/{rul.id}/").content.decode()
    assert "How this model was chosen" in page and "XGBoost with its default settings" in page
    assert "Every candidate" in page and "lightgbm" in page and " cycles" in page
    # The failure classifier was searched too, chosen at its false-positive limit; the scoring
    # service scores and explains with it, and its page says what it catches beside the baseline.
    classifier = ModelVersion.objects.get(machine_type=machine_type, kind="failure_classifier", status="champion")
    search = classifier.metrics["search"]
    assert search["trials"] >= 2 and search["max_fpr"] == 0.05 and "f1" in search["plain_baseline"]
    assert {"validation_f1", "validation_pr_auc"} <= set(search["leaderboard"][0])
    assert prediction.versions["failure_classifier"] == classifier.id
    assert 0 <= prediction.probability <= 1 and prediction.explanation["top_factors"]
    page = fleet.client(Role.VIEWER).get(f"/models/{classifier.id}/").content.decode()
    assert "How this model was chosen" in page and "false alarms per 100 healthy rows" in page
    assert "XGBoost with its default settings on the same data catches" in page and "Validation F1" in page


def test_a_cycle_model_s_scores_explanation_forecast_and_live_event_count_cycles(
        in_cycle_works: CycleFleet, django_capture_on_commit_callbacks: Any) -> None:
    schema_name = in_cycle_works.tenant.schema_name
    since = stream_position(schema_name=schema_name)
    with django_capture_on_commit_callbacks(execute=True):
        prediction = machine_predict(machine=in_cycle_works.machine_type().machines.get(name="Unit-00"),
                                     forecast=True)
    explanation = prediction.explanation
    assert prediction.time_unit == "cycles" and explanation["time_unit"] == "cycles"
    assert explanation["forecast"] and {f["time_unit"] for f in explanation["forecast"]} == {"cycles"}
    events = [e for e in stream_since(schema_name=schema_name, since=since) or []
              if e.get("type") == "machine.health"]
    assert events and events[-1]["machine"]["time_unit"] == "cycles"
    assert events[-1]["machine"]["rul"] == pytest.approx(prediction.rul_h)


def test_score_file_writes_cycles_for_cycle_indexed_models(in_cycle_works: CycleFleet, tmp_path: Any,
                                                           capsys: Any) -> None:
    """A C-MAPSS-style file (cycle column, `setting_1`... and `s_1`... headers, one engine without a
    machine column) scored with a model trained on cycles: cycle numbers and RUL in cycles."""
    machine_type = in_cycle_works.machine_type()
    sensors = machine_type.metadata["sensors"]
    table = simulate_fleet(machine_type.metadata, machines=12, seed=4, healthy_fraction=0.0)  # the trained fleet
    engine = [row for row in table.to_pylist() if row["machine"].endswith("00")]
    lines = ["cycle," + ",".join(s["aliases"][0] for s in sensors)]  # setting_1, setting_2, setting_3, s_1, ...
    for cycle, row in enumerate(engine, start=1):
        lines.append(",".join([str(cycle), *["" if row[s["name"]] is None or row[s["name"]] != row[s["name"]]
                                             else str(row[s["name"]]) for s in sensors]]))
    source = tmp_path / "test_FD001_unit_00.csv"
    source.write_text("\n".join(lines) + "\n")
    call_command("score_file", str(source), str(tmp_path / "out.csv"), tenant=SLUG,
                 machine_type=CMAPSS, machine="Unit-00", time_column="cycle",
                 time_format="cycle", explain=True)
    out = capsys.readouterr().out
    assert "setting_1 -> op_setting_1" in out and "Ignored columns" not in out  # operating settings kept
    written = pa_csv.read_csv(tmp_path / "out.csv")
    assert written.column("window_end_cycle").to_pylist() == list(range(1, len(engine) + 1))
    assert {"rul_cycles", "rul_lower_cycles", "rul_upper_cycles"} <= set(written.column_names)
    assert "window_end" not in written.column_names and "rul_h" not in written.column_names
    rul = written.column("rul_cycles").to_pylist()
    assert rul[-1] < rul[0]  # the engine ran to failure: its remaining cycles shrink


def test_cycle_indexed_data_is_checked_for_drift_on_each_machines_latest_steps(in_cycle_works: CycleFleet) -> None:
    machine_type = in_cycle_works.machine_type()
    version = ModelVersion.objects.select_related("machine_type", "dataset").get(
        machine_type=machine_type, kind="failure_classifier", status="champion")
    calm = drift_check(version=version, days=7)
    assert calm.basis == "latest_steps" and calm.window_steps == 7 * 24
    assert calm.machines == 12 and 0 < calm.rows <= 12 * 7 * 24  # each unit's last 168 cycles at most
    assert calm.status != "no_data" and calm.drift_share is not None and calm.drift_share < 0.3, calm.drift_share
    push_cycle_fleet(machine_type, seed=5, prefix="Moved", scale=1.3)
    moved = drift_check(version=version, days=7)
    assert moved.machines == 24 and moved.status == "drifted"
    assert moved.drift_share is not None and moved.drift_share > calm.drift_share
    page = in_cycle_works.client(Role.ENGINEER).get(f"/models/{version.id}/").content.decode()
    assert "each machine's latest 168 cycles" in page and "168 steps" not in page  # cycles, not model steps
