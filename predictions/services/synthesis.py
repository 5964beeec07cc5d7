"""Synthesized datasets: an SDV synthesizer fitted on a stored dataset (simulated or a tenant's
real one), its sample stored as a new `synthesized` dataset with the SDMetrics quality report,
and the fitted synthesizer kept as an artifact beside it (`engine/synthetic/synthesizers.py`
explains the kinds, the levels and why GaussianCopula on window features is the default).

A job on the `synth` queue (`synthesis_start`), or inline as a stage of onboarding.
"""

from __future__ import annotations

from typing import Any

from jobs.models import Job
from jobs.services import ProgressFn, job_create, job_enqueue, no_progress
from pdm_saas.errors import InvalidInput, NotFound
from predictions.models import Dataset
from predictions.services.registry import artifact_name, artifact_write, dataset_store, dataset_table, json_safe

SYNTH_KIND = "datasets.synthesize"
KINDS = ("gaussian_copula", "tvae", "ctgan", "hybrid")
LEVELS = ("window", "row")
MAX_ROWS = 200_000
DEFAULT_ROWS = 10_000  # sampled when the caller names no size


def synthesis_params(*, kind: str = "gaussian_copula", level: str = "window", rows: int | None = None,
                     epochs: int | None = None, seed: int = 0) -> dict[str, Any]:
    if kind not in KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(KINDS)}.", details={"kind": ["unknown"]})
    if level not in LEVELS:
        raise InvalidInput(f"level must be one of {', '.join(LEVELS)}.", details={"level": ["unknown"]})
    if rows is not None and not 1 <= rows <= MAX_ROWS:
        raise InvalidInput(f"rows must be between 1 and {MAX_ROWS:,}.", details={"rows": ["out of range"]})
    if epochs is not None and not 1 <= epochs <= 1000:
        raise InvalidInput("epochs must be between 1 and 1000.", details={"epochs": ["out of range"]})
    return {"kind": kind, "level": level, "rows": rows, "epochs": epochs, "seed": seed}


def synthesis_start(*, dataset: Dataset, created_by_id: int | None = None, **params: Any) -> Job:
    from predictions.tasks import synthesis_task

    checked = synthesis_params(**params)
    job = job_create(kind=SYNTH_KIND, params={"dataset_id": dataset.id, **checked}, created_by_id=created_by_id,
                     queue="synth")
    job_enqueue(job=job, task=synthesis_task)
    return job


def synthesis_run(job: Job, progress: ProgressFn) -> dict[str, Any]:
    source = Dataset.objects.select_related("machine_type").filter(id=job.params.get("dataset_id")).first()
    if source is None:
        raise NotFound("The dataset of this job no longer exists.")
    params = {k: job.params[k] for k in ("kind", "level", "rows", "epochs", "seed")}
    made = dataset_synthesize(source=source, job_id=job.id, progress=progress, **params)
    return {"dataset": made.id, "quality": quality_headline(made)}


def quality_headline(dataset: Dataset) -> dict[str, Any]:
    return {k: dataset.quality_report.get(k) for k in ("overall", "column_shapes", "column_pair_trends")}


def dataset_synthesize(*, source: Dataset, kind: str = "gaussian_copula", level: str = "window",
                       rows: int | None = None, epochs: int | None = None, seed: int = 0, job_id: int | None = None,
                       progress: ProgressFn | None = None) -> Dataset:
    """Fit, save the synthesizer, sample, report, store: the new dataset."""
    from engine.synthetic.synthesizers import fit_synthesizer, quality_report  # SDV and torch: workers only

    report: ProgressFn = progress or no_progress
    table = dataset_table(source)
    document = source.machine_type.metadata
    try:
        synthesizer = fit_synthesizer(table, document, kind=kind, level=level, epochs=epochs, seed=seed,
                                      progress=lambda p, m: report(int(p * 0.8), f"Fitting {kind}: {m}"))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    relative = f"synthesizers/{source.machine_type.key}/{artifact_name(f'{kind}-{level}', job_id=job_id)}.bin"
    sha = artifact_write(relative, synthesizer.save())
    report(82, "Sampling")
    sample = synthesizer.sample(rows or min(table.num_rows, DEFAULT_ROWS), seed=seed)
    report(90, "Measuring quality (SDMetrics)")
    quality = quality_report(table, sample, document)
    return dataset_store(
        machine_type=source.machine_type, source=Dataset.Source.SYNTHESIZED, table=sample, parent=source,
        quality_report=json_safe(quality), job_id=job_id,
        params={"generator": f"SDV {kind}", "level": level, "seed": seed, "synthesizer": {
            "kind": kind, "level": level, "epochs": synthesizer.epochs,
            "fit_seconds": round(synthesizer.fit_seconds, 2), "rows_fitted": synthesizer.rows_fitted,
            "artifact_path": relative, "artifact_sha256": sha}},
    )
