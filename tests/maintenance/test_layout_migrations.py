"""The layout moves (issue 17) changed Django's state, never a table: a tenant schema migrated back
past them (to predictions 0010, before maintenance existed) and forward again keeps every table,
column and row, and its content types follow the models to their app and back."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.migrations.executor import MigrationExecutor

from maintenance.models import AlertRule
from tenants.db import connection
from tenants.provisioning import schema_clone_from_template

pytestmark = pytest.mark.django_db
SCHEMA = "t_layout_probe"  # made and dropped inside the test's transaction, which is rolled back
MOVES = "0011_maintenance_models_moved_out"  # predictions' side of the layout moves (issue 17)
MOVED = ("alert", "alertrule", "workorder", "workorderevent", "webhookendpoint", "webhookdelivery")


def _columns() -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = %s ORDER BY 1, 2", [SCHEMA])
        return cursor.fetchall()


def _labels() -> dict[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT model, app_label FROM django_content_type WHERE model = ANY(%s)",
                       [[*MOVED, "failureevent"]])
        return dict(cursor.fetchall())


def _migrate(targets: list[tuple[str, str | None]]) -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(targets)


def _leaves() -> list[tuple[str, str | None]]:
    return MigrationExecutor(connection).loader.graph.leaf_nodes()


def test_the_moves_migrate_back_and_forward_leaving_every_table_and_row() -> None:
    schema_clone_from_template(schema_name=SCHEMA)
    connection.set_schema(SCHEMA)
    try:
        rule = AlertRule.objects.create()  # a row that must come through both ways
        # The moves' own state: later migrations add columns of their own, which going back removes.
        _migrate([("predictions", MOVES)])
        before = _columns()
        assert _labels() == {**dict.fromkeys(MOVED, "maintenance"), "failureevent": "machines"}

        _migrate([("predictions", "0010_alert_kinds_work_order_mode")])
        assert _columns() == before
        assert _labels() == dict.fromkeys([*MOVED, "failureevent"], "predictions")

        _migrate([("predictions", MOVES)])
        assert _columns() == before
        assert _labels() == {**dict.fromkeys(MOVED, "maintenance"), "failureevent": "machines"}
        assert AlertRule.objects.filter(id=rule.id).exists()
        _migrate(_leaves())  # and on to today's schema
    finally:
        connection.set_schema_to_public()
