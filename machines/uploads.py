"""Sensor file uploads: keep the raw file, check the mapping, queue a job, store the readings,
labels and data-quality report. A failed upload leaves no readings and no labels behind."""

from __future__ import annotations

import csv
import hashlib
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from billing.quotas import plans_with_more_machines
from engine.metadata import observation_labels
from jobs.models import Job
from jobs.services import ProgressFn, job_create, job_enqueue
from machines.ingest.doubts import mapping_doubts_refuse
from machines.ingest.mapping import ColumnMapping, ReadingOptions, mapping_validate
from machines.ingest.parse import ParsedBatch
from machines.ingest.reader import table_open
from machines.ingest.store import DATABASE_ERRORS, IngestProgress, IngestResult, readings_ingest, store_refusal
from machines.labels import LabelCollector
from machines.models import FailureEvent, MachineType, MappingPreset, ObservationLabel, Upload
from machines.observations import ObservationLabelCollector
from machines.quality import QualityReport
from machines.signals import readings_changed_send
from pdm_saas.errors import Conflict, InvalidInput, NotFound, ServiceError, message_short
from tenants.db import connection
from tenants.selectors import tenant_time_zone
from tenants.storage import tenant_path

UPLOAD_KIND = "sensor.upload"
CHUNK = 1024 * 1024
# Rejection codes (machines/ingest/parse.py, fleet.py, store.py) in the words of a message.
REJECTION_WORDS = {"non_numeric": "non-numeric value", "bad_time": "bad time", "negative_cycle": "negative cycle",
                   "unknown_category": "unknown category", "ragged_row": "wrong number of fields",
                   "unknown_machine": "unknown machine", "missing_machine": "no machine name",
                   "plan_limit": "over the plan's machine limit"}
DECIMAL_COMMA_RE = re.compile(r"'[-+]?\d+,\d+'")
DECIMAL_POINT_RE = re.compile(r"'[-+]?\d*\.\d+'")


@contextmanager
def _short_errors() -> Iterator[None]:
    """What is wrong with a person's file reaches the API, the page and the command line: a
    message and problems short enough to read, whatever the file holds."""
    try:
        yield
    except ServiceError as exc:
        exc.message = message_short(exc.message)
        exc.args = (exc.message,)
        if isinstance(exc.details, dict) and isinstance(exc.details.get("problems"), list):
            exc.details["problems"] = [message_short(str(problem)) for problem in exc.details["problems"][:50]]
        raise


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "upload"
    return cleaned[:120]


def upload_file_store(*, chunks: Iterable[bytes], original_name: str) -> tuple[str, int, str]:
    """Stream the file into the tenant's folder; returns (relative path, size, sha256)."""
    relative = f"uploads/{uuid.uuid4().hex}/{_safe_name(original_name)}"
    path = tenant_path(connection.schema_name, *relative.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    digest, size = hashlib.sha256(), 0
    try:
        with path.open("wb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > settings.PDM_MAX_UPLOAD_BYTES:
                    raise InvalidInput(f"The file is larger than the {settings.PDM_MAX_UPLOAD_BYTES // 2**20} MiB "
                                       "limit.", code="file_too_large")
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        _discard(relative)
        raise
    return relative, size, digest.hexdigest()


def _discard(relative: str) -> None:
    path = tenant_path(connection.schema_name, *relative.split("/"))
    path.unlink(missing_ok=True)
    if path.parent.exists() and not any(path.parent.iterdir()):
        path.parent.rmdir()


def upload_path(upload: Upload) -> Path:
    return tenant_path(connection.schema_name, *upload.stored_path.split("/"))


def _preset_get(*, machine_type: MachineType, name: str | None) -> MappingPreset | None:
    if not name:
        return None
    found = MappingPreset.objects.filter(name=name, machine_type=machine_type).first()
    if found is None:
        raise InvalidInput(f"No saved mapping '{name}' for {machine_type.name}.", details={"preset": ["unknown"]})
    return found


def _mapping_for(*, mapping: dict[str, Any] | None, preset: MappingPreset | None) -> ColumnMapping:
    if preset is not None:
        mapping = preset.mapping
    if not mapping:
        raise InvalidInput("Give a column mapping or the name of a saved one.", details={"mapping": ["required"]})
    if not isinstance(mapping, dict):
        raise InvalidInput("The mapping must be a JSON object.", details={"mapping": ["not an object"]})
    return ColumnMapping.from_dict(mapping)


@_short_errors()
def upload_create(
    *, chunks: Iterable[bytes], original_name: str, machine_type_key: str, mapping: dict[str, Any] | None = None,
    preset: str | None = None, save_preset_as: str | None = None, created_by_id: int | None = None,
    reading: ReadingOptions | None = None, confirm_mapping: bool = False,
) -> Upload:
    """`reading` (encoding, delimiter, decimal_mark) overrides the mapping's; None: detect. A
    mapping that may misfile readings (machines/ingest/doubts.py) is refused unless
    `confirm_mapping`."""
    machine_type = _machine_type_get(machine_type_key)
    saved = _preset_get(machine_type=machine_type, name=preset)
    column_mapping = _mapping_for(mapping=mapping, preset=saved)
    if reading:
        column_mapping = replace(column_mapping, encoding=reading["encoding"] or column_mapping.encoding,
                                 delimiter=reading["delimiter"] or column_mapping.delimiter,
                                 decimal_mark=reading["decimal_mark"] or column_mapping.decimal_mark)
    relative, size, sha256 = upload_file_store(chunks=chunks, original_name=original_name)
    try:
        columns = _stored_check(relative=relative, sha256=sha256, machine_type=machine_type, mapping=column_mapping,
                                preset=saved, confirmed=confirm_mapping)
    except BaseException:
        _discard(relative)
        raise
    return _upload_record(relative=relative, size=size, sha256=sha256, original_name=original_name,
                          machine_type=machine_type, column_mapping=column_mapping, columns=columns,
                          save_preset_as=save_preset_as, created_by_id=created_by_id)


def _machine_type_get(key: str) -> MachineType:
    machine_type = MachineType.objects.filter(key=key).first()
    if machine_type is None:
        raise InvalidInput(f"Unknown machine type '{key}'.", details={"machine_type": ["unknown"]})
    return machine_type


def _stored_check(*, relative: str, sha256: str, machine_type: MachineType, mapping: ColumnMapping,
                  preset: MappingPreset | None, confirmed: bool) -> list[str]:
    """Refuse a mapping that does not fit the file, that may misfile its readings (unless
    `confirmed`), or a file already stored with it; returns the file's columns."""
    table = table_open(tenant_path(connection.schema_name, *relative.split("/")), **mapping.reading())
    mapping_validate(mapping, columns=table.columns, machine_type=machine_type)
    if not confirmed:
        mapping_doubts_refuse(mapping=mapping, table=table, preset=preset)
    _refuse_duplicate(sha256=sha256, machine_type=machine_type, mapping=_zoned(mapping))
    return table.columns


def _zoned(mapping: ColumnMapping) -> ColumnMapping:
    """The mapping with the organization's time zone for times without an offset, unless it names
    its own: the upload keeps the zone it was read with, whatever the organization's later is."""
    if mapping.time_zone is not None:
        return mapping
    return replace(mapping, time_zone=tenant_time_zone(tenant_id=connection.tenant.id) or None)


def _upload_record(
    *, relative: str, size: int, sha256: str, original_name: str, machine_type: MachineType,
    column_mapping: ColumnMapping, columns: list[str], save_preset_as: str | None, created_by_id: int | None,
) -> Upload:
    """The Upload (its mapping with the time zone it is read with) and its job; a saved mapping
    keeps the file's header (a later file of another layout does not fit it) and no time zone
    (the organization's, when the next file comes, applies)."""
    with transaction.atomic():
        upload = Upload.objects.create(
            original_name=original_name[:255], stored_path=relative, size_bytes=size, sha256=sha256,
            machine_type=machine_type, mapping=_zoned(column_mapping).as_dict(), created_by_id=created_by_id)
        if save_preset_as:
            MappingPreset.objects.update_or_create(name=save_preset_as, defaults={
                "machine_type": machine_type, "mapping": column_mapping.as_dict(), "header": columns})
        job = job_create(kind=UPLOAD_KIND, params={"upload_id": upload.id}, created_by_id=created_by_id,
                         queue="ingest")
        Upload.objects.filter(id=upload.id).update(job_id=job.id)
        upload.job_id = job.id
        from machines.tasks import upload_process_task

        job_enqueue(job=job, task=upload_process_task)
    return upload



# --- The browser's two-step upload: store and preview the file, then map its columns. ---------


@dataclass(frozen=True)
class StagedFile:
    """A file stored by `upload_stage`, waiting for its column mapping (no Upload row yet)."""

    relative: str
    size: int
    sha256: str
    original_name: str


@dataclass(frozen=True)
class FilePreview:
    columns: list[str]
    rows: list[list[Any]]  # the first rows, cells in column order
    kind: str  # "csv" or "parquet"
    encoding: str = ""  # how the CSV was read: as chosen, else as detected
    delimiter: str = ""
    decimal_mark: str = ""
    dropped: list[tuple[int, str]] = field(default_factory=list)  # rows with the wrong number of fields (first few)


PREVIEW_BLOCK = 1024 * 1024  # enough for the first rows of any sensor file; bounds the read


@_short_errors()
def upload_stage(*, chunks: Iterable[bytes], original_name: str) -> tuple[StagedFile, FilePreview]:
    """Store the file and read its head; an empty, binary, headerless or unreadable file is
    removed and refused (InvalidInput), so a failed preview leaves nothing behind."""
    relative, size, sha256 = upload_file_store(chunks=chunks, original_name=original_name)
    try:
        preview = upload_stage_preview(relative=relative)
    except BaseException:
        _discard(relative)
        raise
    return StagedFile(relative=relative, size=size, sha256=sha256, original_name=original_name), preview


@_short_errors()
def upload_stage_preview(*, relative: str, rows: int = 10, encoding: str | None = None,
                         delimiter: str | None = None, decimal_mark: str | None = None) -> FilePreview:
    """The file's first rows, read as chosen (None: detected)."""
    table = table_open(tenant_path(connection.schema_name, *relative.split("/")), block_size=PREVIEW_BLOCK,
                       encoding=encoding, delimiter=delimiter, decimal_mark=decimal_mark)
    head: list[list[Any]] = []
    try:
        for batch in table.batches():
            head = [list(row.values()) for row in batch.slice(0, rows).to_pylist()]
            break
    except (pa.ArrowException, OSError) as exc:  # CSV errors arrive as InvalidInput already
        raise InvalidInput(f"The file cannot be read: {str(exc).strip()[:300]}", code="unreadable_file") from exc
    if table.kind == "parquet":
        return FilePreview(columns=table.columns, rows=head, kind=table.kind)
    dropped = table.rows_dropped()
    if dropped and not head:
        line, reason = dropped[0]
        raise InvalidInput(f"The file cannot be read: no row has as many fields as the header (line {line}: "
                           f"{reason}). Is the delimiter right?", code="unreadable_file")
    return FilePreview(columns=table.columns, rows=head, kind=table.kind, encoding=table.encoding,
                       delimiter=table.delimiter, decimal_mark=table.decimal_mark, dropped=dropped[:5])


NAIVE_TIME_RE = re.compile(r"^\s*\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?\s*$")  # no Z, no offset


def preview_has_naive_times(preview: FilePreview) -> bool:
    """Whether the first rows hold date-times without an offset (text, or Parquet timestamps
    without a zone): the mapping page then asks for the plant's time zone, once."""
    return any(isinstance(cell, str) and NAIVE_TIME_RE.match(cell)
               or isinstance(cell, datetime) and cell.tzinfo is None
               for row in preview.rows for cell in row)


def upload_stage_discard(*, relative: str) -> None:
    """Drop a staged file the user abandoned (only files never turned into an Upload)."""
    if not Upload.objects.filter(stored_path=relative).exists():
        _discard(relative)


@_short_errors()
def upload_create_staged(
    *, staged: StagedFile, machine_type_key: str, mapping: dict[str, Any], save_preset_as: str | None = None,
    created_by_id: int | None = None, preset: str | None = None, confirm_mapping: bool = False,
) -> Upload:
    """`upload_create` for a file `upload_stage` already stored; `preset` names the saved mapping
    the page filled the columns from (the mapping may have been changed since). A refused
    mapping keeps the file, so the user can correct the mapping and submit again."""
    machine_type = _machine_type_get(machine_type_key)
    saved = _preset_get(machine_type=machine_type, name=preset)
    column_mapping = _mapping_for(mapping=mapping, preset=None)
    columns = _stored_check(relative=staged.relative, sha256=staged.sha256, machine_type=machine_type,
                            mapping=column_mapping, preset=saved, confirmed=confirm_mapping)
    return _upload_record(relative=staged.relative, size=staged.size, sha256=staged.sha256,
                          original_name=staged.original_name, machine_type=machine_type, columns=columns,
                          column_mapping=column_mapping, save_preset_as=save_preset_as, created_by_id=created_by_id)


def _refuse_duplicate(*, sha256: str, machine_type: MachineType, mapping: ColumnMapping) -> None:
    # An upload whose job ended without storing it (failed, canceled; before docs/jobs.md, a
    # worker's death could leave such uploads `processing`) does not hold its file.
    ended = Job.objects.filter(status__in=[Job.Status.FAILED, Job.Status.CANCELED]).values("id")
    earlier = Upload.objects.filter(sha256=sha256, machine_type=machine_type, mapping=mapping.as_dict(),
                                    status__in=[Upload.Status.QUEUED, Upload.Status.PROCESSING,
                                                Upload.Status.SUCCEEDED]).exclude(
        status__in=[Upload.Status.QUEUED, Upload.Status.PROCESSING], job_id__in=ended).first()
    if earlier is not None:
        raise Conflict(f"This file was already uploaded with the same mapping (upload {earlier.id}, "
                       f"{earlier.created_at:%Y-%m-%d %H:%M}); its readings are stored once.",
                       code="duplicate_upload", details={"upload_id": earlier.id})


class RejectedRowsFile:
    """Every rejected row (line and reason), written as the batches pass, for download."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle = path.open("w", newline="", encoding="utf-8")
        self.writer = csv.writer(self.handle)
        self.writer.writerow(["line", "reason"])

    def add(self, parsed: ParsedBatch) -> None:
        rows = [(parsed.line(int(index)), rejection.describe(int(index)))
                for rejection, mask in parsed.rejections_exclusive()
                for index in np.flatnonzero(mask)]  # rejected rows only: usually few
        rows += [(line, f"wrong number of fields: {reason}") for line, reason in parsed.dropped]
        self.writer.writerows(sorted(rows))

    def close(self) -> None:
        self.handle.close()


def upload_process(job: Job, progress: ProgressFn) -> dict[str, Any]:
    """The job: readings, labels and report in one transaction; the outcome on the upload row."""
    upload = Upload.objects.select_related("machine_type").filter(id=job.params.get("upload_id")).first()
    if upload is None:
        raise NotFound("The upload of this job no longer exists.")
    Upload.objects.filter(id=upload.id).update(status=Upload.Status.PROCESSING)
    try:
        summary = _process(upload, progress)
    except DATABASE_ERRORS as exc:  # the labels or the report: same words as a refused reading
        refusal = store_refusal(exc)
        _upload_fail(upload, refusal.message)
        raise refusal from None  # the job shows the meaning; the raw message is in the log
    except Exception as exc:
        message = message_short(getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}")
        _upload_fail(upload, message)
        if isinstance(exc, ServiceError):  # the job's message is the exception's: short too
            exc.message, exc.args = message, (message,)
        raise
    return summary


def _upload_fail(upload: Upload, message: str) -> None:
    Upload.objects.filter(id=upload.id).update(status=Upload.Status.FAILED, error=message,
                                               finished_at=timezone.now())


def upload_job_failed(job: Job) -> None:
    """Whatever ended the job (its handler's error, or its worker died and the sweeper gave up),
    the upload is `failed`, not left `processing`, and so the same file can be sent again. Its
    readings were never committed: they are stored in one transaction, which dies with the
    worker's connection."""
    Upload.objects.filter(id=job.params.get("upload_id"),
                          status__in=[Upload.Status.QUEUED, Upload.Status.PROCESSING]).update(
        status=Upload.Status.FAILED, error=(job.message or "The job failed.")[:1000], finished_at=timezone.now())


def upload_job_requeued(job: Job) -> None:
    """The sweeper sends the job again after its worker died: the upload waits again."""
    Upload.objects.filter(id=job.params.get("upload_id"), status=Upload.Status.PROCESSING).update(
        status=Upload.Status.QUEUED)


def _process(upload: Upload, progress: ProgressFn) -> dict[str, Any]:
    mapping = ColumnMapping.from_dict(upload.mapping)
    table = table_open(upload_path(upload), **mapping.reading())
    quality = QualityReport(document=upload.machine_type.metadata, mapping=mapping, columns=table.columns)
    labels = LabelCollector(mapping, upload.machine_type.metadata)
    classes = ObservationLabelCollector(columns=mapping.labels,
                                        labels=observation_labels(upload.machine_type.metadata))
    rejected = RejectedRowsFile(upload_path(upload).with_name("rejected.csv"))
    machine_ids: set[int] = set()  # of the rows kept: what is scored again once they commit

    def on_batch(batch: Any, parsed: ParsedBatch) -> None:
        quality.add(batch, parsed)
        machine_ids.update(_kept_machines(parsed))
        labels.add(batch, parsed)
        _observation_labels_add(classes, batch, parsed)
        rejected.add(parsed)

    def on_progress(state: IngestProgress) -> None:
        share = state.bytes_read / state.bytes_total if state.bytes_total else 1
        progress(min(99, int(99 * share)), f"{state.rows_read:,} rows read, {state.rows_stored:,} stored")

    # Readings, labels and the outcome on the upload row commit together: should the database
    # refuse any of them (the report included), none of the readings stay.
    try:
        with transaction.atomic():
            result = readings_ingest(source=table, mapping=mapping, machine_type=upload.machine_type,
                                     upload_id=upload.id, progress=on_progress, on_batch=on_batch)
            over_plan = _plan_refusal(result)
            if not result.rows_stored and not result.duplicates:
                message = _nothing_stored(result, decimal_mark=table.decimal_mark)
                if over_plan:  # the plan's words first: the rest may be cut to fit a message
                    message = over_plan["message"] if over_plan["rows"] == result.rows_rejected else (
                        f"{over_plan['message']} {message}")
                raise InvalidInput(message, code="nothing_stored")
            failures = _labels_store(labels.events())
            _observation_labels_store(classes, upload_id=upload.id)
            report = {
                "rows": {"read": result.rows_read, "stored": result.rows_stored, "duplicates": result.duplicates,
                         "rejected": result.rows_rejected, "rejected_by_reason": dict(result.rejected_by_reason)},
                "machines_created": result.machines_created, "failure_events": failures,
                "seconds": round(result.seconds, 3), "plan_limit": over_plan, **quality.report(),
            }
            Upload.objects.filter(id=upload.id).update(
                status=Upload.Status.SUCCEEDED, rows_read=result.rows_read, rows_stored=result.rows_stored,
                duplicates=result.duplicates, rows_rejected=result.rows_rejected, report=report,
                error=over_plan["message"] if over_plan else "", finished_at=timezone.now())
    finally:
        rejected.close()
    summary: dict[str, Any] = {"upload_id": upload.id, **report["rows"]}
    if over_plan:  # the job's message: what a plan refused is not a detail of the report
        summary["message"] = over_plan["message"]
    if result.rows_stored:  # fresh readings: scored now, not at the next scheduled run
        readings_changed_send(machine_type_id=upload.machine_type_id, machine_ids=machine_ids)
    return summary


def _kept_machines(parsed: ParsedBatch) -> list[int]:
    if parsed.machine_ids is None:
        return []
    machines = np.asarray(pc.fill_null(parsed.machine_ids, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    return np.unique(machines[parsed.ok()]).tolist()


def _plan_refusal(result: IngestResult) -> dict[str, Any] | None:
    """Rows a plan limit refused (their machines were not created), said in a sentence with the
    limit and the way up; None when the plan refused nothing."""
    rows = result.rejected_by_reason.get("plan_limit", 0)
    if not rows or result.plan_refusal is None:
        return None
    refusal, machines = result.plan_refusal, len(result.machines_over_plan)
    plans = plans_with_more_machines(int(refusal["limit"]))
    message = (f"{rows:,} of {result.rows_read:,} rows not stored: {machines:,} machines of the file are over "
               f"the plan's limit. {refusal['message']}"
               + (f" Plans with more machines: {', '.join(plans)}." if plans else ""))
    return {"message": message_short(message, limit=500), "rows": rows, "machines": result.machines_over_plan[:100],
            "machines_count": machines, "limit": refusal["limit"], "upgrade_url": refusal.get("upgrade_url"),
            "plans": plans}


def _nothing_stored(result: IngestResult, *, decimal_mark: str) -> str:
    """Why a file stored no reading: every row was rejected; the reasons, the first such row, and
    a hint where one fits."""
    reasons = ", ".join(f"{count:,} {REJECTION_WORDS.get(code, code)}"
                        for code, count in result.rejected_by_reason.most_common())
    message = f"0 of {result.rows_read:,} rows stored: every row was rejected ({reasons})."
    first = result.rejected[0] if result.rejected else None
    if first is not None:
        message += f" Line {first.line}: {first.reason}."
    if first is not None and decimal_mark == "." and DECIMAL_COMMA_RE.search(first.reason):
        message += " Is the decimal mark a comma? Choose ',' as the decimal mark and upload again."
    elif first is not None and decimal_mark == "," and DECIMAL_POINT_RE.search(first.reason):
        message += " Is the decimal mark a point? Choose '.' as the decimal mark and upload again."
    elif "ragged_row" in result.rejected_by_reason:
        message += " Is the delimiter right?"
    return message_short(message)


def _labels_store(events: list[dict[str, Any]]) -> int:
    created = 0
    for event in events:
        occurred = datetime.fromtimestamp(event["ts_us"] / 1e6, tz=UTC)
        _, new = FailureEvent.objects.get_or_create(
            machine_id=event["machine_id"], occurred_at=occurred,
            defaults={"failure_mode": event["failure_mode"], "notes": event["notes"],
                      "source": FailureEvent.Source.LABEL})
        created += int(new)  # a re-upload finds its labels already there
    return created


def _observation_labels_add(collector: ObservationLabelCollector, batch: pa.RecordBatch, parsed: ParsedBatch) -> None:
    """The labels of a batch's stored rows (an ingest's `on_batch` step)."""
    if not collector.columns:
        return
    assert parsed.machine_ids is not None
    ok = parsed.ok()
    machines = np.asarray(pc.fill_null(parsed.machine_ids, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    times = np.asarray(pc.fill_null(parsed.ts_us, 0).to_numpy(zero_copy_only=False), dtype=np.int64)
    collector.add(batch, ok, machines, times, parsed.line)


def _observation_labels_store(collector: ObservationLabelCollector, *, upload_id: int | None) -> int:
    """Store the collected labels; a label already stored for an observation stays (as its
    reading does: a file sent twice changes nothing). Inside the upload's transaction."""
    rows = [ObservationLabel(machine_id=machine_id, ts=datetime.fromtimestamp(ts_us / 1e6, tz=UTC), label=name,
                             value=value, upload_id=upload_id)
            for name, found in collector.rows.items()
            for machine_id, ts_us, value in zip(found.machine_ids, found.ts_us, found.values, strict=True)]
    created = ObservationLabel.objects.bulk_create(rows, ignore_conflicts=True, batch_size=5000)
    return len(created)
