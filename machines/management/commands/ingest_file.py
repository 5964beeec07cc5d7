"""Import a sensor file into one tenant, printing progress and the data-quality summary.

    manage.py ingest_file --tenant acme --type turbofan-engine-cmapss --mapping mapping.json train_FD001.csv

The mapping is a JSON file (docs/ingest.md) or the name of a saved mapping (--preset);
--encoding, --delimiter and --decimal-mark override what is detected in the file. Runs
inline, as the upload job would, with the same checks and all-or-nothing storage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from jobs.models import Job
from jobs.services import job_execute
from machines.ingest.mapping import ReadingOptions
from machines.models import Upload
from machines.textfiles import DELIMITERS, ENCODINGS
from machines.uploads import CHUNK, upload_create
from pdm_saas.errors import ServiceError
from tenants.command_line import command_error, tenant_or_error


def _chunks(path: Path) -> Any:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--type", required=True, dest="machine_type", help="machine type key")
        parser.add_argument("--mapping", type=Path, help="column mapping JSON file")
        parser.add_argument("--preset", help="name of a saved mapping")
        parser.add_argument("--save-preset-as")
        parser.add_argument("--encoding", choices=ENCODINGS, help="how the CSV text is encoded (default: detected)")
        parser.add_argument("--delimiter", choices=list(DELIMITERS), help="CSV delimiter (default: detected)")
        parser.add_argument("--decimal-mark", choices=[".", ","], help="'.' or ',' (default: detected)")
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_or_error(options["tenant"])
        mapping = json.loads(options["mapping"].read_text()) if options["mapping"] else None
        with tenant_context(tenant):
            try:
                upload = upload_create(
                    chunks=_chunks(options["file"]), original_name=options["file"].name,
                    machine_type_key=options["machine_type"], mapping=mapping, preset=options["preset"],
                    save_preset_as=options["save_preset_as"],
                    reading=ReadingOptions(encoding=options["encoding"], delimiter=options["delimiter"],
                                           decimal_mark=options["decimal_mark"]))
            except ServiceError as exc:
                raise command_error(exc) from exc
            self._run(upload)

    def _run(self, upload: Upload) -> None:
        from machines.uploads import upload_process

        # The job was queued for a worker; run it here instead (claiming it first, so a worker
        # that picks the message up later finds it taken).
        def progress_printing(job: Job, progress: Any) -> dict[str, Any]:
            def show(percent: int, message: str = "") -> None:
                progress(percent, message)
                self.stdout.write(f"\r[{percent:3d}%] {message}", ending="")
                self.stdout.flush()

            return upload_process(job, show)

        job_execute(job_id=upload.job_id or 0, handler=progress_printing)
        upload.refresh_from_db()
        self.stdout.write("")
        if upload.status != Upload.Status.SUCCEEDED:
            raise CommandError(f"Upload {upload.id} failed: {upload.error}")
        rows = upload.report["rows"]
        self.stdout.write(self.style.SUCCESS(
            f"Upload {upload.id}: {rows['read']:,} rows read, {rows['stored']:,} stored, "
            f"{rows['duplicates']:,} duplicates, {rows['rejected']:,} rejected, "
            f"{upload.report['failure_events']} failure events, machines created: "
            f"{len(upload.report['machines_created'])}"))
        for name, sensor in upload.report["sensors"].items():
            flags = [flag for flag in ("stuck", "constant") if sensor[flag]]
            if sensor["unit_suspect"]:
                flags.append(sensor["unit_suspect"])
            if sensor["missing"] or sensor["out_of_range"] or flags:
                self.stdout.write(f"  {name}: {sensor['missing_pct']}% missing, {sensor['out_of_range']} out of "
                                  f"range {', '.join(flags)}".rstrip())
