"""Retraining (point 1 of the package docstring): a retrain job whose result is a challenger pair
in shadow, at most one pending per machine type."""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from engine.bundles import FAILURE, RUL, Bundle, bundle_load
from engine.synthetic.simulator import simulation_scale
from jobs.models import Job
from jobs.services import ProgressFn, job_create, job_enqueue
from machines.baselines import baseline_model_steps
from machines.models import MachineType
from pdm_saas.errors import Conflict, InvalidInput
from predictions.models import Dataset, ModelEvent, ModelVersion, metrics_headline
from predictions.services.registry import artifact_read, champion_versions, dataset_store, model_version_register

CHALLENGER_KIND = "models.challenger"
KINDS = (FAILURE, RUL)
DEFAULT_MACHINES = 100
S = ModelVersion.Status


def challenger_pending(*, machine_type_id: int) -> ModelVersion | None:
    """The type's classifier challenger in shadow, if any (shadow scoring asks on every call: without
    the model page's global explanation)."""
    pending = ModelVersion.objects.filter(machine_type_id=machine_type_id, machine__isnull=True, kind=FAILURE,
                                          status=S.CANDIDATE, shadow_since__isnull=False)
    return pending.defer("global_explanation").first()


def _job_pending(machine_type_id: int) -> Job | None:
    return Job.objects.filter(kind=CHALLENGER_KIND, params__machine_type_id=machine_type_id,
                              status__in=(Job.Status.QUEUED, Job.Status.RUNNING)).first()


def challenger_request(*, machine_type: MachineType, reason: str, created_by_id: int | None = None,
                       details: dict[str, Any] | None = None) -> Job | None:
    """Queue a retrain whose result is a challenger; None when one is already pending for the type."""
    from predictions.tasks import challenger_train_task  # tasks import services, not the reverse

    with transaction.atomic():
        MachineType.objects.select_for_update().filter(id=machine_type.id).first()  # one request at a time
        if challenger_pending(machine_type_id=machine_type.id) or _job_pending(machine_type.id):
            return None
        if FAILURE not in champion_versions(machine_type_id=machine_type.id):
            raise Conflict(f"{machine_type.name} has no champion to challenge; onboard the type first.")
        job = job_create(kind=CHALLENGER_KIND, queue="train", created_by_id=created_by_id,
                         params={"machine_type_id": machine_type.id, "reason": reason, "details": details or {}})
        job_enqueue(job=job, task=challenger_train_task)
    return job


def challenger_start(*, machine_type: MachineType, created_by_id: int | None = None) -> Job:
    """By hand (API, model page): like `challenger_request`, but says why nothing was queued."""
    job = challenger_request(machine_type=machine_type, reason="manual", created_by_id=created_by_id)
    if job is None:
        pending = challenger_pending(machine_type_id=machine_type.id)
        raise Conflict(f"v{pending.number} of {machine_type.name} is already shadowing; decide it first."
                       if pending else f"A challenger of {machine_type.name} is already being trained.")
    return job


def challenger_train_run(job: Job, progress: ProgressFn) -> dict[str, Any]:
    """The job: train, register the challenger pair, start the shadow."""
    # Imported here: scoring imports this module, and the training stack stays out of web start-up.
    from engine.training.classifier import default_horizon_h
    from engine.training.suite import train_suite
    from predictions.services.training import job_machine_type

    machine_type = job_machine_type(job)
    existing = ModelVersion.objects.filter(job_id=job.id, kind=FAILURE).first()
    if existing is not None:  # a rerun after the versions were stored
        return {"challenger": existing.id, "skipped": "already trained"}
    champions = champion_versions(machine_type_id=machine_type.id)
    champion = champions.get(FAILURE)
    if champion is None or champion.machine_id is not None:
        raise Conflict(f"{machine_type.name} has no type-wide champion classifier to challenge.")
    champion = ModelVersion.objects.select_related("dataset").get(id=champion.id)
    started = time.perf_counter()
    progress(5, "Reading the type's data")
    table, source, time_scale, params, init = _training_data(machine_type, champion, champions)
    horizon_h = float(champion.metrics.get("horizon_h") or default_horizon_h(table))
    dataset = dataset_store(machine_type=machine_type, source=source, table=table, params=params, job_id=job.id)
    progress(15, f"Training on {source} data")
    # On real data, a kind whose champion cannot continue boosting (a searched LightGBM or blend)
    # is chosen by the model search again, as real-data training chose its champion.
    from predictions.services.real_training import search_settings  # imports this module's neighbours

    search = search_settings() if source == Dataset.Source.REAL else None
    # A simulated challenger is a cold-start model: it keeps the noise its baselines scale to.
    baseline_steps = (baseline_model_steps(machine_type.metadata, simulation_scale(machine_type.metadata))
                      if source == Dataset.Source.SIMULATED else None)
    suite = train_suite(table, machine_type.metadata, horizon_h=horizon_h, seed=int(params["seed"]),
                        kinds=list(KINDS), init=init or None, search=search, time_scale=time_scale,
                        baseline_steps=baseline_steps, progress=lambda p, m: progress(15 + int(p * 0.8), m))
    base = {"horizon_h": horizon_h, "seed": params["seed"]}
    traffic = min(max(float(settings.CHALLENGER_TRAFFIC), 0.0), 1.0)
    tag = {"reason": job.params.get("reason", "manual"), "champion_id": champion.id, "job": job.id,
           **job.params.get("details", {}), "traffic": traffic}
    now = timezone.now()
    with transaction.atomic():
        versions = {kind: model_version_register(
            machine_type=machine_type, bundle=suite.bundles[kind], dataset=dataset, job_id=job.id,
            training_seconds=suite.seconds[kind], parent=champions.get(kind) if kind in init else None,
            params={**base, "training": _training_label(params["training"], kind, init, source),
                    "challenger": {**tag, "champion_id": champions[kind].id if kind in champions else None}})
            for kind in KINDS if kind in suite.bundles}
        classifier = versions[FAILURE]
        rul = versions.get(RUL)
        challenge = {**classifier.params["challenger"], "rul_id": rul.id if rul else None}
        ModelVersion.objects.filter(id=classifier.id).update(params={**classifier.params, "challenger": challenge})
        ModelVersion.objects.filter(id__in=[v.id for v in versions.values()]).update(shadow_since=now)
        ModelEvent.objects.create(
            version=classifier, action="challenger_created",
            note=f"challenger of v{champion.number} ({tag['reason']}), trained on {source} data; "
                 + (f"serving {traffic:.0%} of the machines, shadowing the rest" if traffic else "shadowing"),
            details={**challenge, "dataset": dataset.id, "skipped": suite.skipped,
                     "metrics": metrics_headline(classifier.metrics, _CLASSIFIER_HEADLINE),
                     "champion_metrics": metrics_headline(champion.metrics, _CLASSIFIER_HEADLINE)})
    progress(100, "Challenger shadowing")
    return {"challenger": classifier.id, "rul": rul.id if rul else None, "dataset": dataset.id, "source": source,
            "metrics": metrics_headline(classifier.metrics, _CLASSIFIER_HEADLINE),
            "seconds": round(time.perf_counter() - started, 2)}


def _training_data(machine_type: MachineType, champion: ModelVersion, champions: dict[str, ModelVersion],
                   ) -> tuple[pa.Table, str, float, dict[str, Any], dict[str, Bundle]]:
    """Real data fine-tuned from the champions when there is enough, else a new simulated fleet."""
    from engine.synthetic.simulator import simulate_fleet
    from predictions.services.real_training import real_table
    from predictions.services.training import LIMITS

    seed = int(champion.params.get("seed") or 0) + 1000 + champion.number
    try:
        table, time_scale = real_table(machine_type=machine_type)
    except InvalidInput as exc:
        low, high = LIMITS["machines"]
        machines = int(min(max(champion.dataset.machines if champion.dataset else DEFAULT_MACHINES, low), high))
        table = simulate_fleet(machine_type.schema, machines=machines, seed=seed)
        # A type simulated in cycles keeps cycle models (the table's step travels to train_suite).
        return table, Dataset.Source.SIMULATED, simulation_scale(machine_type.metadata).time_scale, {
            "generator": "physics simulator", "machines": machines, "seed": seed,
            "training": "simulated, new seed", "why_not_real": exc.message}, {}
    from engine.training.suite import continues_boosting

    # A searched champion (LightGBM, a blend) cannot continue boosting: its kind trains afresh.
    init = {kind: bundle for kind, bundle in ((kind, version_bundle(v)) for kind, v in champions.items()
                                              if kind in KINDS)
            if continues_boosting(bundle)}
    return table, Dataset.Source.REAL, time_scale, {
        "seed": seed, "time_scale": time_scale, "training": "real, fine-tuned from the champions"}, init


def _training_label(training: str, kind: str, init: dict[str, Bundle], source: str) -> str:
    """What the version's own training was: real data trains a kind afresh, by the model search,
    when its champion could not continue boosting."""
    if source == Dataset.Source.REAL and kind not in init:
        if kind in (FAILURE, RUL):
            return "real, trained afresh by the model search (the champion cannot continue boosting)"
        return "real, trained afresh"  # the anomaly detector and forecaster never continue training
    return training


def version_bundle(version: ModelVersion) -> Bundle:
    return bundle_load(artifact_read(version.artifact_path, sha256=version.artifact_sha256))


_CLASSIFIER_HEADLINE = ("f1", "precision", "recall", "fpr")
