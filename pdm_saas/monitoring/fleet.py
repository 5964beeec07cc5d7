"""How many machines scheduled scoring should score, exported at the start of every run.

`pdm_predictions_stored_total` alone cannot tell "scoring stopped" from "nothing to score": the
alert `PdmNoPredictionsStored` (docker/prometheus/alerts.yml) compares it with
`pdm_machines_scorable`, which this module sets from `predictions.tasks.fleet_score_task` when
beat's run over the whole fleet starts (an upload's run covers one type and sets nothing).

Scorable means what `predictions.services.scoring.fleet_score` would score on a scheduled run:
active machines whose type has a type-wide champion failure classifier and that have readings
newer than their latest prediction read (a scheduled run scores only what is new; a machine whose
models changed is scored too, which only makes stored >= scorable). A tenant that is
read-only (lapsed subscription) or out of included predictions is skipped on purpose by scoring,
so it counts 0: the alert is for outages, not for billing states.
"""

from __future__ import annotations

import logging

from billing.quotas import prediction_quota_check
from machines.models import Machine
from machines.reading_store import readings_latest
from pdm_saas.errors import PaymentRequired
from pdm_saas.monitoring.metrics import scheduled_scoring_record
from predictions.models import ModelVersion
from predictions.selectors import machines_with_unread_readings
from tenants.db import connection

logger = logging.getLogger(__name__)


def scorable_machines_count() -> int:
    """Machines of the current tenant that a scheduled run scores (see the module docstring)."""
    champion_types = ModelVersion.objects.filter(
        machine__isnull=True, kind=ModelVersion.Kind.FAILURE_CLASSIFIER, status=ModelVersion.Status.CHAMPION,
    ).values("machine_type_id")
    ids = list(Machine.objects.filter(status=Machine.Status.ACTIVE, machine_type_id__in=champion_types)
               .values_list("id", flat=True))
    if not ids:
        return 0
    # What a scheduled run scores, by the same read (predictions.services.scoring).
    return len(machines_with_unread_readings(newest=readings_latest(machine_ids=ids)))


def _predictions_allowed() -> bool:
    """The same cheap look scoring takes before each type: False when the plan refuses more."""
    try:
        prediction_quota_check(tenant_id=connection.tenant.id)
    except PaymentRequired:
        return False
    return True


def scheduled_scoring_observe(*, read_only: bool) -> None:
    """Export the current tenant's scorable machines and the run's start; never raises (a metric
    is not worth a skipped scoring run)."""
    try:
        scorable = 0 if read_only or not _predictions_allowed() else scorable_machines_count()
        scheduled_scoring_record(schema_name=connection.schema_name, scorable=scorable)
    except Exception:
        logger.exception("could not count the scorable machines of %s", connection.schema_name)
