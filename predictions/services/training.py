"""Onboarding a machine type: metadata -> simulated data -> four models -> first predictions.

`onboarding_start` records a Job and sends it to the `train` queue after commit; the worker runs
`onboarding_run`, which reports progress on the job row (and so on the live channel) stage by
stage. The first models of a type become champions at once; a retrain of a type that already has
champions leaves its versions as candidates with their metrics beside the champions', for a
person (or the real-data comparison) to promote.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from django.db import transaction

from engine.bundles import KINDS
from engine.metadata import is_observation_type
from engine.synthetic.scales import default_horizon, typical_pf_interval
from engine.synthetic.simulator import simulate_fleet, simulation_scale
from engine.training.suite import Suite, train_suite
from jobs.models import Job
from jobs.services import JobBusy, ProgressFn, job_create, job_enqueue, no_progress
from machines.baselines import baseline_model_steps
from machines.models import Machine, MachineType
from pdm_saas.errors import InvalidInput, NotFound
from predictions.models import Dataset, ModelVersion, Prediction, metrics_headline
from predictions.services.registry import dataset_store, model_version_promote, model_version_register
from predictions.services.scoring import fleet_score
from predictions.services.synthesis import dataset_synthesize, quality_headline

ONBOARD_KIND = "models.onboard"
# 100 simulated machines: at 40, median held-out F1 over the 24 built-in types falls from 0.78 to
# 0.66 and eight types drop below 0.5 (benchmarks/model_quality.py, docs/synthetic.md).
DEFAULT_MACHINES = 100
# None: half the type's typical P-F interval (`engine.synthetic.scales.default_horizon`): from
# 9 min (milling tool) and 12 h (AI4I) to 6-62 days for the other built-in types.
DEFAULT_HORIZON_H: float | None = None
# The synthesizer fitted on the simulated fleet, for its SDMetrics quality report and a sample to
# augment or share; the models themselves train on the simulated fleet, which measured better
# (engine/synthetic/synthesizers.py). None skips the stage.
DEFAULT_SYNTHESIZER: str | None = "gaussian_copula"
SYNTHESIZERS = ("gaussian_copula", "tvae", "ctgan", "hybrid")
LIMITS = {"machines": (10, 400), "horizon_h": (0.0, 24.0 * 90), "step_hours": (1 / 3600, 24.0 * 7)}


def onboarding_params(*, machines: int = DEFAULT_MACHINES, horizon_h: float | None = DEFAULT_HORIZON_H,
                      seed: int = 0, synthesizer: str | None = DEFAULT_SYNTHESIZER,
                      step_hours: float | None = None) -> dict[str, Any]:
    """Validated parameters, with a message a person can act on when one is out of range.
    `step_hours` None: the type's own step, from its P-F intervals (docs/synthetic.md)."""
    if synthesizer is not None and synthesizer not in SYNTHESIZERS:
        raise InvalidInput(f"synthesizer must be one of {', '.join(SYNTHESIZERS)} or null.",
                           details={"synthesizer": ["unknown"]})
    for name, value in (("machines", machines), ("horizon_h", horizon_h), ("step_hours", step_hours)):
        if value is None:
            continue
        low, high = LIMITS[name]
        if not low <= value <= high:
            raise InvalidInput(f"{name} must be between {low:g} and {high:g}; got {value}.",
                               details={name: [f"between {low:g} and {high:g}"]})
    return {"machines": int(machines), "horizon_h": None if horizon_h is None else float(horizon_h), "seed": int(seed),
            "synthesizer": synthesizer, "step_hours": None if step_hours is None else float(step_hours)}


def onboarding_start(*, machine_type: MachineType, created_by_id: int | None = None, **params: Any) -> Job:
    from predictions.tasks import onboarding_task  # tasks import services; not the other way at import time

    _refuse_observation_type(machine_type)
    checked = onboarding_params(**params)
    return training_job_start(kind=ONBOARD_KIND, machine_type=machine_type, params=checked, task=onboarding_task,
                              created_by_id=created_by_id)


def _refuse_observation_type(machine_type: MachineType) -> None:
    """Onboarding simulates machines degrading over time; independent labelled rows have no such
    life to simulate, and learn from their own labels (docs/models.md, "Observation types")."""
    if is_observation_type(machine_type.metadata):
        raise InvalidInput(f"{machine_type.name} is an observations type: it learns from its own labelled rows. "
                           "Upload them and train on real data (train_real_data).", code="observation_type")


def training_job_start(*, kind: str, machine_type: MachineType, params: Mapping[str, Any], task: Any,
                       created_by_id: int | None) -> Job:
    """A job on the `train` queue about one machine type, sent after commit. One job of a kind
    per type at a time: a second is refused (409) while the first is queued or running."""
    with transaction.atomic():
        try:
            job = job_create(kind=kind, params={"machine_type_id": machine_type.id, **params},
                             created_by_id=created_by_id, queue="train",
                             exclusive_key=f"{kind}:machine_type:{machine_type.id}")
        except JobBusy as exc:
            noun = JOB_NOUNS.get(kind, "a job of this kind")
            raise JobBusy(f"{machine_type.name} already has {noun} queued or running (job {exc.job_id}); wait "
                          "for it to finish or fail.", job_id=exc.job_id) from None
        job_enqueue(job=job, task=task)
    return job


JOB_NOUNS = {ONBOARD_KIND: "an onboarding", "models.train_real": "a training on real data"}


def job_machine_type(job: Job) -> MachineType:
    machine_type = MachineType.objects.filter(id=job.params.get("machine_type_id")).first()
    if machine_type is None:
        raise NotFound("The machine type of this job no longer exists.")
    return machine_type


def onboarding_run(job: Job, progress: ProgressFn) -> dict[str, Any]:
    """The job: simulate, store the dataset, train, register, promote firsts, score the fleet."""
    return onboard_machine_type(machine_type=job_machine_type(job), job_id=job.id, progress=progress,
                                **{k: job.params.get(k) for k in ("machines", "horizon_h", "seed", "synthesizer",
                                                                  "step_hours")})


def onboard_machine_type(*, machine_type: MachineType, machines: int = DEFAULT_MACHINES,
                         horizon_h: float | None = DEFAULT_HORIZON_H, seed: int = 0, job_id: int | None = None,
                         progress: ProgressFn | None = None, kinds: Sequence[str] = KINDS,
                         synthesizer: str | None = DEFAULT_SYNTHESIZER, step_hours: float | None = None,
                         ) -> dict[str, Any]:
    """The whole pipeline in the calling process (the job runs it; so can a command or a test).
    The fleet is simulated at the type's step (or `step_hours`), and the models keep that step and
    time scale, so the machines' readings are bucketed the same way when they are scored."""
    _refuse_observation_type(machine_type)
    report: ProgressFn = progress or no_progress
    timings: dict[str, float] = {}
    started = time.perf_counter()
    report(2, f"Simulating {machines} machines of {machine_type.name}")
    scale = simulation_scale(machine_type.metadata, step_hours)
    table = simulate_fleet(machine_type.schema, machines=machines, seed=seed, step_hours=scale.step_hours)
    dataset = dataset_store(machine_type=machine_type, source=Dataset.Source.SIMULATED, table=table, job_id=job_id,
                            params={"generator": "physics simulator", "machines": machines, "seed": seed,
                                    "step_hours": scale.step_hours, "time_scale": scale.time_scale})
    timings["simulate"] = round(time.perf_counter() - started, 3)
    horizon_h = default_horizon(machine_type.schema, scale) if horizon_h is None else horizon_h
    synthesized = None
    if synthesizer is not None:
        stage = time.perf_counter()
        synthesized = dataset_synthesize(source=dataset, kind=synthesizer, seed=seed, job_id=job_id,
                                         progress=lambda p, m: report(5 + int(p * 0.2), m))
        timings["synthesize"] = round(time.perf_counter() - stage, 3)
    suite = train_suite(table, machine_type.metadata, horizon_h=horizon_h, seed=seed, kinds=kinds,
                        step_hours=scale.step_hours, time_scale=scale.time_scale,
                        rul_cap_h=typical_pf_interval(machine_type.metadata, scale),
                        baseline_steps=baseline_model_steps(machine_type.metadata, scale),
                        progress=lambda p, m: report(25 + int(p * 0.6), m))
    versions = register_suite(machine_type=machine_type, suite=suite, dataset=dataset, job_id=job_id,
                              params={"horizon_h": horizon_h, "seed": seed, "step_hours": scale.step_hours})
    timings["train"] = round(sum(suite.seconds.values()), 3)
    report(88, "Scoring the fleet with the new models")
    scored_at = time.perf_counter()
    predictions = fleet_score(machine_type_id=machine_type.id, source=Prediction.Source.ONBOARDING)
    timings["score"] = round(time.perf_counter() - scored_at, 3)
    timings["total"] = round(time.perf_counter() - started, 3)
    report(100, f"Onboarded in {timings['total']:.0f} s")
    return _summary(machine_type, dataset, synthesized, versions, suite, predictions, timings)


def register_suite(*, machine_type: MachineType, suite: Suite, dataset: Dataset, job_id: int | None,
                   params: Mapping[str, Any], machine: Machine | None = None) -> list[ModelVersion]:
    """Register every trained bundle; each becomes champion when its slot has none yet."""
    versions = []
    for kind in KINDS:
        if kind not in suite.bundles:
            continue
        version = model_version_register(
            machine_type=machine_type, machine=machine, bundle=suite.bundles[kind], dataset=dataset,
            training_seconds=suite.seconds[kind], params=dict(params), job_id=job_id,
        )
        has_champion = ModelVersion.objects.filter(machine_type=machine_type, machine=machine, kind=kind,
                                                   status=ModelVersion.Status.CHAMPION).exists()
        if not has_champion:
            version = model_version_promote(version_id=version.id, note="first model of its kind")
        versions.append(version)
    return versions


def _summary(machine_type: MachineType, dataset: Dataset, synthesized: Dataset | None, versions: list[ModelVersion],
             suite: Suite, predictions: list[Prediction], timings: dict[str, float]) -> dict[str, Any]:
    active = machine_type.machines.filter(status=Machine.Status.ACTIVE).count()
    return {
        "machine_type": machine_type.key,
        "dataset": {"id": dataset.id, "rows": dataset.rows, "machines": dataset.machines,
                    "fingerprint": dataset.fingerprint},
        "models": [{"id": v.id, "kind": v.kind, "number": v.number, "status": v.status,
                    "metrics": metrics_headline(v.metrics)} for v in versions],
        "synthetic": None if synthesized is None else {
            "dataset": synthesized.id, "synthesizer": synthesized.params["synthesizer"]["kind"],
            "quality": quality_headline(synthesized)},
        "skipped": suite.skipped,
        "predictions": len(predictions),
        "machines_without_readings": active - len({p.machine_id for p in predictions}),
        "seconds": timings,
    }


