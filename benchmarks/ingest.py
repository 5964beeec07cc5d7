"""Sensor readings per second through our ingest path, beside `psql \\copy` of the same file.

    .venv/bin/python benchmarks/ingest.py [--rows 10000000] [--small-rows N]

Runs against its own database, `pdm_bench` (created if missing; PDM_BENCH_DATABASE_URL points
it elsewhere), never the application's. It:

1. migrates public, the tenant template and the bench tenant (not every tenant), and generates
   (once; cached in .data/bench/) a CSV of `--rows` rows x 10 sensors for 100 machines, ISO
   timestamps one minute apart per machine, and a smaller one of `--small-rows`;
2. times `psql \\copy` of each file into a plain table with matching columns (timestamptz,
   text, 10 x real): the baseline;
3. times `machines.ingest.store.readings_ingest` on each file into the tenant `bench-ingest`
   (signed up if missing; its readings and machines are emptied first, and the 100 machines are
   created by the ingest), each in a fresh child process that reports its peak RSS. The tenant is
   put on the enterprise plan first: signup's trial allows 3 machines, and the rows of the others
   would be refused, not ingested;
4. checks the work was done (every row of each file stored, 100 machines created), else says
   what is missing and exits 1 without a figure;
5. prints rows/s, readings/s (rows x 10), the ratio to \\copy, and peak memory for both sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Sets DATABASE_URL to the benchmark database and the Redis URLs to the benchmark's databases.
from benchmarks.tenant_provision import BENCH_DATABASE_URL, broker_purge, database_ensure  # noqa: E402

TYPE_KEY = "wind-turbine-gearbox"  # exactly 10 numeric sensors
SENSORS = ["rotor_speed_rpm", "generator_speed_rpm", "active_power_kw", "gearbox_oil_temp_c", "hss_bearing_temp_c",
           "ims_bearing_temp_c", "gearbox_vibration_mm_s", "oil_debris_count_per_h", "wind_speed_m_s",
           "nacelle_temp_c"]
MACHINES = 100
TENANT_SLUG = "bench-ingest"
DATA_DIR = REPO / ".data" / "bench"
PREFIX = "ingest:"
CHUNK_ROWS = 1_000_000


def say(message: str = "") -> None:
    print(f"{PREFIX} {message}" if message else "", flush=True)


# --- the file -----------------------------------------------------------------------------------

def csv_ensure(rows: int) -> Path:
    """The benchmark CSV of `rows` rows, generated with numpy and pyarrow in 1M-row chunks."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    path = DATA_DIR / f"readings-{rows}x{len(SENSORS)}.csv"
    if path.exists():
        return path
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    started = time.perf_counter()
    rng = np.random.default_rng(42)
    names = pa.array([f"WTG-{index:03d}" for index in range(MACHINES)])
    base = np.datetime64("2024-01-01T00:00:00", "s")
    with pa.OSFile(str(partial), "wb") as sink:
        for offset in range(0, rows, CHUNK_ROWS):
            index = np.arange(offset, min(offset + CHUNK_ROWS, rows))
            columns = {
                "timestamp": pa.array(base + (index // MACHINES) * 60, pa.timestamp("s", "UTC")),
                "turbine": names.take(pa.array(index % MACHINES)),
            }
            for position, sensor in enumerate(SENSORS):
                values = np.round(rng.normal(50 + 10 * position, 5, len(index)), 2).astype(np.float32)
                columns[sensor] = pa.array(values)
            options = pa_csv.WriteOptions(include_header=offset == 0)
            pa_csv.write_csv(pa.table(columns), sink, options)
    partial.rename(path)
    say(f"generated {path} ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - started:.1f} s")
    return path


# --- the baseline -------------------------------------------------------------------------------

def psql_copy(path: Path) -> float:
    """Seconds for `psql \\copy` of the file into a fresh plain table."""
    columns = ", ".join(f"{sensor} real" for sensor in SENSORS)
    setup = (f"DROP TABLE IF EXISTS bench_copy; "
             f"CREATE TABLE bench_copy (ts timestamptz NOT NULL, turbine text NOT NULL, {columns});")
    subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", BENCH_DATABASE_URL, "-c", setup], check=True)
    started = time.perf_counter()
    subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", BENCH_DATABASE_URL, "-c",
                    f"\\copy bench_copy FROM '{path}' (FORMAT csv, HEADER true)"], check=True)
    seconds = time.perf_counter() - started
    subprocess.run(["psql", "-qX", BENCH_DATABASE_URL, "-c", "DROP TABLE bench_copy"], check=True)
    return seconds


# --- our path -----------------------------------------------------------------------------------

def schemas_migrate(slug: str = TENANT_SLUG) -> None:
    """Public, the template and one bench tenant only: `platform_migrate` would also walk the
    1,000 background tenants of tenant_provision.py (minutes, even with nothing pending)."""
    import io

    from django.core.management import call_command

    from tenants.models import Tenant
    from tenants.provisioning import template_schema_sync

    quiet = {"interactive": False, "verbosity": 0, "stdout": io.StringIO()}
    call_command("migrate_schemas", shared=True, **quiet)
    template_schema_sync()
    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is not None:
        call_command("migrate_schemas", tenant=True, schema_name=tenant.schema_name, **quiet)


def bench_tenant_with_type(*, slug: str, organization: str, type_key: str) -> Any:
    """A benchmark's own tenant (signed up on its first run) with the machine type adopted."""
    from django_tenants.utils import tenant_context

    from machines.models import MachineType
    from machines.services import machine_type_adopt
    from tenants.models import Tenant
    from tenants.services import tenant_signup

    tenant = Tenant.objects.filter(slug=slug).first()
    if tenant is None:
        tenant = tenant_signup(organization_name=organization, slug=slug, owner_email=f"owner@{slug}.example.com",
                               owner_password="Bench-Tenant-Owner-73!").tenant
    with tenant_context(tenant):
        if not MachineType.objects.filter(key=type_key).exists():
            machine_type_adopt(key=type_key)
    return tenant


def tenant_prepare() -> None:
    """The bench tenant with the machine type, no machines and no readings."""
    from django.db import connection
    from django_tenants.utils import tenant_context

    from billing.services import subscription_grant
    from machines.models import Machine
    from machines.services import readings_truncate

    tenant = bench_tenant_with_type(slug=TENANT_SLUG, organization="Bench ingest", type_key=TYPE_KEY)
    subscription_grant(tenant=tenant, plan_code="enterprise")  # the fleet is 100 machines
    with tenant_context(tenant):
        readings_truncate(drop_partitions=True)  # creating them is part of a real first upload
        Machine.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute("CHECKPOINT")


def child_ingest(path: Path) -> dict[str, float]:
    """Run in a fresh process: one readings_ingest of the file, and this process's peak RSS."""
    import django

    django.setup()
    from django_tenants.utils import tenant_context

    from machines.ingest.mapping import ColumnMapping
    from machines.ingest.store import readings_ingest
    from machines.models import MachineType
    from tenants.models import Tenant

    tenant = Tenant.objects.get(slug=TENANT_SLUG)
    mapping = ColumnMapping(time_column="timestamp", time_format="iso", machine_column="turbine",
                            sensors={name: name for name in SENSORS}, create_unknown_machines=True)
    with tenant_context(tenant):
        machine_type = MachineType.objects.get(key=TYPE_KEY)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        result = readings_ingest(source=path, mapping=mapping, machine_type=machine_type, upload_id=1)
        seconds = time.perf_counter() - started
        dashboard = dashboard_query_ms()
    return {"seconds": seconds, "rows_read": result.rows_read, "rows_stored": result.rows_stored,
            "dashboard_p50_ms": dashboard[0], "dashboard_p95_ms": dashboard[1],
            "rejected": result.rows_rejected, "duplicates": result.duplicates,
            "machines": len(result.machines_created), "partitions": len(result.partitions_created),
            "rss_start_mib": rss_before / 1024,
            "rss_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def dashboard_query_ms() -> tuple[float, float]:
    """p50 and p95 of a machine's dashboard query (its latest 1,440 readings, a day of minutes),
    over 50 machines, in the tenant just filled: it must not slow down as the store grows."""
    from machines.models import Machine
    from machines.reading_store import readings_tail

    ids = list(Machine.objects.values_list("id", flat=True))[:50]
    timings = []
    for machine_id in ids * 2:  # the second round is what a dashboard refresh sees
        started = time.perf_counter()
        readings_tail(machine_id=machine_id, limit=1440)
        timings.append((time.perf_counter() - started) * 1000)
    timings = sorted(timings[len(ids):])
    return timings[len(timings) // 2], timings[int(len(timings) * 0.95)]


def ours(path: Path) -> dict[str, float]:
    tenant_prepare()
    output = subprocess.run([sys.executable, __file__, "--_child", str(path)], check=True, capture_output=True,
                            text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


# --- main ---------------------------------------------------------------------------------------

def work_missing(rows: int, run: dict[str, float]) -> list[str]:
    """What the ingest left undone: a speed means nothing unless every row was stored."""
    problems = []
    if run["rows_stored"] != rows or run["rows_read"] != rows:
        problems.append(f"{rows:,}-row file: {run['rows_read']:,.0f} rows read, {run['rows_stored']:,.0f} stored, "
                        f"{run['rejected']:,.0f} rejected, {run['duplicates']:,.0f} duplicates")
    if run["machines"] != MACHINES:
        problems.append(f"{rows:,}-row file: {run['machines']:.0f} machines created, not {MACHINES}")
    return problems


def report(rows: int, copy_seconds: float, run: dict[str, float]) -> None:
    readings = rows * len(SENSORS)
    say(f"{rows:,} rows x {len(SENSORS)} sensors ({readings:,} readings):")
    say(f"  psql \\copy (baseline)  {copy_seconds:7.2f} s  {rows / copy_seconds:12,.0f} rows/s  "
        f"{readings / copy_seconds:13,.0f} readings/s")
    say(f"  readings_ingest        {run['seconds']:7.2f} s  {rows / run['seconds']:12,.0f} rows/s  "
        f"{readings / run['seconds']:13,.0f} readings/s  = {copy_seconds / run['seconds']:.2f} x the speed of \\copy")
    say(f"  stored {run['rows_stored']:,.0f}, rejected {run['rejected']:,.0f}, duplicates {run['duplicates']:,.0f}, "
        f"machines created {run['machines']:.0f}, partitions created {run['partitions']:.0f}; "
        f"peak RSS {run['rss_peak_mib']:.0f} MiB (after django.setup {run['rss_start_mib']:.0f} MiB)")
    say(f"  one machine's dashboard query (latest 1,440 readings): p50 {run['dashboard_p50_ms']:.1f} ms, "
        f"p95 {run['dashboard_p95_ms']:.1f} ms with {run['rows_stored']:,.0f} readings stored")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the large file (default 10M)")
    parser.add_argument("--small-rows", type=int, default=None, help="rows of the small file (default rows / 10)")
    parser.add_argument("--_child", dest="child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child_ingest(Path(args.child))))
        return 0
    if args.rows < MACHINES:
        parser.error(f"--rows must be at least {MACHINES}")
    small = args.small_rows or max(args.rows // 10, MACHINES)

    url = urlparse(BENCH_DATABASE_URL)
    say(f"database {url.hostname}:{url.port or 5432}/{url.path.lstrip('/')}")
    database_ensure(BENCH_DATABASE_URL)
    import django

    django.setup()
    import pyarrow

    started = time.perf_counter()
    schemas_migrate()
    say(f"migrations {time.perf_counter() - started:.1f} s; pyarrow {pyarrow.__version__}; {os.cpu_count()} CPUs")
    results = []
    try:
        for rows in sorted({small, args.rows}):
            path = csv_ensure(rows)
            copy_seconds = psql_copy(path)
            results.append((rows, copy_seconds, ours(path)))
    finally:
        broker_purge()
    missing = [problem for rows, _, run in results for problem in work_missing(rows, run)]
    if missing:
        say("the ingest did not do the work, so no figure is printed:")
        for problem in missing:
            say(f"  {problem}")
        return 1
    for rows, copy_seconds, run in results:
        report(rows, copy_seconds, run)
    if len(results) == 2:
        (_, _, low), (_, _, high) = results
        say(f"peak RSS {low['rss_peak_mib']:.0f} MiB for {results[0][0]:,} rows, {high['rss_peak_mib']:.0f} MiB "
            f"for {results[1][0]:,} rows (x{results[1][0] / results[0][0]:.0f} the rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
