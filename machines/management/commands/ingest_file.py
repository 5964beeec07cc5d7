"""Import a sensor file into one tenant, printing progress and the data-quality summary.

    manage.py ingest_file --tenant acme --type turbofan-engine-cmapss --mapping mapping.json train_FD001.csv

The mapping is a JSON file (docs/ingest.md) or the name of a saved mapping (--preset). Without
either, or for what the JSON file leaves out (its sensors, time, machine, failure or failure-mode
column, failure-mode flags), the columns are guessed from the headers as the upload form guesses
them, and the guess is printed.
--encoding, --delimiter and --decimal-mark override what is detected in the file. Runs
inline, as the upload job would, with the same checks and all-or-nothing storage. Exits non-zero
when the upload fails or a plan limit refused some of its rows.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_tenants.utils import tenant_context

from jobs.models import Job
from jobs.services import job_execute
from machines.ingest.mapping import ReadingOptions, mapping_complete
from machines.ingest.reader import table_open
from machines.models import MachineType, Upload
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
        parser.add_argument("--create-machines", action="store_true",
                            help="create machines the file names that do not exist yet")
        parser.add_argument("--confirm-mapping", action="store_true",
                            help="import even if the mapping may misfile readings (docs/ingest.md)")
        parser.add_argument("--encoding", choices=ENCODINGS, help="how the CSV text is encoded (default: detected)")
        parser.add_argument("--delimiter", choices=list(DELIMITERS), help="CSV delimiter (default: detected)")
        parser.add_argument("--decimal-mark", choices=[".", ","], help="'.' or ',' (default: detected)")
        parser.add_argument("file", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        tenant = tenant_or_error(options["tenant"])
        mapping = json.loads(options["mapping"].read_text()) if options["mapping"] else None
        reading = ReadingOptions(encoding=options["encoding"], delimiter=options["delimiter"],
                                 decimal_mark=options["decimal_mark"])
        with tenant_context(tenant):
            try:
                if not options["preset"]:
                    mapping = self._completed(mapping or {}, path=options["file"], reading=reading,
                                              machine_type_key=options["machine_type"])
                    if options["create_machines"]:
                        mapping["create_unknown_machines"] = True
                upload = upload_create(
                    chunks=_chunks(options["file"]), original_name=options["file"].name,
                    machine_type_key=options["machine_type"], mapping=mapping, preset=options["preset"],
                    save_preset_as=options["save_preset_as"],
                    reading=reading, confirm_mapping=options["confirm_mapping"])
            except ServiceError as exc:
                raise command_error(exc) from exc
            self._run(upload)

    def _completed(self, given: dict[str, Any], *, path: Path, reading: ReadingOptions,
                   machine_type_key: str) -> dict[str, Any]:
        """The mapping with what it leaves out guessed from the file's headers; prints the guess."""
        machine_type = MachineType.objects.filter(key=machine_type_key).first()
        if machine_type is None:  # upload_create says so in its words
            return given
        options = {name: reading[name] or given.get(name) for name in ("encoding", "delimiter", "decimal_mark")}
        columns = table_open(path, **options).columns  # type: ignore[arg-type]
        mapping = mapping_complete(given, columns=columns, machine_type=machine_type)
        if not mapping.get("time_column"):
            raise CommandError(f"No column looks like the time (columns: {', '.join(columns)}); "
                               "name it as time_column in --mapping.")
        self._guess_print(mapping, given=given, columns=columns)
        return mapping

    def _guess_print(self, mapping: dict[str, Any], *, given: dict[str, Any], columns: list[str]) -> None:
        used: set[str] = set(mapping["sensors"])
        for role in ("time_column", "machine_column", "failure_column", "failure_mode_column"):
            if mapping.get(role):
                used.add(mapping[role])
                source = "given" if given.get(role) else "guessed"
                self.stdout.write(f"{role.replace('_', ' ')}: {mapping[role]} ({source})")
        source = "given" if given.get("sensors") else "matched by name"
        for header, sensor in mapping["sensors"].items():
            self.stdout.write(f"  {header} -> {sensor} ({source})")
        flags = mapping.get("failure_mode_flags") or {}
        source = "given" if "failure_mode_flags" in given else "matched by failure mode"
        for header, mode in (flags.items() if isinstance(flags, dict) else zip(flags, flags, strict=True)):
            used.add(header)
            self.stdout.write(f"  {header} -> failure mode {mode} ({source})")
        ignored = [column for column in columns if column not in used]
        self.stdout.write(f"ignored columns: {', '.join(ignored) if ignored else 'none'}")

    def _run(self, upload: Upload) -> None:
        from machines.upload_processing import upload_process

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
        if upload.report.get("plan_limit"):  # stored in part: a script must not take it for done
            raise CommandError(upload.report["plan_limit"]["message"])
