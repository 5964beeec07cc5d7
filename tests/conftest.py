"""Shared fixtures: a migrated test database with the tenant template, and a committed world of
named actors in two tenants.

- `acme`: owner, admin, engineer and viewer, plus a seed job.
- `globex`: its own owner and its own seed job: the "second tenant".
- `outsider`: a user with no membership anywhere.

The world is created once per session and committed, so real worker and ASGI processes can
see it; each ordinary test then runs inside a transaction that is rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from accounts.services import api_key_create, membership_add
from jobs.models import Job
from machines.models import Machine
from machines.services import machine_create, machine_type_adopt
from tenants.db import connection
from tenants.models import Tenant
from tenants.provisioning import template_schema_sync
from tenants.services import tenant_public_ensure, tenant_signup

PASSWORD = "Correct-Horse-42"
MOTOR = "induction-motor-siemens-1la7"


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
    yield
    connection.set_schema_to_public()


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
