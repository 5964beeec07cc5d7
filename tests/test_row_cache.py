"""The per-process caches of rarely changing rows (tenants/row_cache.py): invalidated by every
writer after its commit, in every thread and process, never served to another tenant, never left
behind by a writer that rolls back.

The writes here commit, as in production (a test transaction never commits, so its on-commit
token replacement would never run): on two tenants of this module's own, dropped at the end.
"Another process" is a writer thread with its own connection and its own thread state: all the
reader shares with it is Redis, as a reader in another process would.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connections, transaction
from django_tenants.utils import tenant_context

from billing.models import Plan
from billing.quotas import tenant_plan
from billing.services import subscription_grant
from machines.models import MachineType
from machines.services import machine_type_adopt
from maintenance.models import AlertRule
from maintenance.services.alerts import alert_rules_cached
from predictions.models import ModelVersion
from predictions.services.registry import champion_versions_cached, model_version_promote, model_version_rollback
from tenants.db import connection, tenant_activate
from tenants.models import Domain, Tenant
from tenants.schema_names import host_for_slug
from tenants.selectors import tenant_by_host
from tenants.services import tenant_signup
from tests.conftest import MOTOR, PASSWORD, committed_tenant_drop

SLUGS = ("rowcache-a", "rowcache-b")
CLASSIFIER = ModelVersion.Kind.FAILURE_CLASSIFIER


@dataclass
class Side:
    tenant: Tenant
    machine_type: MachineType
    first: ModelVersion  # the champion
    second: ModelVersion  # a candidate


@pytest.fixture(scope="module")
def sides(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Side]]:
    made: dict[str, Side] = {}
    with django_db_blocker.unblock():
        try:
            for slug in SLUGS:
                tenant = tenant_signup(organization_name=slug, slug=slug, owner_email=f"owner@{slug}.test",
                                       owner_password=PASSWORD).tenant
                with tenant_context(tenant):
                    machine_type = machine_type_adopt(key=MOTOR)
                    first, second = (_version(machine_type, number) for number in (1, 2))
                    model_version_promote(version_id=first.id)
                made[slug] = Side(tenant, machine_type, first, second)
            yield made
        finally:
            for slug, side in made.items():
                committed_tenant_drop(side.tenant, emails=[f"owner@{slug}.test"])


@pytest.fixture
def committed(sides: dict[str, Side], django_db_blocker: Any) -> Iterator[dict[str, Side]]:
    with django_db_blocker.unblock():
        yield sides
        connection.set_schema_to_public()


def _version(machine_type: MachineType, number: int) -> ModelVersion:
    return ModelVersion.objects.create(machine_type=machine_type, kind=CLASSIFIER, number=number,
                                       data_source="simulated", data_fingerprint="x", artifact_path=f"v{number}",
                                       artifact_sha256="0" * 64)


def _elsewhere(tenant: Tenant, write: Callable[[], object]) -> None:
    """Run `write` in another thread, on its own connection, and wait for it (committed)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            with tenant_context(tenant):
                write()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            failure.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def _champion(side: Side) -> int:
    return champion_versions_cached(machine_type_id=side.machine_type.id)[CLASSIFIER].id


def test_a_promotion_and_a_rollback_reach_the_next_read(committed: dict[str, Side],
                                                        django_assert_num_queries: Any) -> None:
    side = committed[SLUGS[0]]
    with tenant_context(side.tenant):
        assert _champion(side) == side.first.id
        with django_assert_num_queries(0):  # kept: no query to know the champions
            assert _champion(side) == side.first.id
        _elsewhere(side.tenant, lambda: model_version_promote(version_id=side.second.id))
        assert _champion(side) == side.second.id
        _elsewhere(side.tenant, lambda: model_version_rollback(machine_type_id=side.machine_type.id, kind=CLASSIFIER))
        assert _champion(side) == side.first.id


def test_an_alert_rule_edit_reaches_the_next_read(committed: dict[str, Side]) -> None:
    side = committed[SLUGS[0]]
    with tenant_context(side.tenant):
        assert alert_rules_cached() == {}
        rule = AlertRule.objects.create(machine_type=side.machine_type, windows_k=2, windows_n=5)
        assert alert_rules_cached()[(side.machine_type.id, None)].windows_k == 2

        def edit() -> None:
            found = AlertRule.objects.get(id=rule.id)
            found.windows_k = 3
            found.save()

        _elsewhere(side.tenant, edit)
        assert alert_rules_cached()[(side.machine_type.id, None)].windows_k == 3
        # A queryset update sends no signal; the models' manager reports it all the same.
        _elsewhere(side.tenant, lambda: AlertRule.objects.filter(id=rule.id).update(windows_k=4))
        assert alert_rules_cached()[(side.machine_type.id, None)].windows_k == 4
        _elsewhere(side.tenant, lambda: AlertRule.objects.get(id=rule.id).delete())
        assert alert_rules_cached() == {}


def test_a_plan_change_reaches_the_next_read(committed: dict[str, Side], settings: Any) -> None:
    settings.BILLING_QUOTAS_ENABLED = True
    side = committed[SLUGS[0]]
    with tenant_context(side.tenant):
        tenant = connection.tenant
        plan = tenant_plan(tenant_id=tenant.id)
        assert plan is not None and plan.code == "trial"
        _elsewhere(side.tenant, lambda: subscription_grant(tenant=side.tenant, plan_code="starter"))
        plan = tenant_plan(tenant_id=tenant.id)
        assert plan is not None and plan.code == "starter"
        starter = Plan.objects.get(code="starter")
        included = starter.included_predictions

        def edit_plan(value: int | None) -> Callable[[], None]:
            def edit() -> None:
                found = Plan.objects.get(code="starter")
                found.included_predictions = value
                found.save()
            return edit

        try:
            _elsewhere(side.tenant, edit_plan(123))
            plan = tenant_plan(tenant_id=tenant.id)
            assert plan is not None and plan.included_predictions == 123
            _elsewhere(side.tenant, lambda: Plan.objects.filter(code="starter").update(included_predictions=456))
            plan = tenant_plan(tenant_id=tenant.id)  # a public row's update: its tenants' caches go
            assert plan is not None and plan.included_predictions == 456
        finally:
            _elsewhere(side.tenant, edit_plan(included))
            _elsewhere(side.tenant, lambda: subscription_grant(tenant=side.tenant, plan_code="trial"))


def test_a_tenants_cache_is_never_served_to_another(committed: dict[str, Side]) -> None:
    a, b = committed[SLUGS[0]], committed[SLUGS[1]]
    with tenant_context(a.tenant):
        rule = AlertRule.objects.create(windows_k=4, windows_n=6)
        try:
            assert alert_rules_cached()[(None, None)].windows_k == 4
            assert _champion(a) == a.first.id
            with tenant_context(b.tenant):
                assert alert_rules_cached() == {}
                assert _champion(b) == b.first.id
        finally:
            rule.delete()


def test_a_writer_that_rolls_back_leaves_no_stale_or_wrong_value(committed: dict[str, Side]) -> None:
    side = committed[SLUGS[0]]
    with tenant_context(side.tenant):
        assert alert_rules_cached() == {}
        with pytest.raises(RuntimeError), transaction.atomic():
            AlertRule.objects.create(windows_k=1, windows_n=1)
            assert alert_rules_cached()[(None, None)].windows_k == 1  # its own write, not kept
            model_version_promote(version_id=side.second.id)
            assert _champion(side) == side.second.id
            raise RuntimeError
        assert alert_rules_cached() == {}
        assert _champion(side) == side.first.id


def test_routing_by_host_is_kept_until_a_tenant_or_domain_changes(
    committed: dict[str, Side], client: Any, django_assert_num_queries: Any,
) -> None:
    side = committed[SLUGS[1]]
    host = host_for_slug(side.tenant.slug)
    assert client.get("/healthz", HTTP_HOST=host).status_code == 200
    # Kept: the host's tenant costs no query, and the session is on the tenant's search path
    # already, so the health check's SELECT 1 is the only statement.
    with django_assert_num_queries(1):
        assert client.get("/healthz", HTTP_HOST=host).status_code == 200
    _elsewhere(side.tenant, lambda: Tenant.objects.filter(id=side.tenant.id).update(is_active=False))
    try:
        response = client.get("/healthz", HTTP_HOST=host)  # another process deactivated it
        assert response.status_code == 403 and response.json()["error"]["code"] == "tenant_inactive"
    finally:
        _elsewhere(side.tenant, lambda: Tenant.objects.filter(id=side.tenant.id).update(is_active=True))
    assert client.get("/healthz", HTTP_HOST=host).status_code == 200
    extra = "rowcache-b-second.localhost"
    _elsewhere(side.tenant, lambda: Domain.objects.create(domain=extra, tenant=side.tenant, is_primary=False))
    try:
        assert client.get("/healthz", HTTP_HOST=extra).status_code == 200
    finally:
        _elsewhere(side.tenant, lambda: Domain.objects.filter(domain=extra).delete())
    assert client.get("/healthz", HTTP_HOST=extra).status_code == 404


def test_a_routed_tenant_is_each_requests_own_copy(committed: dict[str, Side]) -> None:
    side = committed[SLUGS[0]]
    host = host_for_slug(side.tenant.slug)
    first, second = tenant_by_host(hostname=host), tenant_by_host(hostname=host)
    assert first is not None and second is not None and first.id == second.id == side.tenant.id
    first.name = "changed by one request"
    assert second.name == side.tenant.name  # another thread's request.tenant is not touched


def test_keeping_the_search_path_follows_the_session(committed: dict[str, Side]) -> None:
    a, b = committed[SLUGS[0]], committed[SLUGS[1]]
    tenant_activate(a.tenant)
    assert _search_path().startswith(a.tenant.schema_name)
    tenant_activate(b.tenant)  # another tenant: the next query must switch
    assert _search_path().startswith(b.tenant.schema_name)
    tenant_activate(b.tenant)
    assert connection.search_path_set_schemas is not None  # the same: kept
    with pytest.raises(RuntimeError), transaction.atomic():
        tenant_activate(a.tenant)
        assert _search_path().startswith(a.tenant.schema_name)  # SET inside the transaction ...
        raise RuntimeError
    tenant_activate(a.tenant)  # ... which the rollback undid: the session is back on b's path
    assert _search_path().startswith(a.tenant.schema_name)
    connection.set_schema_to_public()


def _search_path() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW search_path")
        return str(cursor.fetchone()[0]).strip('"')
