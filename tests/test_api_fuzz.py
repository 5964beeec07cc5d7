"""A bounded, seeded schemathesis run over every operation of the tenant API: whatever it sends,
the answer is never a server error (5xx).

It calls the real Django WSGI application in-process (no server, no mocks) with an admin-scoped
API key of its own tenant, `fuzzworks`, created here with `tenant_signup` and deleted at the end:
the fuzzer writes (machines, windows, work orders...), and those writes must not reach the shared
`world` of acme and globex that other tests read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import redis
import schemathesis
from django.conf import settings as django_settings
from django.core.handlers.wsgi import WSGIHandler
from django.test import override_settings
from django_tenants.utils import tenant_context
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from accounts.roles import Scope
from accounts.services import api_key_create
from billing.models import Plan
from machines.services import machine_create, machine_type_adopt
from tenants.db import connection
from tenants.models import Tenant
from tenants.services import tenant_signup
from tests import stripe_double
from tests.billing.conftest import PRICES
from tests.conftest import MOTOR, PASSWORD, committed_tenant_drop

SLUG = "fuzzworks"
SEED = 1313
# Random examples per operation (the fuzzing phase). Most requests come from the coverage phase,
# which walks every parameter's boundaries and wrong types once: about 7,900 requests in all,
# a few minutes on two cores (docs/architecture.md, "The API").
MAX_EXAMPLES = 8

# Operations left out, and why: each would break the fuzz tenant for the rest of the run, not
# find a bug (the targeted tests in tests/test_tenant_lifecycle.py and test_members.py cover them).
EXCLUDED = [
    ("DELETE", "/api/v1/tenant/"),  # deletes the fuzz tenant itself
    ("POST", "/api/v1/tenant/deactivate/"),  # makes the fuzz tenant read-only for the rest
    ("POST", "/api/v1/api-keys/{id}/revoke/"),  # may revoke the very key the fuzzer sends
]


@dataclass
class CountingApp:
    """The WSGI app, counting the requests it answers, for the run's report."""

    app: WSGIHandler = field(default_factory=WSGIHandler)
    requests: int = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.requests += 1
        return self.app(environ, start_response)


@dataclass
class FuzzTarget:
    tenant: Tenant
    key: str


@pytest.fixture(scope="module")
def fuzz_target(django_db_setup: None, django_db_blocker: Any) -> Iterator[FuzzTarget]:
    with django_db_blocker.unblock():
        signup = tenant_signup(organization_name="Fuzz Works", slug=SLUG, owner_email="owner@fuzz.test",
                               owner_password=PASSWORD)
        # Created by the owner: the admin-scoped key cannot remove or demote its own creator.
        issued = api_key_create(tenant=signup.tenant, name="fuzz",
                                scopes=[Scope.READ, Scope.PREDICT, Scope.WRITE, Scope.ADMIN],
                                created_by_id=signup.owner.id)
        _seed(signup.tenant)
        connection.set_schema_to_public()
    started, before = time.monotonic(), APP.requests
    yield FuzzTarget(tenant=signup.tenant, key=issued.raw)
    print(f"\nschemathesis: {APP.requests - before} requests in {time.monotonic() - started:.0f} s")
    # The run enqueued tasks (onboarding, exports, plans...) for a tenant about to go: no later
    # live worker of this session may pick them up.
    redis.Redis.from_url(django_settings.CELERY_BROKER_URL).flushdb()
    with django_db_blocker.unblock():
        committed_tenant_drop(signup.tenant, emails=["owner@fuzz.test"])


@pytest.fixture(scope="module")
def stripe_configured(django_db_blocker: Any) -> Iterator[None]:
    """Checkout and the portal really run, against the local Stripe double (tests/stripe_double.py)
    with the plans' prices set for the run and put back after."""
    double, server = stripe_double.start()
    with django_db_blocker.unblock():
        saved = list(Plan.objects.values_list("id", "stripe_price_id", "stripe_overage_price_id"))
        for code, (price, overage) in PRICES.items():
            Plan.objects.filter(code=code).update(stripe_price_id=price, stripe_overage_price_id=overage)
    with override_settings(STRIPE_SECRET_KEY="sk_test_double", STRIPE_API_BASE=double.url):
        yield
    server.shutdown()
    with django_db_blocker.unblock():
        for plan_id, price, overage in saved:
            Plan.objects.filter(id=plan_id).update(stripe_price_id=price, stripe_overage_price_id=overage)


def _seed(tenant: Tenant) -> None:
    """A machine type and a machine, so ids 1 lead somewhere and detail paths are exercised."""
    with tenant_context(tenant):
        machine_type = machine_type_adopt(key=MOTOR)
        machine_create(machine_type_id=machine_type.id, name="Fuzz-1", site="Lab")


def _api_schema() -> Any:
    """The tenant URL conf's OpenAPI document, as drf-spectacular serves it on a tenant host. Built
    at collection (it needs no database): schemathesis's fixture-based loader does not run under
    pytest 9."""
    with GENERATOR_STATS.silence():  # its warnings are about naming, printed at every collection
        document = SchemaGenerator(urlconf="pdm_saas.urls_tenant").get_schema(request=None, public=True)
    config = schemathesis.config.SchemathesisConfig.from_dict({
        "seed": SEED,
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
    })
    loaded: Any = schemathesis.openapi.from_dict(document, config=config)
    loaded.app = APP
    for method, path in EXCLUDED:
        loaded = loaded.exclude(method=method, path=path)
    return loaded


APP = CountingApp()
schema = _api_schema()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_a_server_error(case: Any, fuzz_target: FuzzTarget, stripe_configured: None,
                                             django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        try:
            case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_target.key}"},
                                   checks=[not_a_server_error])
        finally:
            connection.set_schema_to_public()
