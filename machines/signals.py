"""What machines tells the apps built on it, without importing them.

`readings_changed` is sent once the transaction that stored or removed readings commits (at once
outside one), with `machine_type_id`, the `machine_ids` whose readings changed and the
`schema_name` of the tenant they belong to: a receiver that queues work carries that tenant (the
connection's schema when the hook runs is not evidence). Predictions re-scores the type's machines
on it (`predictions.apps`).

`machine_type_created` is sent inside the transaction that created a machine type (adopted from
the library or imported), with the new `machine_type`: receivers write in that transaction, so
what they add commits or rolls back with the type (maintenance seeds its checklist templates
from the type's recommended actions, `maintenance.apps`).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.dispatch import Signal

from tenants.db import connection

readings_changed = Signal()
machine_type_created = Signal()


def readings_changed_send(*, machine_type_id: int, machine_ids: Iterable[int]) -> None:
    """Send `readings_changed` after the current transaction commits, for the current tenant."""
    schema_name, ids = connection.schema_name, sorted({int(machine_id) for machine_id in machine_ids})
    transaction.on_commit(lambda: readings_changed.send(sender=readings_changed_send, machine_type_id=machine_type_id,
                                                        machine_ids=ids, schema_name=schema_name))
