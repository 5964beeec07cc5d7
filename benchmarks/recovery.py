"""Seconds from a worker killed mid-upload to the upload loaded anyway, beside the same upload
on a worker left alone.

    .venv/bin/python benchmarks/recovery.py [--rows 1000000]

Runs against its own database, `pdm_bench` (PDM_BENCH_DATABASE_URL), and broker databases
(PDM_BENCH_REDIS_URL), like the other benchmarks. It:

1. migrates public, the template and the tenant `bench-recovery`, and writes (once; cached in
   .data/bench/) a single-machine CSV of `--rows` rows x 3 sensors of the Siemens motor type;
2. baseline: uploads it with a real Celery worker (`-Q ingest`, the project's settings)
   and times queue -> succeeded;
3. recovery: uploads it again (for another machine, so that nothing is a duplicate), SIGKILLs the
   worker once the job shows progress (rows being stored), starts a new worker, and runs the sweeper the way beat does
   (every JOB_SWEEP_SECONDS, cutoff JOB_STALE_AFTER_SECONDS: the configured defaults); times the
   kill -> requeued and kill -> succeeded, and checks every row was stored exactly once;
4. prints both, with the configured limits and what the previous settings would have done.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Sets DATABASE_URL to the benchmark database and the Redis URLs to the benchmark's databases.
from benchmarks.ingest import bench_tenant_with_type, schemas_migrate  # noqa: E402
from benchmarks.tenant_provision import BENCH_DATABASE_URL, broker_purge, database_ensure  # noqa: E402

TENANT_SLUG = "bench-recovery"
TYPE_KEY = "induction-motor-siemens-1la7"
SENSORS = {"Current (A)": "current_a", "Winding temp": "winding_temp_c", "Vibration": "vibration_de_mm_s"}
DATA_DIR = REPO / ".data" / "bench"
PREFIX = "recovery:"
OLD_STALE_AFTER, OLD_SWEEP = 15 * 60, 5 * 60  # the settings before: 15 min cutoff, swept every 5 min


def say(message: str = "") -> None:
    print(f"{PREFIX} {message}" if message else "", flush=True)


def csv_ensure(rows: int) -> Path:
    import numpy as np

    path = DATA_DIR / f"recovery-{rows}.csv"
    if path.exists():
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    stamps = (np.datetime64("2024-01-01T00:00:00") + np.arange(rows).astype("timedelta64[m]")).astype(str)
    index = np.arange(rows)
    partial = path.with_suffix(".part")
    with partial.open("w") as out:
        out.write("timestamp," + ",".join(SENSORS) + "\n")
        for start in range(0, rows, 500_000):
            part = slice(start, start + 500_000)
            out.writelines(f"{t}Z,{12 + i % 50 / 10:.1f},{70 + i % 30 / 10:.1f},1.2\n"
                           for t, i in zip(stamps[part], index[part], strict=True))
    partial.rename(path)
    return path


def tenant_prepare() -> object:
    from django_tenants.utils import tenant_context

    from machines.models import Machine, Upload

    tenant = bench_tenant_with_type(slug=TENANT_SLUG, organization="Bench recovery", type_key=TYPE_KEY)
    with tenant_context(tenant):
        Upload.objects.all().delete()  # the same file is uploaded on every run
        Machine.objects.filter(name__startswith="Bench-").delete()
    return tenant


def upload(tenant: object, path: Path, machine_name: str) -> int:
    from django_tenants.utils import tenant_context

    from machines.uploads import upload_create

    mapping = {"time_column": "timestamp", "machine_name": machine_name, "create_unknown_machines": True,
               "sensors": SENSORS}
    with tenant_context(tenant), path.open("rb") as handle:
        created = upload_create(chunks=iter(lambda: handle.read(1 << 20), b""), original_name=path.name,
                                machine_type_key=TYPE_KEY, mapping=mapping)
    return int(created.job_id or 0)


def job_status(tenant: object, job_id: int) -> tuple[str, int]:
    from django_tenants.utils import tenant_context

    from jobs.models import Job

    with tenant_context(tenant):
        job = Job.objects.get(id=job_id)
        return job.status, job.attempts


def job_progress(tenant: object, job_id: int) -> int:
    from django_tenants.utils import tenant_context

    from jobs.models import Job

    with tenant_context(tenant):
        return int(Job.objects.get(id=job_id).progress)


def readings_of(tenant: object, machine_name: str) -> int:
    from django_tenants.utils import tenant_context

    from machines.models import Machine
    from machines.selectors import readings_count

    with tenant_context(tenant):
        machine = Machine.objects.get(name=machine_name)
        return readings_count(machine_id=machine.id)


def worker_start(log: Path) -> subprocess.Popen[bytes]:
    args = [str(Path(sys.executable).with_name("celery")), "-A", "pdm_saas", "worker", "-Q", "ingest",
            "-P", "solo", "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with log.open("w") as out:
        child = subprocess.Popen(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                 env=dict(os.environ, PYTHONUNBUFFERED="1"))
    wait(lambda: " ready." in log.read_text(), timeout=120, what="the worker")
    return child


def worker_stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def wait(predicate: Callable[[], bool], *, timeout: float, what: str, every: float = 0.2) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(every)
    raise SystemExit(f"{PREFIX} timed out after {timeout:.0f} s waiting for {what}")


def baseline(tenant: object, path: Path, logs: Path) -> float:
    child = worker_start(logs / "baseline-worker.log")
    try:
        started = time.monotonic()
        job_id = upload(tenant, path, "Bench-baseline")
        wait(lambda: job_status(tenant, job_id)[0] in ("succeeded", "failed"), timeout=1800, what="the upload")
        seconds = time.monotonic() - started
    finally:
        worker_stop(child)
    status, _ = job_status(tenant, job_id)
    if status != "succeeded":
        raise SystemExit(f"{PREFIX} the baseline upload {status}")
    return seconds


def killed(tenant: object, path: Path, logs: Path, rows: int) -> dict[str, float]:
    from django.conf import settings
    from django_tenants.utils import tenant_context

    from jobs.services import jobs_sweep_stale

    first = worker_start(logs / "killed-worker.log")
    job_id = upload(tenant, path, "Bench-killed")
    wait(lambda: job_progress(tenant, job_id) > 0, timeout=300, what="the upload to store rows")
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed_at = time.monotonic()
    if job_status(tenant, job_id)[0] != "running":
        raise SystemExit(f"{PREFIX} the upload ended before the kill; give more --rows")
    second = worker_start(logs / "restarted-worker.log")
    try:
        def swept() -> bool:  # what beat sends every JOB_SWEEP_SECONDS
            with tenant_context(tenant):
                jobs_sweep_stale(stale_after_seconds=settings.JOB_STALE_AFTER_SECONDS)
            return job_status(tenant, job_id)[0] != "running"

        requeued = wait(swept, timeout=600, what="the sweeper", every=settings.JOB_SWEEP_SECONDS)
        wait(lambda: job_status(tenant, job_id)[0] in ("succeeded", "failed"), timeout=1800, what="the requeued job")
        finished = time.monotonic() - killed_at
    finally:
        worker_stop(second)
    status, attempts = job_status(tenant, job_id)
    stored = readings_of(tenant, "Bench-killed")
    if status != "succeeded" or stored != rows:
        raise SystemExit(f"{PREFIX} after the kill the job {status} with {stored:,} of {rows:,} rows stored")
    return {"requeued": requeued, "finished": finished, "attempts": attempts, "stored": stored}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the uploaded file (default 1M)")
    args = parser.parse_args(argv)
    url = urlparse(BENCH_DATABASE_URL)
    say(f"database {url.hostname}:{url.port or 5432}/{url.path.lstrip('/')}")
    database_ensure(BENCH_DATABASE_URL)
    import django

    django.setup()
    from django.conf import settings

    schemas_migrate(TENANT_SLUG)
    tenant = tenant_prepare()
    path = csv_ensure(args.rows)
    logs = DATA_DIR / "recovery-logs"
    logs.mkdir(parents=True, exist_ok=True)
    try:
        clean = baseline(tenant, path, logs)
        run = killed(tenant, path, logs, args.rows)
    finally:
        broker_purge()
    stale, sweep, beat = settings.JOB_STALE_AFTER_SECONDS, settings.JOB_SWEEP_SECONDS, settings.JOB_HEARTBEAT_SECONDS
    say(f"{args.rows:,}-row upload; heartbeat every {beat} s, stale after {stale} s, swept every {sweep} s")
    say(f"  no kill (baseline)                          {clean:7.1f} s queue -> succeeded")
    say(f"  worker SIGKILLed while storing rows:  requeued {run['requeued']:7.1f} s after the kill "
        f"(limit 120 s; worst case {stale + sweep} s)")
    say(f"                                   succeeded {run['finished']:7.1f} s after the kill, attempt "
        f"{run['attempts']:.0f}, {run['stored']:,.0f} of {args.rows:,} rows stored once")
    say(f"  previous settings: failed (never loaded) {OLD_STALE_AFTER}-{OLD_STALE_AFTER + OLD_SWEEP} s after the kill, "
        "the upload left `processing` and its file refused as a duplicate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
