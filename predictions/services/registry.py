"""The model registry: datasets and model versions with their artifacts, promotion and rollback.

Artifacts (Parquet datasets, model bundles) live in the tenant's folder (`tenants.storage`),
written to a temporary name and renamed, so a crash never leaves a half-written file under a
name a row points to. Loading a bundle checks its SHA-256 against the row. Loaded model sets are
cached per process by (schema, version ids), so a promotion takes effect on the next call.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.db import transaction
from django.db.models import F, Max, Q
from django.utils import timezone

from engine.bundles import Bundle, bundle_dump, bundle_load
from engine.scoring import ModelSet
from engine.training.suite import table_fingerprint
from jobs.models import Job
from machines.models import Machine, MachineType
from pdm_saas.errors import Conflict, InvalidInput, NotFound
from predictions.models import Dataset, ModelEvent, ModelVersion
from tenants.db import connection
from tenants.row_cache import tenant_cached
from tenants.storage import tenant_path

logger = logging.getLogger(__name__)

MODEL_SET_CACHE_SIZE = 64
_cache: OrderedDict[tuple[Any, ...], ModelSet] = OrderedDict()
_cache_lock = threading.Lock()


def artifact_write(relative: str, raw: bytes) -> str:
    """Write bytes under the tenant's folder atomically; returns their SHA-256."""
    path = tenant_path(connection.schema_name, *relative.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    return hashlib.sha256(raw).hexdigest()


def artifact_name(stem: str, *, job_id: int | None) -> str:
    """A unique file name; a job's artifacts carry its id, so that the files of a job that died
    before recording them in a row can still be found and removed (`job_artifacts_remove`)."""
    prefix = f"job{job_id}-" if job_id is not None else ""
    return f"{prefix}{stem}-{uuid.uuid4().hex}"


ARTIFACT_FOLDERS = ("datasets", "models", "synthesizers", "search")


def job_artifacts_remove(*, job_id: int) -> dict[str, int]:
    """Remove what a failed job wrote: its model versions, its datasets and every file named
    after it (including temporary files of a write cut short). Idempotent."""
    versions = ModelVersion.objects.filter(job_id=job_id)
    datasets = Dataset.objects.filter(job_id=job_id)
    paths = [*versions.values_list("artifact_path", flat=True), *datasets.values_list("stored_path", flat=True),
             *(d.params.get("synthesizer", {}).get("artifact_path") for d in datasets if d.params.get("synthesizer"))]
    removed = {"versions": versions.delete()[1].get("predictions.ModelVersion", 0),
               "datasets": datasets.delete()[1].get("predictions.Dataset", 0)}
    root = tenant_path(connection.schema_name)
    named = [path for folder in ARTIFACT_FOLDERS for pattern in (f"job{job_id}-*", f".job{job_id}-*")
             for path in (root / folder).rglob(pattern)]
    for path in {*named, *(tenant_path(connection.schema_name, *p.split("/")) for p in paths if p)}:
        path.unlink(missing_ok=True)
    removed["files"] = len(named)
    return removed


def failed_job_artifacts_remove(job: Job) -> None:
    """A job kind's `on_failed` (jobs/kinds.py): nothing half-made stays behind."""
    removed = job_artifacts_remove(job_id=job.id)
    logger.info("job %s (%s) failed; removed %s", job.id, job.kind, removed)


def artifact_read(relative: str, *, sha256: str | None = None) -> bytes:
    path = tenant_path(connection.schema_name, *relative.split("/"))
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(f"The artifact {relative} is missing from storage.") from exc
    if sha256 is not None and hashlib.sha256(raw).hexdigest() != sha256:
        raise Conflict(f"The artifact {relative} does not match its checksum; retrain this model.")
    return raw


def dataset_store(
    *, machine_type: MachineType, source: str, table: pa.Table, params: Mapping[str, Any] | None = None,
    parent: Dataset | None = None, quality_report: Mapping[str, Any] | None = None, job_id: int | None = None,
) -> Dataset:
    relative = f"datasets/{artifact_name('dataset', job_id=job_id)}.parquet"
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    artifact_write(relative, sink.getvalue().to_pybytes())
    machines = table.column("machine").unique() if "machine" in table.column_names else []
    failures = int(pc.sum(table.column("failed")).as_py() or 0) if "failed" in table.column_names else 0
    return Dataset.objects.create(
        machine_type=machine_type, source=source, parent=parent, params=dict(params or {}), rows=table.num_rows,
        machines=len(machines), failures=failures, fingerprint=table_fingerprint(table), stored_path=relative,
        quality_report=dict(quality_report or {}), job_id=job_id,
    )


def dataset_table(dataset: Dataset) -> pa.Table:
    return pq.read_table(pa.BufferReader(artifact_read(dataset.stored_path)))


_PLAIN = frozenset({str, int, bool, type(None)})


def json_safe(value: Any) -> Any:
    """Metrics as JSON Postgres accepts: NaN and infinities (an undefined AUC, say) become null,
    numpy scalars plain numbers."""
    kind = type(value)  # exact types first: a prediction's explanation is some 500 values
    if kind in _PLAIN:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is dict:
        return {str(k): json_safe(v) for k, v in value.items()}
    if kind is list:
        return [json_safe(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def _metrics_of(bundle: Bundle) -> tuple[dict[str, Any], dict[str, Any]]:
    model = bundle.model
    metrics = dict(getattr(model, "metrics", {}) or {})
    for name in ("validation", "mode_metrics", "sizes", "search"):
        if getattr(model, name, None):
            metrics[name] = getattr(model, name)
    # The model's settings beside its measurements; the RUL interval's *target* coverage must not
    # overwrite the coverage measured on held-out machines, which `metrics` already holds.
    for name, key in (("threshold", "threshold"), ("threshold_note", "threshold_note"), ("horizon_h", "horizon_h"),
                      ("cap_h", "cap_h"), ("q", "q"), ("coverage", "target_coverage")):
        if hasattr(model, name):
            metrics[key] = getattr(model, name)
    return json_safe(metrics), json_safe(dict(getattr(model, "baseline", {}) or {}))


def model_version_register(
    *, machine_type: MachineType, bundle: Bundle, dataset: Dataset, training_seconds: float,
    machine: Machine | None = None, parent: ModelVersion | None = None, params: Mapping[str, Any] | None = None,
    job_id: int | None = None,
) -> ModelVersion:
    """Store a trained bundle as the next candidate version of its (type, machine, kind)."""
    raw = bundle_dump(bundle)
    relative = f"models/{machine_type.key}/{artifact_name(bundle.kind, job_id=job_id)}.zip"
    sha = artifact_write(relative, raw)
    metrics, baseline = _metrics_of(bundle)
    with transaction.atomic():
        MachineType.objects.select_for_update().filter(id=machine_type.id).first()  # serialises numbering
        latest = ModelVersion.objects.filter(machine_type=machine_type, machine=machine, kind=bundle.kind).aggregate(
            n=Max("number"))["n"] or 0
        version = ModelVersion.objects.create(
            machine_type=machine_type, machine=machine, kind=bundle.kind, number=latest + 1, dataset=dataset,
            data_source=dataset.source, data_fingerprint=dataset.fingerprint, parent=parent, params=dict(params or {}),
            metrics=metrics, baseline=baseline, feature_importance=bundle.extra.get("importance", []),
            global_explanation=json_safe(bundle.extra.get("global_explanation") or {}),
            training_seconds=training_seconds, artifact_path=relative, artifact_sha256=sha, job_id=job_id,
        )
        ModelEvent.objects.create(version=version, action="trained", details={"dataset": dataset.id})
    return version


def model_version_promote(*, version_id: int, actor_id: int | None = None, note: str = "") -> ModelVersion:
    """Make a version the champion of its (type, machine, kind); the old champion is archived."""
    with transaction.atomic():
        version = ModelVersion.objects.select_for_update().filter(id=version_id).first()
        if version is None:
            raise NotFound("No such model version.")
        if version.status == ModelVersion.Status.CHAMPION:
            return version
        _champion_replace(version, actor_id=actor_id, note=note, action="promoted")
    return version


def _champion_replace(version: ModelVersion, *, actor_id: int | None, note: str, action: str) -> None:
    current = (ModelVersion.objects.select_for_update()
               .filter(machine_type_id=version.machine_type_id, machine=version.machine, kind=version.kind,
                       status=ModelVersion.Status.CHAMPION).first())
    if current is not None:
        current.status = ModelVersion.Status.ARCHIVED
        current.save(update_fields=["status"])
        ModelEvent.objects.create(version=current, action="archived", actor_id=actor_id,
                                  note=f"replaced by v{version.number}")
    version.status = ModelVersion.Status.CHAMPION
    version.promoted_at = timezone.now()
    version.save(update_fields=["status", "promoted_at"])
    ModelEvent.objects.create(version=version, action=action, actor_id=actor_id, note=note,
                              details={"previous": current.id if current else None})


def model_version_rollback(
    *, machine_type_id: int, kind: str, machine_id: int | None = None, actor_id: int | None = None, note: str = "",
) -> ModelVersion:
    """Bring back the champion before the current one; the current one is archived."""
    with transaction.atomic():
        versions = ModelVersion.objects.select_for_update().filter(
            machine_type_id=machine_type_id, machine__isnull=machine_id is None, kind=kind)
        if machine_id is not None:
            versions = versions.filter(machine_id=machine_id)
        current = versions.filter(status=ModelVersion.Status.CHAMPION).first()
        if current is None:
            raise Conflict(f"There is no {kind} champion to roll back.")
        previous = (versions.filter(status=ModelVersion.Status.ARCHIVED, promoted_at__isnull=False)
                    .exclude(id=current.id).order_by("-promoted_at").first())
        if previous is None:
            raise Conflict(f"v{current.number} is the only {kind} that was ever champion; nothing to roll back to.")
        _champion_replace(previous, actor_id=actor_id, note=note or f"rolled back from v{current.number}",
                          action="rolled_back")
    return previous


def model_version_archive(*, version_id: int, actor_id: int | None = None, note: str = "") -> ModelVersion:
    version = ModelVersion.objects.filter(id=version_id).first()
    if version is None:
        raise NotFound("No such model version.")
    if version.status == ModelVersion.Status.CHAMPION:
        raise InvalidInput("A champion cannot be archived; promote another version or roll back first.")
    ModelVersion.objects.filter(id=version_id).update(status=ModelVersion.Status.ARCHIVED)
    ModelEvent.objects.create(version=version, action="archived", actor_id=actor_id, note=note)
    version.refresh_from_db()
    return version


# What scoring needs of a champion; the metrics and importance JSON are large and not needed.
_CHAMPION_FIELDS = ("id", "kind", "number", "status", "machine_id", "machine_type_id", "artifact_path",
                    "artifact_sha256", "data_source", "promoted_at")


def champion_versions(*, machine_type_id: int, machine_id: int | None = None) -> dict[str, ModelVersion]:
    """The champions that score a machine: its own where it has them, else its type's."""
    scope = Q(machine__isnull=True) | Q(machine_id=machine_id) if machine_id is not None else Q(machine__isnull=True)
    found: dict[str, ModelVersion] = {}
    # Type-wide first, the machine's own after, so the machine's overwrite them.
    champions = ModelVersion.objects.filter(scope, machine_type_id=machine_type_id,
                                            status=ModelVersion.Status.CHAMPION).only(*_CHAMPION_FIELDS)
    for version in champions.order_by(F("machine_id").asc(nulls_first=True)):
        found[version.kind] = version
    return found


def champion_versions_cached(*, machine_type_id: int, machine_id: int | None = None) -> dict[str, ModelVersion]:
    """`champion_versions`, kept per process until a version of the tenant changes
    (tenants/row_cache.py): scoring keys its loaded model sets by them without a query. Shared:
    never change the versions it returns."""
    return tenant_cached("champions", (machine_type_id, machine_id),
                         lambda: champion_versions(machine_type_id=machine_type_id, machine_id=machine_id))


def model_set_for(*, machine_type: MachineType, machine_id: int | None = None) -> ModelSet | None:
    """The loaded champions of a type (or machine); None until a failure classifier is champion."""
    versions = champion_versions_cached(machine_type_id=machine_type.id, machine_id=machine_id)
    if ModelVersion.Kind.FAILURE_CLASSIFIER not in versions:
        return None
    key = (connection.schema_name, machine_type.version,
           tuple(sorted((kind, v.id, v.artifact_sha256, v.data_source) for kind, v in versions.items())))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    bundles = {kind: bundle_load(artifact_read(v.artifact_path, sha256=v.artifact_sha256))
               for kind, v in versions.items()}
    models = ModelSet(machine_type.metadata, bundles, {kind: v.id for kind, v in versions.items()},
                      {kind: v.data_source for kind, v in versions.items()})
    with _cache_lock:
        _cache[key] = models
        while len(_cache) > MODEL_SET_CACHE_SIZE:
            _cache.popitem(last=False)
    return models
