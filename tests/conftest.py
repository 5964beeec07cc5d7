"""Shared fixtures: a migrated test database with the tenant template, and a committed world of
named actors in two tenants.

- `acme`: owner, admin, engineer and viewer, plus a seed job.
- `globex`: its own owner and its own seed job: the "second tenant".
- `outsider`: a user with no membership anywhere.

The world is created once per session and committed, so real worker and ASGI processes can
see it; each ordinary test then runs inside a transaction that is rolled back.

`trained_motor` (acme's ABB motor type onboarded once, also committed) is defined here rather
than in tests/predictions because billing's quota tests score with it too: a fixture imported
into a test module is a separate definition there and would onboard once more per module.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from accounts.services import api_key_create, membership_add
from jobs.models import Job
from machines.models import Machine, MachineType
from machines.services import machine_create, machine_type_adopt
from tenants.db import connection
from tenants.models import Tenant
from tenants.provisioning import schema_drop, template_schema_sync
from tenants.services import tenant_public_ensure, tenant_signup
from tenants.storage import tenant_path

PASSWORD = "Correct-Horse-42"
MOTOR = "induction-motor-siemens-1la7"
TRAINED_TYPE = "induction-motor-abb-m3bp"  # not the type other tests adopt in their own transactions


@dataclass
class World:
    acme: Tenant
    globex: Tenant
    owner: User
    admin: User
    engineer: User
    viewer: User
    outsider: User
    globex_owner: User
    acme_job_id: int
    globex_job_id: int

    def user(self, name: str) -> User:
        return getattr(self, name)  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def django_db_setup(django_test_environment: None, django_db_blocker: Any) -> Iterator[None]:
    """Always create the test database. pytest-django's own fixture only does so when some
    collected test is marked for the database, and the live tests (which need committed rows)
    are not: without this they would write into the development database."""
    from django.test.utils import setup_databases, teardown_databases

    with django_db_blocker.unblock():
        config = setup_databases(verbosity=0, interactive=False, aliases={"default"},  # type: ignore[arg-type]
                                 serialized_aliases=set())
        assert connection.settings_dict["NAME"].startswith("test_"), "refusing to test on a real database"
        tenant_public_ensure()
        template_schema_sync()
        # The cache (Redis) outlives the test database: rate-limit windows are keyed by API key
        # ids, which a fresh database hands out again from 1.
        cache.clear()
    yield
    with django_db_blocker.unblock():
        # Processes started by live tests may still be closing their connections.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        connection.close()
        teardown_databases(config, verbosity=0)


def _seed_job(tenant: Tenant, kind: str) -> int:
    with tenant_context(tenant):
        return Job.objects.create(kind=kind, message=f"seed of {tenant.slug}").id


@pytest.fixture(scope="session")
def world(django_db_setup: None, django_db_blocker: Any) -> World:
    with django_db_blocker.unblock():
        acme = tenant_signup(organization_name="Acme Mills", slug="acme",
                             owner_email="owner@acme.test", owner_password=PASSWORD)
        globex = tenant_signup(organization_name="Globex", slug="globex",
                               owner_email="owner@globex.test", owner_password=PASSWORD)
        members = {}
        for role in (Role.ADMIN, Role.ENGINEER, Role.VIEWER):
            user = User.objects.create_user(f"{role}@acme.test", PASSWORD)
            membership_add(user=user, tenant=acme.tenant, role=role)
            members[role] = user
        outsider = User.objects.create_user("outsider@nowhere.test", PASSWORD)
        return World(
            acme=acme.tenant, globex=globex.tenant, owner=acme.owner, admin=members[Role.ADMIN],
            engineer=members[Role.ENGINEER], viewer=members[Role.VIEWER], outsider=outsider,
            globex_owner=globex.owner, acme_job_id=_seed_job(acme.tenant, "seed.acme"),
            globex_job_id=_seed_job(globex.tenant, "seed.globex"),
        )


@pytest.fixture(autouse=True)
def _public_schema_between_tests() -> Iterator[None]:
    from tenants.row_cache import tenant_rows_forget

    # A test's rolled-back rows never reach the row caches (tenants/row_cache.py), but a
    # transactional test's flush sends no signal: each test starts from a clean process state.
    tenant_rows_forget()
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _no_lockout_counters() -> None:
    """Every test comes from 127.0.0.1: one test's wrong passwords or keys must not throttle the
    next (accounts/lockout.py; its own tests are in tests/test_throttling.py)."""
    from accounts.lockout import lockout_reset_all

    lockout_reset_all()


def committed_tenant_drop(tenant: Tenant, *, emails: Iterable[str]) -> None:
    """Remove a tenant that a module committed for itself (its row, schema and files) and the
    users it made, so that no later test of the session sees them."""
    connection.set_schema_to_public()
    schema_name = tenant.schema_name
    Tenant.objects.filter(id=tenant.id).delete()
    schema_drop(schema_name=schema_name)
    shutil.rmtree(tenant_path(schema_name), ignore_errors=True)
    User.objects.filter(email__in=list(emails)).delete()


def host_of(tenant: Tenant) -> str:
    return f"{tenant.slug}.localhost"


@pytest.fixture
def client_for(db: None, world: World) -> Any:
    """`client_for("viewer")` signs that actor in and targets acme's host (or `tenant=`)."""

    def make(actor: str | None, tenant: Tenant | None = None) -> Client:
        client = Client(HTTP_HOST=host_of(tenant or world.acme))
        if actor is not None:
            client.force_login(world.user(actor))
        return client

    return make


@pytest.fixture
def key_client(db: None, world: World) -> Any:
    """`key_client(["read"], tenant=globex, host=...)`: a client holding a fresh API key."""

    def make(scopes: list[str], tenant: Tenant | None = None, host: str = "localhost") -> Client:
        issued = api_key_create(tenant=tenant or world.acme, name="test", scopes=scopes, created_by_id=None)
        return Client(HTTP_HOST=host, HTTP_AUTHORIZATION=f"Bearer {issued.raw}")

    return make


@pytest.fixture
def motor(db: None, world: World) -> Machine:
    """A machine in acme (Motor-001, a Siemens 1LA7-class motor)."""
    with tenant_context(world.acme):
        machine_type = machine_type_adopt(key=MOTOR)
        return machine_create(machine_type_id=machine_type.id, name="Motor-001", site="Plant A")


@pytest.fixture
def in_acme(world: World) -> Iterator[Tenant]:
    """The test body runs in acme's schema."""
    with tenant_context(world.acme):
        yield world.acme


@dataclass
class Trained:
    machine_type_id: int
    machine_id: int  # ABB-101: a failing simulated run stored as its readings
    summary: dict[str, Any]


@pytest.fixture(scope="session")
def trained_motor(world: World, django_db_blocker: Any) -> Trained:
    """Acme's ABB motor type onboarded once per session (committed): its champions, a dataset,
    and ABB-101 whose stored readings are a simulated run ending in a failure."""
    # Imported here: the training stack would add a second to the start of every test run.
    from engine.bundles import KINDS
    from machines.live import readings_push
    from predictions.services.training import onboard_machine_type

    with django_db_blocker.unblock(), tenant_context(world.acme):
        machine_type = MachineType.objects.filter(key=TRAINED_TYPE).first() or machine_type_adopt(key=TRAINED_TYPE)
        machine = Machine.objects.filter(name="ABB-101").first() or machine_create(
            machine_type_id=machine_type.id, name="ABB-101", site="Plant B")
        readings_push(items=failing_run_readings(machine_type.metadata, "ABB-101"))
        # The type's own horizon (6 days at its one-day steps): a fixed 24 h would be one step,
        # too short for the alert rules' 4 of the last 6 steps.
        summary = onboard_machine_type(machine_type=machine_type, machines=24, seed=3, kinds=KINDS)
        return Trained(machine_type.id, machine.id, summary)


def reading_after_last(name: str) -> None:
    """Push a copy of machine `name`'s newest reading a minute after it: something new for beat's
    scheduled run, which scores only machines with readings newer than their latest prediction."""
    from datetime import timedelta

    from machines.live import readings_push
    from machines.selectors import readings_recent

    (ts, values), = readings_recent(machine=Machine.objects.get(name=name), limit=1)
    assert not readings_push(items=[{"machine": name, "ts": (ts + timedelta(minutes=1)).isoformat(),
                                     "values": values}]).rejected


def failing_run_readings(document: dict[str, Any], name: str, *, seed: int = 11) -> list[dict[str, Any]]:
    """The readings of one simulated machine whose run ends in a failure, as a live push."""
    from engine.synthetic.simulator import simulate_fleet

    table = simulate_fleet(document, machines=1, seed=seed, healthy_fraction=0.0)
    sensors = [s["name"] for s in document["sensors"]]
    rows = table.select(["ts", *sensors]).to_pylist()
    return [{"machine": name, "ts": row["ts"].isoformat(),
             "values": {k: (None if v != v else v) for k, v in row.items() if k != "ts" and v is not None}}
            for row in rows]


@pytest.fixture
def eager(django_capture_on_commit_callbacks: Any) -> Iterator[Any]:
    """`with eager():` runs the tasks queued on commit (an upload's job) before the block ends."""
    from pdm_saas.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    try:
        yield lambda: django_capture_on_commit_callbacks(execute=True)
    finally:
        celery_app.conf.task_always_eager = False
