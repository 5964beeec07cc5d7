"""The hydraulic test rig (UCI, ZeMA) through the product's own user path, beside a plain XGBoost
baseline measured in the same run.

    .venv/bin/python benchmarks/real_hydraulic.py

Runs against the benchmark database (`pdm_bench`, PDM_BENCH_DATABASE_URL) like the other
benchmarks, in its own tenant `bench-hydraulic`. The data: ../shared/data/hydraulic/ (2,205 load
cycles; per cycle, 60 or 600 values of each of ten sensors, and four component conditions).

1. Assembles, in a temporary folder, the upload files a user would send: one row per cycle, a
   `cycle` number, each sensor's values in one cell separated by spaces (array sensors), and the
   four conditions as label columns. The machine type is an observations type declaring the ten
   array sensors and the four labels (docs/metadata.md).
2. Split: a stratified 80/20 hold-out on the four conditions together (seed 0). The conditions
   were set in blocks of consecutive cycles, so a contiguous split would leave whole classes out
   of training; stratifying keeps every class of every component on both sides.
3. The product: uploads the 80% through the upload service (`upload_create`, its job run in this
   process), trains with `train_real_data`'s defaults (its own stratified 5-fold validation and
   plain baseline inside the job), and scores the 20% (without labels) through the scoring
   service `score_file`. It checks that every row and label was stored and a model trained before
   printing anything.
4. The baseline, same run: XGBoost with default settings on per-cycle summary statistics (mean,
   std, min, max of each sensor), (a) trained on the same 80% and tested on the same 20%, and
   (b) the usual stratified 5-fold over all cycles.

Prints accuracy and macro-F1 per component for each, and the wall time; `run()` returns the rows.
"""

from __future__ import annotations

import gzip
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Sets DATABASE_URL to the benchmark database and the Redis URLs to the benchmark's databases.
from benchmarks.tenant_provision import BENCH_DATABASE_URL, database_ensure  # noqa: E402

# ../shared/data beside the project (its README); PDM_SHARED_DATA for a checkout elsewhere.
DATA = Path(os.environ.get("PDM_SHARED_DATA", str(REPO.parent / "shared" / "data"))) / "hydraulic"
TENANT_SLUG = "bench-hydraulic"
TYPE_KEY = "hydraulic-test-rig"
PREFIX = "hydraulic:"
SENSORS = ("TS1", "TS2", "TS3", "TS4", "CE", "CP", "SE", "VS1", "FS1", "FS2")
UNITS = {"TS": "°C", "CE": "%", "CP": "kW", "SE": "%", "VS": "mm/s", "FS": "l/min"}
COMPONENTS = {"cooler": ["3", "20", "100"], "valve": ["100", "90", "80", "73"], "pump": ["0", "1", "2"],
              "accumulator": ["130", "115", "100", "90"]}
HOLDOUT = 0.2
SEED = 0


def say(message: str = "") -> None:
    print(f"{PREFIX} {message}" if message else "", flush=True)


# --- the data as a user has it ------------------------------------------------------------------


def dataset_read() -> tuple[dict[str, Any], Any]:
    import numpy as np

    sensors = {}
    for name in SENSORS:
        with gzip.open(DATA / f"{name}.txt.gz", "rt") as handle:
            sensors[name] = np.loadtxt(handle)
    profile = np.loadtxt(DATA / "profile.txt")[:, :4].astype(int)
    return sensors, profile


def type_document() -> dict[str, Any]:
    """What a user declares: ten array sensors, four per-cycle labels (docs/metadata.md)."""
    wide = {"normal": [-1e6, 1e6], "warning": [-1e6, 1e6], "critical": [-1e6, 1e6]}
    return {
        "schema_version": 1, "key": TYPE_KEY, "name": "Hydraulic test rig", "category": "other",
        "data_kind": "observations",
        "sensors": [{"name": name.lower(), "label": name, "unit": UNITS[name.rstrip("0123456789")],
                     "kind": "numeric", "values": "array", "sampling_interval_s": 60, "ranges": wide,
                     "aliases": [name]} for name in SENSORS],
        "observation_labels": [{"name": name, "label": f"{name.title()} condition", "classes": classes}
                               for name, classes in COMPONENTS.items()],
        "failure_modes": [{"name": "component_wear", "label": "Component wear", "affected_signals": [],
                           "symptoms": ["A component condition below optimal"], "recommended_action": "Inspect.",
                           "repair_cost": 1000, "downtime_hours": 4, "mean_time_to_failure_hours": 10000}],
        "operating_regimes": [{"name": "load_cycle", "label": "Load cycle", "share": 1, "signal_levels": {}}],
        "costs": {"currency": "EUR", "downtime_per_hour": 500, "planned_maintenance": 200,
                  "unplanned_failure_multiplier": 3},
    }


def split(profile: Any) -> tuple[Any, Any]:
    """Stratified on the four conditions together (combinations seen once go in one bucket)."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    joint = np.array(["-".join(map(str, row)) for row in profile], dtype=object)
    values, counts = np.unique(joint, return_counts=True)
    joint[np.isin(joint, values[counts < 2])] = "rare"
    train, test = train_test_split(np.arange(len(profile)), test_size=HOLDOUT, random_state=SEED, stratify=joint)
    return np.sort(train), np.sort(test)


def file_write(path: Path, sensors: dict[str, Any], profile: Any, rows: Any, *, labels: bool) -> None:
    header = ["cycle", *SENSORS, *(COMPONENTS if labels else [])]
    with path.open("w") as out:
        out.write(",".join(header) + "\n")
        for row in rows:
            cells = [str(row + 1), *(" ".join(f"{v:g}" for v in sensors[name][row]) for name in SENSORS)]
            if labels:
                cells += [str(value) for value in profile[row]]
            out.write(",".join(cells) + "\n")


# --- the product's path -------------------------------------------------------------------------


def tenant_prepare() -> Any:
    """The benchmark's tenant (on the enterprise plan: no limit stands in the way), with a fresh
    observation type: last run's rows, labels and models removed."""
    from django_tenants.utils import tenant_context

    from billing.services import subscription_grant
    from machines.models import MachineType, Upload
    from machines.services import machine_delete, machine_type_import
    from tenants.models import Tenant
    from tenants.services import tenant_signup

    tenant = Tenant.objects.filter(slug=TENANT_SLUG).first()
    if tenant is None:
        tenant = tenant_signup(organization_name="Bench hydraulic", slug=TENANT_SLUG,
                               owner_email=f"owner@{TENANT_SLUG}.example.com",
                               owner_password="Bench-Tenant-Owner-73!").tenant
    subscription_grant(tenant=tenant, plan_code="enterprise")
    with tenant_context(tenant):
        old = MachineType.objects.filter(key=TYPE_KEY).first()
        if old is not None:
            for machine_id in old.machines.values_list("id", flat=True):
                machine_delete(machine_id=machine_id)
            Upload.objects.filter(machine_type=old).delete()
            old.delete()
        machine_type_import(document=type_document())
    return tenant


def product(tenant: Any, train_file: Path, test_file: Path, output: Path, train_rows: int) -> dict[str, Any]:
    from django_tenants.utils import tenant_context

    from machines.models import MachineType, ObservationLabel, Upload
    from machines.selectors import readings_count
    from machines.uploads import upload_create
    from pdm_saas.celery import app as celery_app
    from predictions.models import ModelVersion
    from predictions.services.batch_files import score_file
    from predictions.services.real_training import train_on_real_data

    mapping = {"time_column": "cycle", "time_format": "cycle", "machine_name": "Rig-1",
               "create_unknown_machines": True, "sensors": {name: name.lower() for name in SENSORS},
               "labels": {name: name for name in COMPONENTS}}
    celery_app.conf.task_always_eager = True  # the upload's job runs here, as a worker would run it
    timings: dict[str, float] = {}
    with tenant_context(tenant):
        started = time.perf_counter()
        with train_file.open("rb") as handle:
            created = upload_create(chunks=iter(lambda: handle.read(1 << 20), b""), original_name=train_file.name,
                                    machine_type_key=TYPE_KEY, mapping=mapping)
        upload = Upload.objects.get(id=created.id)
        timings["ingest"] = time.perf_counter() - started
        stored, labels = readings_count(), ObservationLabel.objects.count()
        if upload.status != "succeeded" or stored != train_rows or labels != train_rows * len(COMPONENTS):
            raise SystemExit(f"{PREFIX} the upload {upload.status} ({upload.error}): {stored:,} of {train_rows:,} "
                             f"rows and {labels:,} labels stored")
        machine_type = MachineType.objects.get(key=TYPE_KEY)
        started = time.perf_counter()
        summary = train_on_real_data(machine_type=machine_type)
        timings["train"] = time.perf_counter() - started
        version = ModelVersion.objects.filter(id=int(summary.get("version") or 0), status="champion").first()
        if version is None or set(version.metrics) < set(COMPONENTS):
            raise SystemExit(f"{PREFIX} training left no champion with the four labels: {summary}")
        started = time.perf_counter()
        scored = score_file(machine_type=machine_type, source=test_file, target=output)
        timings["score"] = time.perf_counter() - started
    return {"summary": summary, "metrics": version.metrics, "baseline": version.baseline, "scored": scored,
            "seconds": timings}


# --- the baseline -------------------------------------------------------------------------------


def summary_features(sensors: dict[str, Any]) -> Any:
    import numpy as np

    return np.hstack([np.column_stack([values.mean(1), values.std(1), values.min(1), values.max(1)])
                      for values in (sensors[name] for name in SENSORS)])


def baseline(features: Any, profile: Any, train: Any, test: Any) -> dict[str, dict[str, float]]:
    """Plain XGBoost: on the same hold-out, and stratified 5-fold over every cycle."""
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold
    from xgboost import XGBClassifier

    found: dict[str, dict[str, float]] = {}
    for index, name in enumerate(COMPONENTS):
        target = np.unique(profile[:, index], return_inverse=True)[1]
        model = XGBClassifier(random_state=SEED, n_jobs=2).fit(features[train], target[train])
        held = model.predict(features[test])
        folded = np.empty_like(target)
        for fit, check in StratifiedKFold(5, shuffle=True, random_state=SEED).split(features, target):
            folded[check] = XGBClassifier(random_state=SEED, n_jobs=2).fit(features[fit], target[fit]).predict(
                features[check])
        found[name] = {"holdout_accuracy": accuracy_score(target[test], held),
                       "holdout_macro_f1": f1_score(target[test], held, average="macro"),
                       "cv_accuracy": accuracy_score(target, folded),
                       "cv_macro_f1": f1_score(target, folded, average="macro")}
    return found


# --- the run ------------------------------------------------------------------------------------


def run() -> list[dict[str, Any]]:
    """One row per component: the product on the hold-out (and in its own job's 5-fold), the
    plain baseline on the same hold-out and in stratified 5-fold; wall time in each row."""
    import numpy as np
    import pyarrow.csv as pa_csv
    from sklearn.metrics import accuracy_score, f1_score

    started = time.perf_counter()
    database_ensure(BENCH_DATABASE_URL)
    import django

    django.setup()
    from benchmarks.ingest import schemas_migrate

    schemas_migrate(TENANT_SLUG)
    sensors, profile = dataset_read()
    train, test = split(profile)
    tenant = tenant_prepare()
    with tempfile.TemporaryDirectory(prefix="bench-hydraulic-") as folder:
        train_file, test_file = Path(folder) / "cycles-train.csv", Path(folder) / "cycles-new.csv"
        file_write(train_file, sensors, profile, train, labels=True)
        file_write(test_file, sensors, profile, test, labels=False)
        result = product(tenant, train_file, test_file, Path(folder) / "scored.csv", len(train))
        scored = pa_csv.read_csv(Path(folder) / "scored.csv")
    cycles = np.asarray(scored.column("cycle").to_pylist()) - 1
    if result["scored"].predictions != len(test) or not np.array_equal(cycles, test):
        raise SystemExit(f"{PREFIX} scoring wrote {result['scored'].predictions} predictions for {len(test)} cycles")
    plain = baseline(summary_features(sensors), profile, train, test)
    wall = time.perf_counter() - started
    rows = []
    for index, name in enumerate(COMPONENTS):
        truth = profile[test, index].astype(str)
        predicted = np.asarray(scored.column(f"{name}_predicted").cast("string").to_pylist(), dtype=object).astype(str)
        rows.append({"component": name, "split": f"stratified {1 - HOLDOUT:.0%}/{HOLDOUT:.0%} hold-out, seed {SEED}",
                     "accuracy": accuracy_score(truth, predicted),
                     "macro_f1": f1_score(truth, predicted, average="macro"),
                     "job_cv_accuracy": result["metrics"][name]["accuracy"],
                     "job_cv_macro_f1": result["metrics"][name]["macro_f1"],
                     "learner": result["metrics"][name].get("learner"),
                     "baseline_accuracy": plain[name]["holdout_accuracy"],
                     "baseline_macro_f1": plain[name]["holdout_macro_f1"],
                     "baseline_cv_accuracy": plain[name]["cv_accuracy"],
                     "baseline_cv_macro_f1": plain[name]["cv_macro_f1"],
                     "seconds": round(wall, 1), **{f"{k}_seconds": round(v, 1) for k, v in result["seconds"].items()}})
    return rows


def report(rows: list[dict[str, Any]]) -> None:
    first = rows[0]
    say(f"2,205 cycles; {first['split']}; the product ingests, trains (train_real_data defaults) and scores "
        "(score_file); baseline: default XGBoost on per-cycle mean/std/min/max")
    say(f"{'component':<12} {'product acc':>11} {'macro-F1':>9} | {'baseline acc':>12} {'macro-F1':>9} | "
        f"{'job 5-fold F1':>13} | {'baseline 5-fold acc':>19} {'F1':>6}")
    for row in rows:
        say(f"{row['component']:<12} {row['accuracy']:>11.4f} {row['macro_f1']:>9.4f} | "
            f"{row['baseline_accuracy']:>12.4f} {row['baseline_macro_f1']:>9.4f} | {row['job_cv_macro_f1']:>13.4f} | "
            f"{row['baseline_cv_accuracy']:>19.4f} {row['baseline_cv_macro_f1']:>6.4f}")
    say(f"wall time {first['seconds']:.0f} s (ingest {first['ingest_seconds']:.0f} s, "
        f"train {first['train_seconds']:.0f} s, score {first['score_seconds']:.1f} s)")


def main() -> int:
    report(run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
