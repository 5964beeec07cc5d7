"""Concurrent predictions at the quota boundary: never more than the plan allows, never a lost count.

    .venv/bin/python benchmarks/quota.py [--threads 16] [--attempts 1.5] [--work-ms 2]

Runs against the benchmark database (`pdm_bench`, see tenant_provision.py) in a tenant of its own,
`bench-quota`, on the trial plan (1,000 included predictions a month, no overage). `--threads`
threads, each on its own database connection, make prediction requests of one prediction each
(`--attempts` x the limit in all) the way scoring does: the cheap pre-check
(`billing.quotas.prediction_quota_check`), `--work-ms` of simulated scoring, then in one
transaction the reservation (`billing.quotas.prediction_quota_reserve`, the conditional upsert).
Then a mixed series of batch-sized requests (1-10 predictions each).

The baseline, same threads and same work in the same run, on a counter of its own: the guard
people write first, read the counter, compare with the limit, then add unconditionally
(`billing.services.usage_record_predictions`, the upsert this project used before quotas).

It prints requests attempted, allowed and refused, the final counter and the limit for each.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.ingest import schemas_migrate  # noqa: E402
from benchmarks.tenant_provision import BENCH_DATABASE_URL, broker_purge, database_ensure  # noqa: E402

TENANT_SLUG = "bench-quota"
PREFIX = "quota:"
# The baseline counts in a period of its own, so the two series never share a row.
BASELINE_AT = datetime(2001, 1, 15, tzinfo=UTC)


def say(message: str = "") -> None:
    print(f"{PREFIX} {message}" if message else "", flush=True)


@dataclass
class Tally:
    attempted: int = 0
    allowed_requests: int = 0
    allowed_predictions: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, *, allowed: bool, size: int) -> None:
        with self.lock:
            self.attempted += 1
            if allowed:
                self.allowed_requests += 1
                self.allowed_predictions += size
            else:
                self.refused += 1


def bench_tenant() -> Any:
    from billing.models import Plan, Subscription
    from tenants.models import Tenant
    from tenants.services import tenant_signup

    tenant = Tenant.objects.filter(slug=TENANT_SLUG).first()
    if tenant is None:
        tenant = tenant_signup(organization_name="Bench quota", slug=TENANT_SLUG,
                               owner_email=f"owner@{TENANT_SLUG}.example.com", owner_password="Bench-Quota-73!").tenant
    Subscription.objects.filter(tenant=tenant).update(plan=Plan.objects.get(code="trial"), status="trialing")
    return tenant


def counters_reset(tenant_id: int) -> None:
    from billing.models import UsageCounter
    from billing.services import usage_period_start

    UsageCounter.objects.filter(tenant_id=tenant_id, period_start__in=[
        usage_period_start(), usage_period_start(BASELINE_AT)]).delete()


def guarded_request(tenant_id: int, size: int, work_s: float) -> bool:
    """What scoring does: look, score, then reserve in the storing transaction."""
    from django.db import transaction

    from billing.quotas import prediction_quota_check, prediction_quota_reserve
    from pdm_saas.errors import PaymentRequired

    try:
        prediction_quota_check(tenant_id=tenant_id, count=size)
        time.sleep(work_s)  # scoring
        with transaction.atomic():
            prediction_quota_reserve(tenant_id=tenant_id, count=size)
    except PaymentRequired:
        return False
    return True


def baseline_request(tenant_id: int, size: int, limit: int, work_s: float) -> bool:
    """Check, score, then add unconditionally: the race the reservation closes."""
    from django.db import transaction

    from billing.services import usage_predictions, usage_record_predictions

    if usage_predictions(tenant_id=tenant_id, at=BASELINE_AT) + size > limit:
        return False
    time.sleep(work_s)
    with transaction.atomic():
        usage_record_predictions(tenant_id=tenant_id, count=size, at=BASELINE_AT)
    return True


def hammer(threads: int, requests: list[int], call: Any) -> tuple[Tally, float]:
    """`requests` (sizes) shared among `threads` threads, each on its own connection."""
    from django.db import connections

    tally = Tally()
    queue = list(reversed(requests))
    start = threading.Barrier(threads)

    def worker() -> None:
        try:
            start.wait()
            while True:
                with tally.lock:
                    if not queue:
                        return
                    size = queue.pop()
                tally.add(allowed=call(size), size=size)
        except Exception as exc:  # noqa: BLE001 - reported with the figures
            tally.errors.append(repr(exc))
        finally:
            connections.close_all()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    began = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return tally, time.perf_counter() - began


def report(name: str, tally: Tally, seconds: float, counter: int, limit: int) -> None:
    over = counter - limit
    say(f"{name:<44} attempted {tally.attempted:>5,}  allowed {tally.allowed_requests:>5,} requests "
        f"({tally.allowed_predictions:>5,} predictions)  refused {tally.refused:>5,}  counter {counter:>5,}  "
        f"limit {limit:,}  {'over by ' + format(over, ',') if over > 0 else 'within'}  "
        f"{tally.attempted / seconds:,.0f} req/s")
    for error in tally.errors[:3]:
        say(f"  error: {error}")


def series(tenant_id: int, limit: int, threads: int, sizes: list[int], work_s: float, label: str) -> bool:
    from billing.services import usage_predictions

    counters_reset(tenant_id)
    guarded, guarded_s = hammer(threads, sizes, lambda size: guarded_request(tenant_id, size, work_s))
    baseline, baseline_s = hammer(threads, sizes, lambda size: baseline_request(tenant_id, size, limit, work_s))
    counter = usage_predictions(tenant_id=tenant_id)
    report(f"ours, conditional reservation ({label})", guarded, guarded_s, counter, limit)
    report(f"baseline, check then add ({label})", baseline, baseline_s,
           usage_predictions(tenant_id=tenant_id, at=BASELINE_AT), limit)
    exact = counter == guarded.allowed_predictions and counter <= limit and not guarded.errors
    say(f"  counter == predictions allowed: {counter == guarded.allowed_predictions}; "
        f"never past the limit: {counter <= limit}")
    return exact


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--attempts", type=float, default=1.5, help="requests sent, as a multiple of the limit")
    parser.add_argument("--work-ms", type=float, default=2.0, help="simulated scoring between look and store")
    args = parser.parse_args()
    os.environ["PDM_QUOTAS_ENABLED"] = "true"
    database_ensure(BENCH_DATABASE_URL)
    import django

    django.setup()
    from billing.quotas import prediction_limit, tenant_plan

    schemas_migrate(TENANT_SLUG)
    tenant = bench_tenant()
    limit = prediction_limit(tenant_plan(tenant_id=tenant.id))
    assert limit is not None, "the trial plan must have a hard limit"
    total = int(limit * args.attempts)
    say(f"{os.cpu_count()} CPUs; tenant {TENANT_SLUG} on the trial plan, limit {limit:,} predictions; "
        f"{args.threads} threads, {args.work_ms:g} ms of scoring per request")
    ok = True
    try:
        ok &= series(tenant.id, limit, args.threads, [1] * total, args.work_ms / 1000, "1 each")
        mixed = [1 + (i * 7) % 10 for i in range(total // 5)]  # batches of 1-10 predictions
        ok &= series(tenant.id, limit, args.threads, mixed, args.work_ms / 1000, "1-10 each")
    finally:
        counters_reset(tenant.id)
        broker_purge()
    say("exact: the counter equals the predictions allowed and never passes the limit" if ok else "NOT EXACT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
