"""Training on real readings and failure events: labels, fine-tuning, the comparison against the
synthetic champion and the promotion margin."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from machines.live import readings_push
from machines.models import MachineType
from machines.services import machine_create
from predictions.engine_serializers import PredictionSerializer
from predictions.features import window_features
from predictions.models import Dataset, FailureEvent, ModelVersion
from predictions.services.real_training import _bundle, real_table, train_on_real_data
from predictions.synthetic.simulator import SimulationOptions, simulate_fleet
from predictions.training.real import better_by, label_runs
from tests.predictions.conftest import EPOCH, push_cycle_fleet

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_runs_are_cut_at_failures_and_the_last_run_is_censored():
    hours = np.arange(10)
    frame = pa.table({"machine": ["m"] * 10, "ts": [T0 + timedelta(hours=int(h)) for h in hours],
                      "x": np.arange(10.0)})
    labelled = label_runs(frame, {"m": [(T0 + timedelta(hours=3), "bearing"), (T0 + timedelta(hours=7), "seal")]})
    assert labelled.column("machine").to_pylist() == ["m#0"] * 4 + ["m#1"] * 4 + ["m#2"] * 2
    assert labelled.column("time_to_failure_h").to_pylist()[:8] == [3, 2, 1, 0, 3, 2, 1, 0]
    assert np.isnan(labelled.column("time_to_failure_h").to_pylist()[8:]).all()
    assert labelled.column("failure_mode").to_pylist()[:8] == ["bearing"] * 4 + ["seal"] * 4
    assert labelled.column("failed").to_pylist() == [False, False, False, True] * 2 + [False, False]
    assert set(labelled.column("asset").to_pylist()) == {"m"}


def test_the_margin_rule():
    assert better_by({"f1": 0.66}, {"f1": 0.6}, kind="failure_classifier", margin=0.1)
    assert not better_by({"f1": 0.65}, {"f1": 0.6}, kind="failure_classifier", margin=0.1)
    assert better_by({"rmse": 8.9}, {"rmse": 10.0}, kind="rul_regressor", margin=0.1)
    assert not better_by({"rmse": 9.5}, {"rmse": 10.0}, kind="rul_regressor", margin=0.1)
    assert better_by({"f1": 0.1}, {"f1": float("nan")}, kind="failure_classifier", margin=0.1)
    assert not better_by({"f1": 0.0}, {"f1": 0.0}, kind="failure_classifier", margin=0.1)


def _real_fleet(machine_type: MachineType, *, machines: int, seed: int) -> None:
    """A fleet unlike the simulator's defaults (noisier, and lives three times as long, so wear
    shows over many more hours), its readings stored and its failures recorded as events."""
    options = SimulationOptions(noise_fraction=0.04, min_run_steps=450, max_run_steps=900)
    table = simulate_fleet(machine_type.metadata, machines=machines, seed=seed, healthy_fraction=0.0,
                           options=options)
    sensors = [s["name"] for s in machine_type.metadata["sensors"]]
    names = {}
    for i, sim in enumerate(sorted(set(table.column("machine").to_pylist()))):
        names[sim] = machine_create(machine_type_id=machine_type.id, name=f"R-{i:02d}").name
    items, events = [], []
    for row in table.select(["machine", "ts", "failed", "failure_mode", *sensors]).to_pylist():
        items.append({"machine": names[row["machine"]], "ts": row["ts"].isoformat(),
                      "values": {s: row[s] for s in sensors if row[s] is not None and row[s] == row[s]}})
        if row["failed"]:
            events.append((names[row["machine"]], row["ts"], row["failure_mode"]))
    for start in range(0, len(items), 10_000):
        assert not readings_push(items=items[start : start + 10_000]).rejected
    for name, at, mode in events:
        FailureEvent.objects.create(machine=machine_type.machines.get(name=name), occurred_at=at, failure_mode=mode)


def test_real_training_compares_on_held_out_runs_and_promotes_by_the_margin(trained_motor, in_acme):
    machine_type = MachineType.objects.get(id=trained_motor.machine_type_id)
    _real_fleet(machine_type, machines=14, seed=21)
    before = {v.kind: v.id for v in ModelVersion.objects.filter(machine_type=machine_type, status="champion")}
    summary = train_on_real_data(machine_type=machine_type, margin=0.1, horizon_h=24, seed=0)
    dataset = Dataset.objects.get(id=summary["dataset"]["id"])
    # 14 runs to failure, plus ABB-101 (the fixture's machine): readings but no failure yet, censored.
    assert dataset.source == "real" and dataset.failures == 14 and summary["dataset"]["runs"] == 15
    measured = {d["kind"]: d for d in summary["decisions"] if "comparison" in d}
    assert set(measured) == {"failure_classifier", "rul_regressor"}
    champions = {v.kind: v for v in ModelVersion.objects.filter(machine_type=machine_type, status="champion")}
    for kind, decision in measured.items():
        champion, real, tuned = decision["comparison"]
        assert champion["model"].startswith("champion") and "real" in real["model"] and "fine-tuned" in tuned["model"]
        assert champion["rows"] == real["rows"] == tuned["rows"] > 0  # the same held-out rows for all three
        metric = "f1" if kind == "failure_classifier" else "rmse"
        best = max(real[metric], tuned[metric]) if metric == "f1" else min(real[metric], tuned[metric])
        expected = best >= champion[metric] * 1.1 and best > champion[metric] if metric == "f1" else (
            best <= champion[metric] * 0.9)
        assert decision["promoted"] == expected, decision
        winner = champions[kind].id
        assert (winner == decision["best"]) if expected else (winner == before[kind])
    tuned_version = ModelVersion.objects.filter(machine_type=machine_type, kind="failure_classifier",
                                                parent__isnull=False).latest("id")
    assert tuned_version.parent_id == before["failure_classifier"] and tuned_version.data_source == "real"
    assert tuned_version.metrics["real_holdout"]["rows"] > 0
    # Fine-tuning keeps what the synthetic model knew instead of overwriting it with a few runs.
    classifier = measured["failure_classifier"]["comparison"]
    assert classifier[2]["roc_auc"] > 0.6
    # This fleet's lives are three times longer than the simulator's: its own failures teach the
    # remaining life better than the synthetic champion can, so the new RUL model takes over.
    assert measured["rul_regressor"]["promoted"]


def test_cycle_indexed_data_trains_in_cycles_not_merged_hours(in_acme, client_for):
    """C-MAPSS-like data: stored at 1970-01-01 + cycle seconds. Each cycle must stay one step."""
    from machines.services import machine_type_adopt
    from predictions.services.scoring import machine_predict

    machine_type = machine_type_adopt(key="turbofan-engine-cmapss")
    last = push_cycle_fleet(machine_type, seed=4, prefix="Unit")
    for name, cycles in last.items():
        FailureEvent.objects.create(machine=machine_type.machines.get(name=name),
                                    occurred_at=EPOCH + timedelta(seconds=cycles), failure_mode="hpc_degradation")
    summary = train_on_real_data(machine_type=machine_type)
    assert summary["dataset"]["runs"] == 12 and summary["dataset"]["failures"] == 12
    dataset = Dataset.objects.get(id=summary["dataset"]["id"])
    assert dataset.params["time_scale"] == 3600 and dataset.rows == sum(last.values())  # one step per cycle
    rul = ModelVersion.objects.get(machine_type=machine_type, kind="rul_regressor", status="champion")
    assert rul.data_source == "real" and 5 < rul.metrics["cap_h"] < 600  # cycles, not fractions of an hour
    prediction = machine_predict(machine=machine_type.machines.get(name="Unit-00"))
    # Scoring reads the stored cycles the way training did: its last step is its last cycle.
    assert prediction.window_end == EPOCH + timedelta(hours=last["Unit-00"])
    assert 0 <= prediction.rul_h <= rul.metrics["cap_h"]
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
    # The model page says how the model was chosen, in cycles, with every candidate behind Advanced.
    page = client_for("viewer").get(f"/models/{rul.id}/").content.decode()
    assert "How this model was chosen" in page and "XGBoost with its default settings" in page
    assert "Advanced: every candidate" in page and "lightgbm" in page and " cycles" in page
    # The failure classifier was searched too, chosen at its false-positive limit; the scoring
    # service scores and explains with it, and its page says what it catches beside the baseline.
    classifier = ModelVersion.objects.get(machine_type=machine_type, kind="failure_classifier", status="champion")
    search = classifier.metrics["search"]
    assert search["trials"] >= 2 and search["max_fpr"] == 0.05 and "f1" in search["plain_baseline"]
    assert {"validation_f1", "validation_pr_auc"} <= set(search["leaderboard"][0])
    assert prediction.versions["failure_classifier"] == classifier.id
    assert 0 <= prediction.probability <= 1 and prediction.explanation["top_factors"]
    page = client_for("viewer").get(f"/models/{classifier.id}/").content.decode()
    assert "How this model was chosen" in page and "false alarms per 100 healthy rows" in page
    assert "XGBoost with its default settings on the same data catches" in page and "Validation F1" in page


def test_score_file_writes_cycles_for_cycle_indexed_models(in_acme, tmp_path, capsys):
    """A C-MAPSS-style file (cycle column, `setting_1`... and `s_1`... headers, one engine without a
    machine column) scored with a model trained on cycles: cycle numbers and RUL in cycles."""
    import pyarrow.csv as pa_csv
    from django.core.management import call_command

    from machines.services import machine_type_adopt
    from predictions.synthetic.simulator import simulate_fleet

    machine_type = machine_type_adopt(key="turbofan-engine-cmapss")
    last = push_cycle_fleet(machine_type, seed=4, prefix="Unit")
    for name, cycles in last.items():
        FailureEvent.objects.create(machine=machine_type.machines.get(name=name),
                                    occurred_at=EPOCH + timedelta(seconds=cycles), failure_mode="hpc_degradation")
    train_on_real_data(machine_type=machine_type)
    sensors = machine_type.metadata["sensors"]
    table = simulate_fleet(machine_type.metadata, machines=12, seed=4, healthy_fraction=0.0)
    engine = [row for row in table.to_pylist() if row["machine"].endswith("00")]
    lines = ["cycle," + ",".join(s["aliases"][0] for s in sensors)]  # setting_1, setting_2, setting_3, s_1, ...
    for cycle, row in enumerate(engine, start=1):
        lines.append(",".join([str(cycle), *["" if row[s["name"]] is None or row[s["name"]] != row[s["name"]]
                                             else str(row[s["name"]]) for s in sensors]]))
    source = tmp_path / "test_FD001_unit_00.csv"
    source.write_text("\n".join(lines) + "\n")
    call_command("score_file", str(source), str(tmp_path / "out.csv"), tenant="acme",
                 machine_type="turbofan-engine-cmapss", machine="Unit-00", time_column="cycle",
                 time_format="cycle", explain=True)
    out = capsys.readouterr().out
    assert "setting_1 -> op_setting_1" in out and "Ignored columns" not in out  # operating settings kept
    written = pa_csv.read_csv(tmp_path / "out.csv")
    assert written.column("window_end_cycle").to_pylist() == list(range(1, len(engine) + 1))
    assert {"rul_cycles", "rul_lower_cycles", "rul_upper_cycles"} <= set(written.column_names)
    assert "window_end" not in written.column_names and "rul_h" not in written.column_names
    rul = written.column("rul_cycles").to_pylist()
    assert rul[-1] < rul[0]  # the engine ran to failure: its remaining cycles shrink
