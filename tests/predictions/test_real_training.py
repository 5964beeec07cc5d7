"""Training on real readings and failure events: labels, fine-tuning, the comparison against the
synthetic champion and the promotion margin. Training on cycle-indexed data (C-MAPSS-like) is in
test_cycle_indexed.py, which trains its fleet once for all its tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from engine.synthetic.simulator import SimulationOptions, simulate_fleet
from engine.training.real import better_by, label_runs
from machines.live import readings_push
from machines.models import FailureEvent, MachineType
from machines.services import machine_create
from predictions.models import Dataset, ModelVersion
from predictions.services.real_training import train_on_real_data

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
