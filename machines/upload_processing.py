"""The job that processes a stored upload (machines/uploads.py keeps the file and queues it):
readings, labels and the data-quality report in one transaction, the rejected-rows file beside
the upload, the outcome on the upload row. A failed upload leaves no readings and no labels behind."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.db import transaction
from django.utils import timezone

from billing.quotas import plans_with_more_machines
from engine.metadata import observation_labels
from jobs.models import Job
from jobs.services import ProgressFn
from machines.ingest.mapping import ColumnMapping
from machines.ingest.parse import ParsedBatch
from machines.ingest.reader import table_open
from machines.ingest.store import DATABASE_ERRORS, IngestProgress, IngestResult, readings_ingest, store_refusal
from machines.labels import LabelCollector
from machines.models import FailureEvent, ObservationLabel, Upload
from machines.observations import ObservationLabelCollector
from machines.quality import QualityReport
from machines.signals import readings_changed_send
from machines.uploads import upload_path
from pdm_saas.errors import InvalidInput, NotFound, ServiceError, message_short

# Rejection codes (machines/ingest/parse.py, fleet.py, store.py) in the words of a message.
REJECTION_WORDS = {"non_numeric": "non-numeric value", "bad_time": "bad time", "negative_cycle": "negative cycle",
                   "unknown_category": "unknown category", "ragged_row": "wrong number of fields",
                   "unknown_machine": "unknown machine", "missing_machine": "no machine name",
                   "plan_limit": "over the plan's machine limit"}
DECIMAL_COMMA_RE = re.compile(r"'[-+]?\d+,\d+'")
DECIMAL_POINT_RE = re.compile(r"'[-+]?\d*\.\d+'")


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
