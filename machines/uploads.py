"""Sensor file uploads: keep the raw file, check the mapping, queue a job. The job, which stores
the readings, labels and data-quality report, is machines/upload_processing.py."""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from django.conf import settings
from django.db import transaction

from jobs.models import Job
from jobs.services import job_create, job_enqueue
from machines.ingest.doubts import mapping_doubts_refuse
from machines.ingest.mapping import ColumnMapping, ReadingOptions, mapping_validate
from machines.ingest.reader import table_open
from machines.models import MachineType, MappingPreset, Upload
from pdm_saas.errors import Conflict, InvalidInput, ServiceError, message_short
from tenants.db import connection
from tenants.selectors import tenant_time_zone
from tenants.storage import tenant_path

UPLOAD_KIND = "sensor.upload"
CHUNK = 1024 * 1024


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
