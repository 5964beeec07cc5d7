"""How long it takes to provision a tenant, our way (spare schema / clone of the template) and
django-tenants' default way (CREATE SCHEMA + every tenant migration).

    .venv/bin/python benchmarks/tenant_provision.py [--tenants 1000] [--signups 50]

Runs against its own database, `pdm_bench` (created if missing; override with
PDM_BENCH_DATABASE_URL), never against the application database, and publishes Celery messages
to its own Redis databases (13-15; override with PDM_BENCH_REDIS_URL), which it empties of them
at the end. It:

1. migrates the database (`platform_migrate`) and tops the background tenants (slugs `bg-NNNN`)
   up to `--tenants`; they are created with `tenant_signup` and a fast password hasher and are
   kept for the next run;
2. times `migrate_schemas --tenant --executor=multiprocessing` over every tenant with nothing
   pending (falls back to a subset and extrapolates when it exceeds `--migrate-timeout`);
3. times `make_password` alone with the project's real hashers;
4. times `--signups` calls to `tenants.services.tenant_signup` (real hashers) with the spare pool
   empty, so each clones the template inline, on one database session; then `--fresh-signups`
   more, each on a new session; then `--signups` more with a spare schema ready for each (the
   pool is filled first, untimed). Each series reports where a signup spends its time;
5. times tenants created the django-tenants default way: Tenant row, CREATE SCHEMA, then every
   tenant migration (`migrate_schemas --tenant --schema_name=...`);
6. deletes the tenants, schemas and users it measured, and prints the figures side by side.
"""

from __future__ import annotations

import argparse
import functools
import io
import math
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# Always our own database: a benchmark that leaves 1,000 tenants behind must never point at the
# application's database because DATABASE_URL happened to be exported in the shell.
BENCH_DATABASE_URL = os.environ.get(
    "PDM_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/pdm_bench"
)
os.environ["DATABASE_URL"] = BENCH_DATABASE_URL
# Signups queue a spare-pool refill on commit; keep those messages off the development broker,
# where a running worker would act on them against the application database.
BENCH_REDIS_URL = os.environ.get("PDM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")



def tenant_connection() -> Any:
    """The default connection as django-tenants' wrapper (typed; imported after django.setup)."""
    from tenants.db import connection

    return connection

def _redis_db(url: str, db: int) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{db}"))


os.environ["REDIS_URL"] = BENCH_REDIS_URL
os.environ["CHANNELS_REDIS_URL"] = _redis_db(BENCH_REDIS_URL, 14)
os.environ["CACHE_REDIS_URL"] = _redis_db(BENCH_REDIS_URL, 15)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pdm_saas.settings")

BG_PREFIX = "bg-"
BENCH_PREFIX = "bench-"  # measured, warm-up and baseline tenants; all deleted at the end
BG_EMAIL_DOMAIN = "bench-bg.example.com"
BENCH_EMAIL_DOMAIN = "bench-measured.example.com"
PASSWORD = "Bench-Provision-73!"
FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
PREFIX = "tenant_provision:"
# Every CloneSchema.clone_schema() call re-creates the clone_schema() SQL functions; each database
# session keeps the compiled PL/pgSQL of every version it ran (~11 MiB a clone), and clones on
# that session slow down as it grows. Set-up work (background tenants, spares) therefore gets a
# fresh session every few clones; the measured series show the effect instead of hiding it.
SETUP_RECONNECT_EVERY = 10


def say(message: str = "") -> None:
    print(f"{PREFIX} {message}" if message else "", flush=True)


# --- database -----------------------------------------------------------------------------------

def database_ensure(url: str) -> bool:
    """Create the benchmark database if it is missing. Returns True when it was created."""
    import psycopg
    from psycopg import sql

    parts = urlparse(url)
    name = parts.path.lstrip("/")
    admin_url = urlunparse(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists:
            return False
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return True


def reconnect() -> None:
    from django.db import connection

    connection.close()
    connection.ensure_connection()


def catalog_size() -> dict[str, Any]:
    """Catalog size, and whether the planner's idea of it is current (autovacuum off leaves
    the catalogs' statistics at their initdb values, and clone_schema()'s queries plan badly)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_namespace")
        schemas = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_class")
        relations = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM pg_attribute")
        attributes = cursor.fetchone()[0]
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'pg_catalog.pg_class'::regclass")
        planner_relations = cursor.fetchone()[0]
        cursor.execute("SHOW autovacuum")
        autovacuum = cursor.fetchone()[0]
    return {"schemas": schemas, "relations": relations, "attributes": attributes,
            "planner_relations": planner_relations, "autovacuum": autovacuum}


def backend_memory_mib() -> float:
    """Memory held by this connection's Postgres backend (PostgreSQL 14+)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(total_bytes) FROM pg_backend_memory_contexts")
        return float(cursor.fetchone()[0]) / 2**20


def broker_purge() -> int:
    """Drop the messages this run queued on the benchmark's own broker database."""
    import redis
    from django.conf import settings

    if urlparse(settings.CELERY_BROKER_URL) != urlparse(BENCH_REDIS_URL):
        return 0  # not ours: leave it alone
    client = redis.Redis.from_url(BENCH_REDIS_URL)
    names = set(getattr(settings, "CELERY_QUEUES", ())) | {"celery", "default"}
    dropped = 0
    for name in names:
        dropped += client.llen(name)
        client.delete(name)
    return dropped


# --- timing probes ------------------------------------------------------------------------------

class Probe:
    """Accumulates the time spent in wrapped functions, per name, until `take()`."""

    def __init__(self) -> None:
        self.acc: dict[str, float] = defaultdict(float)
        self._restore: list[Callable[[], None]] = []

    def wrap(self, owner: Any, attr: str, key: str) -> None:
        if not hasattr(owner, attr):
            return  # that step does not exist in this version of the code
        original = getattr(owner, attr)
        acc = self.acc

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                acc[key] += time.perf_counter() - start

        # an attribute patched onto an instance (the connection's _commit) is removed again,
        # so the class's method shows through; modules and classes get the original back
        own = isinstance(owner, type) or type(owner).__name__ == "module" or attr in vars(owner)
        setattr(owner, attr, timed)
        if own:
            self._restore.append(lambda: setattr(owner, attr, original))
        else:
            self._restore.append(lambda: vars(owner).pop(attr, None))

    def take(self) -> dict[str, float]:
        snapshot = dict(self.acc)
        self.acc.clear()
        return snapshot

    def restore(self) -> None:
        while self._restore:
            self._restore.pop()()


def probe_install() -> Probe:
    """Wrap the steps of tenant_signup. The project code looks each of them up at call time
    (module or class attribute), so patching them here times the real calls."""
    import django.contrib.auth.base_user as base_user
    from django.db import connections
    from django_tenants.clone import CloneSchema

    import accounts.services as accounts_services
    import tenants.provisioning as provisioning
    import tenants.services as tenant_services

    probe = Probe()
    probe.wrap(accounts_services, "user_create", "user_create")
    probe.wrap(accounts_services, "password_check", "password_validation")
    probe.wrap(base_user, "make_password", "password_hash")
    probe.wrap(provisioning, "schema_provision", "provision_total")
    probe.wrap(provisioning, "schema_clone_from_template", "clone_total")
    probe.wrap(CloneSchema, "clone_schema", "clone_schema_call")
    probe.wrap(CloneSchema, "_create_clone_schema_function", "clone_fn_install")
    probe.wrap(tenant_services, "spare_pool_refill_later", "refill_enqueue")
    probe.wrap(connections["default"], "_commit", "commit")
    return probe


BREAKDOWN = [
    ("password_hash", "password hashing (make_password)"),
    ("password_validation", "password validators"),
    ("user_create_rest", "user_create other (email checks, INSERT)"),
    ("provision_rest", "schema: fingerprint, spare lookup, ALTER SCHEMA RENAME"),
    ("clone_fn_install", "clone: re-create the clone_schema() SQL functions"),
    ("clone_sql", "clone: SELECT clone_schema(...) + existence check"),
    ("commit", "COMMIT"),
    ("refill_enqueue", "on commit: queue the spare-pool refill (Redis)"),
    ("other", "other (slug checks, tenant/domain/membership/trial rows)"),
]


def breakdown(total: float, parts: dict[str, float]) -> dict[str, float]:
    provision = parts.get("provision_total", parts.get("clone_total", 0.0))
    clone_call = parts.get("clone_schema_call", 0.0)
    row = {
        "password_hash": parts.get("password_hash", 0.0),
        "password_validation": parts.get("password_validation", 0.0),
        "provision_rest": provision - clone_call,
        "clone_fn_install": parts.get("clone_fn_install", 0.0),
        "clone_sql": clone_call - parts.get("clone_fn_install", 0.0),
        "commit": parts.get("commit", 0.0),
        "refill_enqueue": parts.get("refill_enqueue", 0.0),
    }
    row["user_create_rest"] = (parts.get("user_create", 0.0) - row["password_hash"]
                               - row["password_validation"])
    row["other"] = (total - parts.get("user_create", 0.0) - provision - row["commit"]
                    - row["refill_enqueue"])
    return row


# --- tenants and spares -------------------------------------------------------------------------

def tenants_drop(tenant_ids: list[int] | None = None, *, slug_prefix: str | None = None) -> int:
    """Drop the schemas and Tenant rows (domains, memberships, subscriptions cascade) of the
    given tenants."""
    from django.db import transaction

    from tenants.models import Tenant
    from tenants.provisioning import schema_drop

    tenant_connection().set_schema_to_public()
    queryset = Tenant.objects.all()
    if tenant_ids is not None:
        queryset = queryset.filter(id__in=tenant_ids)
    if slug_prefix is not None:
        queryset = queryset.filter(slug__startswith=slug_prefix)
    rows = list(queryset.values_list("id", "schema_name"))
    with transaction.atomic():
        for _, schema_name in rows:
            schema_drop(schema_name=schema_name)
        Tenant.objects.filter(id__in=[row[0] for row in rows]).delete()
    return len(rows)


def users_drop(email_suffix: str) -> int:
    """Delete the owners' user rows with SQL: the ORM's collector would look for
    jobs_job.created_by in the public schema, where that table does not exist."""
    from django.db import connection, transaction

    from accounts.models import Membership, User

    user_table = User._meta.db_table
    groups_table = User.groups.through._meta.db_table
    perms_table = User.user_permissions.through._meta.db_table
    pattern = "%" + email_suffix
    with transaction.atomic(), connection.cursor() as cursor:
        # memberships are gone with their tenants; refuse to orphan any that are not
        if Membership.objects.filter(user__email__endswith=email_suffix).exists():
            raise RuntimeError(f"users {email_suffix} still have memberships")
        ids = f"SELECT id FROM {user_table} WHERE email LIKE %s"
        cursor.execute(f"DELETE FROM {groups_table} WHERE user_id IN ({ids})", [pattern])
        cursor.execute(f"DELETE FROM {perms_table} WHERE user_id IN ({ids})", [pattern])
        cursor.execute(f"DELETE FROM {user_table} WHERE email LIKE %s", [pattern])
        return cursor.rowcount


def bench_leftovers_drop() -> None:
    """Whatever an interrupted earlier run left: bench-* tenants, orphan schemas, users."""
    from django.db import connection, transaction

    from tenants.provisioning import schema_drop
    from tenants.schema_names import schema_name_for_slug

    dropped = tenants_drop(slug_prefix=BENCH_PREFIX)
    schema_prefix = schema_name_for_slug(BENCH_PREFIX + "x")[:-1]  # "t_bench_"
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", [schema_prefix])
        orphans = [row[0] for row in cursor.fetchall()]
    with transaction.atomic():
        for schema_name in orphans:
            schema_drop(schema_name=schema_name)
    users = users_drop(f"@{BENCH_EMAIL_DOMAIN}")
    if dropped or orphans or users:
        say(f"setup: removed leftovers of an earlier run: {dropped} tenants, {len(orphans)} orphan "
            f"schemas, {users} users")


def spares_supported() -> bool:
    import tenants.provisioning as provisioning

    return hasattr(provisioning, "spare_pool_fill") and hasattr(provisioning, "schema_provision")


def spares_clear() -> int:
    """Empty the spare pool, so that signups clone inline."""
    if not spares_supported():
        return 0
    from django.db import transaction

    from tenants.models import SpareSchema
    from tenants.provisioning import schema_drop

    spares = list(SpareSchema.objects.all())
    with transaction.atomic():
        for spare in spares:
            schema_drop(schema_name=spare.name)
        SpareSchema.objects.filter(id__in=[spare.id for spare in spares]).delete()
    return len(spares)


def spares_fill(target: int) -> float:
    """Fill the spare pool to `target` (set-up, not measured: a fresh session every few)."""
    from tenants.provisioning import spare_pool_fill

    started = time.perf_counter()
    for step in range(SETUP_RECONNECT_EVERY, target + SETUP_RECONNECT_EVERY, SETUP_RECONNECT_EVERY):
        reconnect()
        spare_pool_fill(target=min(step, target))
    return time.perf_counter() - started


def background_tenants_ensure(target: int, probe: Probe) -> None:
    from django.test.utils import override_settings

    from tenants.models import Tenant
    from tenants.services import tenant_signup

    existing = set(Tenant.objects.filter(slug__startswith=BG_PREFIX).values_list("slug", flat=True))
    missing = target - len(existing)
    say(f"setup: {len(existing)} background tenants present, target {target}, creating {max(missing, 0)}")
    if missing <= 0:
        return
    started = time.perf_counter()
    batch: list[float] = []
    batch_clone: list[float] = []
    created = 0
    index = 0
    with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
        while created < missing:
            if created % SETUP_RECONNECT_EVERY == 0:
                reconnect()
            index += 1
            slug = f"{BG_PREFIX}{index:04d}"
            if slug in existing:
                continue
            probe.take()
            t0 = time.perf_counter()
            tenant_signup(organization_name=f"Background {index:04d}", slug=slug,
                          owner_email=f"{slug}@{BG_EMAIL_DOMAIN}", owner_password=PASSWORD)
            elapsed = time.perf_counter() - t0
            parts = probe.take()
            created += 1
            batch.append(elapsed)
            batch_clone.append(parts.get("clone_schema_call", 0.0) - parts.get("clone_fn_install", 0.0))
            if created <= 3:
                say(f"setup: background tenant {slug}: {elapsed:.3f} s "
                    f"(clone SQL {batch_clone[-1]:.3f} s, "
                    f"clone fn install {parts.get('clone_fn_install', 0):.3f} s)")
            if created % 50 == 0 or created == missing:
                total = len(existing) + created
                say(f"setup: {total}/{target} background tenants  last {len(batch)}: mean "
                    f"{statistics.fmean(batch):.3f} s/tenant "
                    f"(clone SQL {statistics.fmean(batch_clone):.3f} s)"
                    f"  elapsed {time.perf_counter() - started:.0f} s")
                batch, batch_clone = [], []


# --- measurements -------------------------------------------------------------------------------

def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def run_process(args: list[str], *, timeout: float | None) -> tuple[float, int | None, str]:
    """Run a command from the repository root; return (seconds, returncode, output).
    returncode None means it was killed at the timeout."""
    start = time.perf_counter()
    process = subprocess.Popen(args, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True, env=os.environ.copy())
    try:
        output, _ = process.communicate(timeout=timeout)
        return time.perf_counter() - start, process.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return time.perf_counter() - start, None, output


def measure_migrate_all(timeout: float, subset: int) -> dict[str, Any]:
    from tenants.models import Tenant

    first_schema = Tenant.objects.filter(slug__startswith=BG_PREFIX).order_by("slug").values_list(
        "schema_name", flat=True).first()
    manage = [sys.executable, "manage.py", "migrate_schemas", "--tenant", "--noinput", "-v", "0",
              "--executor=multiprocessing"]
    result: dict[str, Any] = {}
    one, rc, out = run_process(manage + [f"--schema={first_schema}"], timeout=600)
    if rc != 0:
        raise RuntimeError(f"migrate_schemas on one schema failed:\n{out}")
    result["one"] = one
    schemas = Tenant.objects.exclude(schema_name="public").count()
    say(f"migrate_schemas --tenant --executor=multiprocessing over {schemas} schemas (nothing pending)…")
    seconds, rc, out = run_process(manage, timeout=timeout)
    if rc is None:
        say(f"  still running after {timeout:.0f} s: killed; measuring {subset} schemas and extrapolating")
        seconds_subset, rc, out = run_process(
            [sys.executable, str(Path(__file__).resolve()), "--_migrate-subset", str(subset)], timeout=3600)
        if rc != 0:
            raise RuntimeError(f"migrate_schemas over a subset failed:\n{out}")
        per_schema = max(seconds_subset - one, 0.0) / max(subset - 1, 1)
        result.update(schemas=schemas, seconds=one + per_schema * (schemas - 1), measured_schemas=subset,
                      measured_seconds=seconds_subset, extrapolated=True)
    elif rc != 0:
        raise RuntimeError(f"migrate_schemas failed:\n{out}")
    else:
        result.update(schemas=schemas, seconds=seconds, measured_schemas=schemas, measured_seconds=seconds,
                      extrapolated=False)
    return result


def migrate_subset_main(count: int) -> int:
    """Hidden mode (a child process): migrate_schemas --tenant --executor=multiprocessing over the
    first `count` background tenants only, by narrowing the tenant list the command reads."""
    import django

    django.setup()
    import django_tenants.management.commands.migrate_schemas as migrate_schemas
    from django.core.management import call_command

    from tenants.models import Tenant

    chosen = list(Tenant.objects.filter(slug__startswith=BG_PREFIX).order_by("slug")
                  .values_list("schema_name", flat=True)[:count])

    class Subset:
        objects = Tenant.objects.filter(schema_name__in=chosen)

    migrate_schemas.get_tenant_model = lambda: Subset  # type: ignore[assignment]
    call_command("migrate_schemas", tenant=True, executor="multiprocessing", interactive=False, verbosity=0)
    return 0


def measure_make_password(rounds: int = 5) -> tuple[float, str]:
    from django.contrib.auth.hashers import get_hasher, make_password

    make_password(PASSWORD)  # import / first-call costs
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        make_password(PASSWORD)
        times.append(time.perf_counter() - t0)
    hasher = get_hasher()
    label = f"{hasher.algorithm}, {getattr(hasher, 'iterations', '?')} iterations"
    return statistics.fmean(times), label


def signup_once(slug: str, probe: Probe) -> tuple[float, dict[str, float], Any]:
    from tenants.services import tenant_signup

    probe.take()
    t0 = time.perf_counter()
    signup = tenant_signup(organization_name=f"Bench {slug}", slug=slug,
                           owner_email=f"{slug}@{BENCH_EMAIL_DOMAIN}", owner_password=PASSWORD)
    elapsed = time.perf_counter() - t0
    return elapsed, probe.take(), signup


def signup_series(label: str, slug_prefix: str, count: int, probe: Probe, ids: list[int], *,
                  new_session_each: bool = False) -> dict[str, Any]:
    """`count` signups, on one new database session (kept, as a loop or a busy worker keeps its
    persistent connection) or on a new session each."""
    totals: list[float] = []
    rows: list[dict[str, float]] = []
    paths: Counter[str] = Counter()
    memory: list[float] = []
    if not new_session_each:
        reconnect()
        memory.append(backend_memory_mib())
    say(f"timing {count} signups, {label}…")
    for index in range(1, count + 1):
        if new_session_each:
            reconnect()
        seconds, parts, signup = signup_once(f"{slug_prefix}-{index:03d}", probe)
        ids.append(signup.tenant.id)
        totals.append(seconds)
        rows.append(breakdown(seconds, parts))
        paths[getattr(signup, "provisioned_by", "clone")] += 1
        if index % 10 == 0 or index == count:
            note = ""
            if not new_session_each:
                memory.append(backend_memory_mib())
                note = f", database session memory {memory[-1]:.0f} MiB"
            say(f"  {index}/{count}, last {seconds:.3f} s{note}")
    return {"label": label, "totals": totals, "rows": rows, "paths": paths, "memory": memory,
            "first_slug": f"{slug_prefix}-001"}


def measure_baseline(slug: str) -> tuple[dict[str, Any], int]:
    """django-tenants' default: a Tenant row, CREATE SCHEMA, every tenant migration in it
    (what TenantMixin.create_schema does with auto_create_schema on and no base schema)."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.recorder import MigrationRecorder
    from django_tenants.utils import schema_context

    from tenants.models import Tenant
    from tenants.schema_names import schema_name_for_slug

    tenant_connection().set_schema_to_public()
    t0 = time.perf_counter()
    tenant = Tenant.objects.create(name=f"Bench {slug}", slug=slug, schema_name=schema_name_for_slug(slug))
    t1 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE SCHEMA "{tenant.schema_name}"')
    t2 = time.perf_counter()
    call_command("migrate_schemas", tenant=True, schema_name=tenant.schema_name, interactive=False,
                 verbosity=0)
    tenant_connection().set_schema_to_public()
    t3 = time.perf_counter()
    with schema_context(tenant.schema_name):
        applied = MigrationRecorder(connection).migration_qs.count()
    tenant_connection().set_schema_to_public()
    return {"total": t3 - t0, "row": t1 - t0, "create_schema": t2 - t1, "migrate": t3 - t2,
            "applied": applied}, tenant.id


def schema_shape(schema_name: str) -> tuple[int, int, int]:
    """(tables, indexes, django_migrations rows) of a schema, to check both ways build the same."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE c.relkind = 'r'), count(*) FILTER (WHERE c.relkind = 'i') "
            "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s",
            [schema_name],
        )
        tables, indexes = cursor.fetchone()
        cursor.execute(f'SELECT count(*) FROM "{schema_name}".django_migrations')
        migrations = cursor.fetchone()[0]
    return tables, indexes, migrations


# --- report -------------------------------------------------------------------------------------

def series_line(name: str, series: dict[str, Any], present: int) -> str:
    totals = series["totals"]
    paths = ", ".join(f"{count} by {path}" for path, count in sorted(series["paths"].items()))
    return (f"{name}  mean {statistics.fmean(totals):.2f} s  p50 {statistics.median(totals):.2f} s  "
            f"p95 {percentile(totals, 95):.2f} s  max {max(totals):.2f} s  "
            f"({len(totals)} signups, {present} tenants present; {paths})")


def report(*, args: argparse.Namespace, setup: dict[str, Any], results: dict[str, Any]) -> None:
    present = setup["present"]
    clone, fresh, spare = results["clone"], results["fresh"], results["spare"]
    baseline = results["baseline"]
    say()
    say(f"setup  {setup['seconds']:.1f} s  (platform_migrate {setup['platform_migrate']:.1f} s, "
        f"background tenants {setup['background']:.1f} s)")
    if spare:
        say(series_line("our signup (spare ready)", spare, present))
    say(series_line("our signup (no spare: inline clone)", clone, present))
    totals = clone["totals"]
    if len(totals) >= 20:
        say(f"  inline clone, same session: first 10 mean {statistics.fmean(totals[:10]):.2f} s, "
            f"last 10 mean {statistics.fmean(totals[-10:]):.2f} s; session memory "
            f"{clone['memory'][0]:.0f} -> {clone['memory'][-1]:.0f} MiB")
    say(f"  first signup of the process (warm-up, not counted) {results['warm']:.2f} s")
    if fresh:
        say(series_line("our signup (no spare: inline clone, new session each)", fresh, present))

    columns = [series for series in (spare, clone, fresh) if series]
    headers = {id(spare): "spare", id(clone): "clone", id(fresh): "clone/new"}
    say("  where a signup's time goes, mean ms (" + ", ".join(
        f"{headers[id(s)]}: {s['label']}" for s in columns) + "):")
    say(f"    {'':<58}" + "".join(f"{headers[id(s)]:>11}" for s in columns))
    for key, label in BREAKDOWN:
        cells = "".join(f"{1000 * statistics.fmean(row[key] for row in s['rows']):11.1f}" for s in columns)
        say(f"    {label:<58}{cells}")
    say(f"    {'total':<58}" + "".join(f"{1000 * statistics.fmean(s['totals']):11.1f}" for s in columns))
    mean_clone = statistics.fmean(clone["totals"])
    mean_spare = statistics.fmean(spare["totals"]) if spare else None
    hashed = results["hash_seconds"]
    share = f"{100 * hashed / mean_clone:.0f} % of an inline-clone signup"
    if mean_spare:
        share = f"{100 * hashed / mean_spare:.0f} % of a spare signup, " + share
    say(f"  make_password alone  {hashed:.3f} s  ({results['hash_label']}; PASSWORD_HASHERS[0] = "
        f"{results['hashers'][0].rsplit('.', 1)[-1]})  = {share}")

    say(f"django-tenants default (migrations)  {baseline['total']:.2f} s  "
        f"(1 tenant: row {baseline['row']:.3f} s, CREATE SCHEMA {baseline['create_schema']:.3f} s, "
        f"migrate_schemas {baseline['migrate']:.2f} s, {baseline['applied']} migrations applied; "
        f"{baseline['present']} tenants present)")
    repeats = baseline["repeats"]
    if len(repeats) > 1:
        say(f"  {len(repeats)} such tenants in a row: " + ", ".join(f"{value:.2f}" for value in repeats)
            + f" s; mean {statistics.fmean(repeats):.2f} s")
    speedups = []
    if mean_spare:
        speedups.append(f"x{baseline['total'] / mean_spare:.1f} (spare ready)")
    speedups.append(f"x{baseline['total'] / mean_clone:.1f} (inline clone)")
    say("speed-up " + "  ".join(speedups) + "  (whole signup vs Tenant row + migrated schema)")
    clone_only = statistics.fmean(row["clone_fn_install"] + row["clone_sql"] for row in clone["rows"])
    migrated_only = baseline["create_schema"] + baseline["migrate"]
    schema_line = f"  schema only: clone {clone_only:.3f} s"
    if spare:
        rename_only = statistics.fmean(row["provision_rest"] for row in spare["rows"])
        schema_line += f", spare rename {rename_only:.3f} s"
    say(schema_line + f", CREATE SCHEMA + migrations {migrated_only:.2f} s")
    template, cloned, migrated = results["shapes"]
    same = cloned[:2] == migrated[:2] == template[:2]
    say(f"  schema shape (tables, indexes, django_migrations rows): template {template}, cloned {cloned}, "
        f"migrated {migrated}{'' if same else '  <-- TABLES/INDEXES DIFFER'}")

    migrate_all = results["migrate_all"]
    if migrate_all:
        how = ("measured" if not migrate_all["extrapolated"] else
               f"extrapolated from {migrate_all['measured_schemas']} schemas in "
               f"{migrate_all['measured_seconds']:.1f} s")
        per = (migrate_all["seconds"] - migrate_all["one"]) / max(migrate_all["schemas"] - 1, 1)
        say("migrate_schemas --tenant --executor=multiprocessing, nothing pending  "
            f"{migrate_all['seconds']:.1f} s  ({migrate_all['schemas']} schemas, {how}; one schema incl. "
            f"process start {migrate_all['one']:.1f} s, ~{per * 1000:.0f} ms per extra schema)")
    catalog = results["catalog_after"]
    say(f"catalog: {catalog['schemas']} schemas, {catalog['relations']} relations (planner statistics "
        f"think {catalog['planner_relations']}); autovacuum {catalog['autovacuum']}")
    say(f"total run {time.perf_counter() - setup['run_started']:.1f} s")


# --- main ---------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000, help="background tenants present (default 1000)")
    parser.add_argument("--signups", type=int, default=50, help="measured signups per series (default 50)")
    parser.add_argument("--fresh-signups", type=int, default=10,
                        help="inline-clone signups each on a new database session (default 10; 0 skips)")
    parser.add_argument("--baseline-runs", type=int, default=3,
                        help="tenants created the default way; the first is the headline (default 3)")
    parser.add_argument("--migrate-timeout", type=float, default=300.0,
                        help="seconds before migrate_schemas over all tenants falls back to a subset")
    parser.add_argument("--migrate-subset", type=int, default=100, help="schemas in that subset")
    parser.add_argument("--skip-migrate-all", action="store_true", help="skip the migrate_schemas timing")
    parser.add_argument("--_migrate-subset", dest="child_subset", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child_subset:
        return migrate_subset_main(args.child_subset)
    if args.tenants < 1 or args.signups < 1 or args.baseline_runs < 1:
        parser.error("--tenants, --signups and --baseline-runs must be at least 1")

    setup: dict[str, Any] = {"run_started": time.perf_counter()}
    bench_url = urlparse(BENCH_DATABASE_URL)
    say(f"database {bench_url.hostname}:{bench_url.port or 5432}/{bench_url.path.lstrip('/')}, "
        f"broker {BENCH_REDIS_URL}")
    t0 = time.perf_counter()
    created_db = database_ensure(BENCH_DATABASE_URL)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from tenants.models import Tenant
    from tenants.provisioning import template_schema_name
    from tenants.schema_names import schema_name_for_slug

    t_migrate = time.perf_counter()
    call_command("platform_migrate", verbosity=0, stdout=io.StringIO())
    setup["platform_migrate"] = time.perf_counter() - t_migrate
    say(f"setup: database {'created' if created_db else 'present'}; "
        f"platform_migrate {setup['platform_migrate']:.1f} s")
    bench_leftovers_drop()
    probe = probe_install()
    t_bg = time.perf_counter()
    background_tenants_ensure(args.tenants, probe)
    setup["background"] = time.perf_counter() - t_bg
    setup["seconds"] = time.perf_counter() - t0
    present = setup["present"] = Tenant.objects.exclude(schema_name="public").count()
    catalog = catalog_size()
    say(f"setup: done in {setup['seconds']:.1f} s (background tenants {setup['background']:.1f} s); "
        f"{present} tenants; catalog {catalog['schemas']} schemas, {catalog['relations']} relations, "
        f"{catalog['attributes']} attributes")

    token = uuid.uuid4().hex[:6]
    measured_ids: list[int] = []
    results: dict[str, Any] = {"spare": None, "fresh": None, "migrate_all": None}
    try:
        if not args.skip_migrate_all:
            connection.close()  # the children get their own connections
            results["migrate_all"] = measure_migrate_all(args.migrate_timeout,
                                                         min(args.migrate_subset, present))

        results["hash_seconds"], results["hash_label"] = measure_make_password()
        results["hashers"] = settings.PASSWORD_HASHERS

        # 1. no spare ready: every signup clones the template inline
        cleared = spares_clear()
        if cleared:
            say(f"spare pool emptied ({cleared} spares dropped): the next signups clone inline")
        reconnect()
        warm_slug = f"{BENCH_PREFIX}w-{token}"
        results["warm"], _, warm = signup_once(warm_slug, probe)
        tenants_drop([warm.tenant.id])
        users_drop(f"{warm_slug}@{BENCH_EMAIL_DOMAIN}")
        results["clone"] = signup_series("no spare, one database session", f"{BENCH_PREFIX}c-{token}",
                                         args.signups, probe, measured_ids)
        if args.fresh_signups:
            results["fresh"] = signup_series("no spare, a new database session each",
                                             f"{BENCH_PREFIX}f-{token}", args.fresh_signups, probe,
                                             measured_ids, new_session_each=True)

        # 2. a spare ready for every signup, as the refill task keeps it between bursts
        if spares_supported():
            filled = spares_fill(args.signups)
            say(f"spare pool filled with {args.signups} spares in {filled:.1f} s (not measured)")
            results["spare"] = signup_series("spare ready, one database session", f"{BENCH_PREFIX}s-{token}",
                                             args.signups, probe, measured_ids)
            spares_clear()
        probe.restore()

        # 3. django-tenants' default way
        baseline_slug = f"{BENCH_PREFIX}b-{token}"
        baseline_present = Tenant.objects.exclude(schema_name="public").count()
        say(f"timing the django-tenants default way on top of {baseline_present} tenants…")
        baseline, baseline_id = measure_baseline(baseline_slug)
        baseline["present"] = baseline_present
        measured_ids.append(baseline_id)
        # extra runs, reported separately: one sample of a sub-second figure is noisy
        baseline["repeats"] = [baseline["total"]]
        for index in range(2, args.baseline_runs + 1):
            again, again_id = measure_baseline(f"{baseline_slug}-{index}")
            measured_ids.append(again_id)
            baseline["repeats"].append(again["total"])
        results["baseline"] = baseline

        results["shapes"] = (
            schema_shape(template_schema_name()),
            schema_shape(schema_name_for_slug(results["clone"]["first_slug"])),
            schema_shape(schema_name_for_slug(baseline_slug)),
        )
        results["catalog_after"] = catalog_size()
    finally:
        probe.restore()
        t_clean = time.perf_counter()
        dropped = tenants_drop(measured_ids)
        dropped += tenants_drop(slug_prefix=BENCH_PREFIX)
        users = users_drop(f"@{BENCH_EMAIL_DOMAIN}")
        messages = broker_purge()
        say(f"cleanup: dropped {dropped} measured tenants and their schemas, {users} users, "
            f"{messages} queued refill messages ({time.perf_counter() - t_clean:.1f} s)")

    report(args=args, setup=setup, results=results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
