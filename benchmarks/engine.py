"""The ML engine's numbers, each beside a baseline measured in the same run.

    .venv/bin/python benchmarks/engine.py [--types all|k1,k2] [--machines 40] [--rows 100000]
                                          [--clients 50] [--seconds 10] [--servers daphne,production]
                                          [--parts onboarding,throughput,http]

Runs against the benchmark database (`pdm_bench`, see tenant_provision.py) in a tenant of its own,
`bench-engine`. Three parts:

1. **Onboarding time per machine type**: `onboard_machine_type` at its defaults (simulate ->
   dataset -> synthesizer and quality report -> four models -> score the fleet) for each type,
   with the stage timings and the classifier's held-out F1 next to the majority baseline's.
   Target: under 180 s per type on 2 cores.
2. **Scoring throughput in process** on `--rows` rows of one type: raw XGBoost `inplace_predict`
   of the failure classifier on a ready feature matrix (the baseline), then our scoring path
   (`engine.scoring.score_columns`, every row: window features, classifier, failure mode, RUL
   with interval, anomaly score, health score). Target: 100,000 predictions/s. Then, on the same
   20,000 rows: raw TreeSHAP (`pred_contribs`) beside our batch with and without explanations, and
   one machine's prediction explained and not. Targets: 20,000 explained rows/s; one explanation
   adds <= 3 ms.
3. **HTTP** with `wrk`: `GET /healthz` (tenant routing and one query, the server's floor) and one
   prediction with explanation (`POST /api/v1/predictions/`, the machine's latest stored window)
   at `--clients` connections, each sending its next request when the last is answered, then from
   one client alone. Each of `--servers` in turn, in the same run: `daphne`, the single ASGI
   process deployed before issue 19, and `production`, the servers deployed now (Procfile.dev's
   web, ws and proxy through pdm_saas.serving, as `make run` starts them). Targets: `/healthz`
   >= 1,000 req/s; predictions >= 200 req/s at 50 clients with p95 <= 300 ms; one client p50 <=
   10 ms and p95 <= 15 ms.

`--parts throughput` alone needs no database: it trains the scoring type's models in process the
way onboarding does (simulated fleet, default horizon, `train_suite`; no synthesizer, which does
not change the models), prints the training time per model kind, then measures throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.ingest import schemas_migrate  # noqa: E402
from benchmarks.tenant_provision import BENCH_DATABASE_URL, broker_purge, database_ensure  # noqa: E402

TENANT_SLUG = "bench-engine"
SCORING_TYPE = "induction-motor-siemens-1la7"
PREFIX = "engine:"
EXPLAINED_ROWS = 20_000  # rows of the explanation comparison (SHAP is ~20x the cost of scoring)
FLEET = 20  # machines of the scoring type with stored readings, for the HTTP part
PARTS = ("onboarding", "throughput", "http")
# predictions.services.training.DEFAULT_MACHINES, repeated: importing it needs Django set up.
ONBOARDING_MACHINES = 100


def say(message: str = "") -> None:
    print(f"{PREFIX} {message}" if message else "", flush=True)


def bench_tenant() -> Any:
    from billing.services import subscription_grant
    from tenants.models import Tenant
    from tenants.services import tenant_signup

    tenant = Tenant.objects.filter(slug=TENANT_SLUG).first()
    if tenant is None:
        tenant = tenant_signup(organization_name="Bench engine", slug=TENANT_SLUG,
                               owner_email=f"owner@{TENANT_SLUG}.example.com", owner_password="Bench-Engine-73!").tenant
    # Signup starts a trial (3 machines, 1,000 predictions, 60 requests a minute), which the HTTP
    # part outgrows in its first seconds. The enterprise plan keeps every billing check on the
    # request path (usage upsert, rate-limit counter, standing) while never refusing the load.
    subscription_grant(tenant=tenant, plan_code="enterprise")
    return tenant


def library_keys(selection: str) -> list[str]:
    from machines.library import library_list

    keys = [item["key"] for item in library_list()]
    if selection == "all":
        return keys
    chosen = [k.strip() for k in selection.split(",") if k.strip()]
    unknown = sorted(set(chosen) - set(keys))
    if unknown:
        raise SystemExit(f"unknown machine types: {', '.join(unknown)}")
    return chosen


# --- 1. onboarding --------------------------------------------------------------------------------

def onboarding(keys: list[str], machines: int | None) -> list[dict[str, Any]]:
    from machines.models import MachineType
    from machines.services import machine_type_adopt
    from predictions.services.training import DEFAULT_MACHINES, onboard_machine_type

    rows = []
    for key in keys:
        machine_type = MachineType.objects.filter(key=key).first() or machine_type_adopt(key=key)
        # The onboarding defaults (horizon, synthesizer, and the machine count unless given).
        summary = onboard_machine_type(machine_type=machine_type, machines=machines or DEFAULT_MACHINES)
        classifier = next(m for m in summary["models"] if m["kind"] == "failure_classifier")
        rows.append({"type": key, **summary["seconds"], "f1": classifier["metrics"].get("f1"),
                     "baseline_f1": _version_baseline(classifier["id"])})
        last = rows[-1]
        stages = ", ".join(f"{name} {summary['seconds'][name]:.1f}" for name in summary["seconds"] if name != "total")
        say(f"onboard {key:<32} {last['total']:6.1f} s ({stages}); "
            f"classifier F1 {last['f1']:.3f} vs majority {last['baseline_f1']:.3f}")
    return rows


def _version_baseline(version_id: int) -> float:
    from predictions.models import ModelVersion

    return float(ModelVersion.objects.get(id=version_id).baseline.get("f1", 0.0))


# --- 2. throughput --------------------------------------------------------------------------------

def stored_models() -> Any:
    """The scoring type's champions, as onboarding registered them."""
    from machines.models import MachineType
    from predictions.services.registry import model_set_for

    models = model_set_for(machine_type=MachineType.objects.get(key=SCORING_TYPE))
    assert models is not None
    return models


def trained_models(machines: int | None) -> Any:
    """The scoring type's four models trained in process, as onboarding trains them."""
    from engine.scoring import ModelSet
    from engine.synthetic.simulator import simulate_fleet
    from engine.training.classifier import default_horizon_h
    from engine.training.suite import train_suite
    from machines.library import library_get

    document = library_get(SCORING_TYPE)
    table = simulate_fleet(document, machines=machines or ONBOARDING_MACHINES, seed=0)
    started = time.perf_counter()
    suite = train_suite(table, document, horizon_h=default_horizon_h(table), seed=0)
    kinds = ", ".join(f"{kind} {seconds:.1f}" for kind, seconds in suite.seconds.items())
    say(f"train_suite {SCORING_TYPE} on {table.num_rows:,} rows: {time.perf_counter() - started:.1f} s ({kinds})")
    return ModelSet(document, suite.bundles)


def throughput(rows: int, models: Any) -> dict[str, float]:
    import numpy as np

    from engine.features import window_features
    from engine.scoring import score_columns, score_frame
    from engine.synthetic.simulator import simulate_fleet

    document = models.document
    per_machine = simulate_fleet(document, machines=10, seed=99).num_rows / 10
    table = simulate_fleet(document, machines=int(rows / per_machine * 1.2) + 1, seed=99)
    table = table.slice(0, rows)
    clf = models.classifier
    features, _ = window_features(table, signals=clf.signals, spec=clf.spec)
    matrix = np.ascontiguousarray(features, dtype=np.float32)
    raw = _best_of(lambda: clf.booster.raw.inplace_predict(matrix))  # a fixed XGBoost: not searched here
    ours = _best_of(lambda: score_columns(models, table, rows="all"))
    as_dicts = _best_of(lambda: score_frame(models, table, rows="all", explain=False))
    result = {"rows": rows, "raw_per_s": rows / raw, "ours_per_s": rows / ours, "dicts_per_s": rows / as_dicts}
    say(f"throughput on {rows:,} rows of {SCORING_TYPE}: raw XGBoost inplace_predict {result['raw_per_s']:,.0f}/s; "
        f"our path (window features, 4 models, health) {result['ours_per_s']:,.0f}/s, "
        f"as API rows {result['dicts_per_s']:,.0f}/s")
    return {**result, **explained_throughput(models, table.slice(0, min(rows, EXPLAINED_ROWS)), matrix)}


def explained_throughput(models: Any, table: Any, matrix: Any) -> dict[str, float]:
    """The same rows three ways: raw TreeSHAP (`pred_contribs` of the classifier on a ready matrix:
    the floor of any exact explanation), our batch with explanations (the contract: SHAP shares,
    anomaly factors, similar cases, recommendation; rules and RUL factors for predicted failures)
    and without; then one machine's latest step explained and not (the API's single prediction)."""
    import numpy as np
    import xgboost as xgb

    from engine.scoring import score_frame

    rows = table.num_rows
    from engine.explanation import BATCH_THREADS

    booster, names = models.classifier.booster.raw.copy(), models.classifier.feature_names
    booster.set_param({"nthread": BATCH_THREADS})  # as many cores as our batch's TreeSHAP gets

    def raw_shap() -> Any:
        return booster.predict(xgb.DMatrix(matrix[:rows], nthread=BATCH_THREADS, feature_names=names),
                               pred_contribs=True)

    contribs = _best_of(raw_shap)
    explained_out: list[Any] = []
    explained = _best_of(lambda: explained_out.__setitem__(slice(None), score_frame(models, table, rows="all")))
    plain = _best_of(lambda: score_frame(models, table, rows="all", explain=False))
    assert len(explained_out) == rows and all(item["explanation"]["top_factors"] for item in explained_out)
    machine = table.column("machine")[0].as_py()
    one = table.filter(np.asarray(table.column("machine").to_numpy(zero_copy_only=False)) == machine)
    one = one.slice(max(0, one.num_rows - 2 * models.history_steps))  # the window the API loads, not a year
    single = [_timed(lambda: score_frame(models, one, forecast_horizon_h=None)) for _ in range(30)]
    bare = [_timed(lambda: score_frame(models, one, forecast_horizon_h=None, explain=False)) for _ in range(30)]
    assert "temporal" in score_frame(models, one, forecast_horizon_h=None)[0]["explanation"]
    result = {"explained_rows": rows, "contribs_per_s": rows / contribs, "explained_per_s": rows / explained,
              "unexplained_per_s": rows / plain, "single_explained_ms": 1000 * statistics.median(single),
              "single_unexplained_ms": 1000 * statistics.median(bare)}
    say(f"explanations on the same {rows:,} rows: raw TreeSHAP pred_contribs (classifier, {BATCH_THREADS} threads) "
        f"{result['contribs_per_s']:,.0f}/s; our batch explained {result['explained_per_s']:,.0f}/s, "
        f"unexplained {result['unexplained_per_s']:,.0f}/s; one machine's prediction explained "
        f"{result['single_explained_ms']:.1f} ms, unexplained {result['single_unexplained_ms']:.1f} ms (median of 30)")
    return result


def _timed(run: Any) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _best_of(run: Any, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


# --- 3. HTTP latency -----------------------------------------------------------------------------

def fleet_prepare(tenant: Any) -> tuple[str, list[str]]:
    """FLEET machines of the scoring type with a simulated history each; an API key to call."""
    from accounts.services import api_key_create
    from engine.synthetic.simulator import simulate_fleet
    from machines.live import readings_push
    from machines.models import Machine, MachineType
    from machines.reading_store import readings_latest
    from machines.services import machine_create

    machine_type = MachineType.objects.get(key=SCORING_TYPE)
    sensors = [s["name"] for s in machine_type.sensors]
    names = [f"HTTP-{i:03d}" for i in range(FLEET)]
    # Machines without readings too: a run stopped between creating a machine and pushing its
    # history (say, by a plan limit) must not leave machines that answer 400 to every prediction.
    known = dict(Machine.objects.filter(name__in=names).values_list("id", "name"))
    stocked = {known[machine_id] for machine_id in readings_latest(machine_ids=list(known))}
    missing = [n for n in names if n not in stocked]
    if missing:
        table = simulate_fleet(machine_type.metadata, machines=len(missing), seed=5)
        by_sim = sorted(set(table.column("machine").to_pylist()))
        for name in missing:
            if not Machine.objects.filter(name=name).exists():
                machine_create(machine_type_id=machine_type.id, name=name)
        items = [{"machine": missing[by_sim.index(row["machine"])], "ts": row["ts"].isoformat(),
                  "values": {s: row[s] for s in sensors if row[s] is not None and row[s] == row[s]}}
                 for row in table.select(["machine", "ts", *sensors]).to_pylist()]
        for start in range(0, len(items), 10_000):
            readings_push(items=items[start : start + 10_000])
    key = api_key_create(tenant=tenant, name="bench", scopes=["read", "predict"], created_by_id=None)
    return key.raw, names


def http_latency(secret: str, names: list[str], clients: int, seconds: float,
                 servers: list[str]) -> dict[str, dict[str, dict[str, float]]]:
    """Each of `servers` loaded by wrk in turn: `GET /healthz` (one database round trip, the
    server's floor) and an explained prediction at `clients` connections, then one client alone.
    Each server runs as deployed, with DEBUG off."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", DJANGO_DEBUG="false")
    results = {}
    for server in servers:
        with _served(server, env) as port:
            results[server] = _server_load(port, secret, names, clients, seconds)
        for label, key, n in (("GET /healthz (floor)", "floor", clients),
                              ("POST /api/v1/predictions/ with explanation", "ours", clients),
                              ("POST /api/v1/predictions/ with explanation", "alone", 1)):
            row = results[server][key]
            say(f"http {server:<10} {label:<44} {n:>2} clients: p50 {row['p50_ms']:.1f} ms, "
                f"p95 {row['p95_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, {row['per_s']:,.0f} req/s")
    return results


# What was deployed before issue 19 (one daphne process, a connection per request), beside what
# is deployed now: pdm_saas.serving's web, ws and proxy from Procfile.dev, as `make run` starts them.
SERVERS = ("daphne", "production")


@contextmanager
def _served(server: str, env: dict[str, str]) -> Iterator[int]:
    from pdm_saas.serving import free_port, free_ports, port_listening, serving

    logs = Path(tempfile.mkdtemp(prefix=f"bench-http-{server}-"))
    if server == "production":
        with serving(free_ports(), env=env, logs=logs) as ports:
            yield ports.proxy
        return
    port = free_port()
    command = [str(Path(sys.executable).with_name("daphne")), "-p", str(port), "pdm_saas.asgi:application"]
    with (logs / "daphne.log").open("w") as log:
        daphne = subprocess.Popen(command, cwd=REPO, env={**env, "DATABASE_CONN_MAX_AGE": "0"}, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        while not port_listening(port):
            if daphne.poll() is not None:
                raise SystemExit(f"daphne did not start: {(logs / 'daphne.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield port
    finally:
        daphne.kill()  # requests wrk left unanswered would hold a terminate up
        daphne.wait()


def _server_load(port: int, secret: str, names: list[str], clients: int, seconds: float) -> dict[str, dict[str, float]]:
    predict: dict[str, Any] = {"path": "/api/v1/predictions/", "machines": names, "host": "localhost",
               "headers": [f"Authorization: Bearer {secret}", "Content-Type: application/json"]}
    _warm(port, predict)
    floor = _wrk(port, path="/healthz", host=f"{TENANT_SLUG}.localhost", clients=clients, seconds=seconds)
    before = _api_predictions()
    ours = _wrk(port, clients=clients, seconds=seconds, **predict)
    _settle(port)
    alone = _wrk(port, clients=1, seconds=seconds, **predict)
    stored = _api_predictions() - before
    # Every answered request stored its prediction (in-flight ones at the end may add a few more).
    if stored < ours["requests"] + alone["requests"]:
        raise SystemExit(f"{stored} predictions stored for {ours['requests'] + alone['requests']} answered requests")
    return {"floor": floor, "ours": ours, "alone": alone}


def _warm(port: int, predict: dict[str, Any]) -> None:
    """Until every server process has loaded its models: the first answers take seconds."""
    _until_quick(port, 1000, 120, "still answers slowly after two minutes of warming up",
                 clients=4, seconds=4, **predict)


def _settle(port: int) -> None:
    """Until the requests a load left queued in the server are answered: wrk stops sending at its
    deadline, but up to `clients` requests are still in the server, and the next load would wait
    behind them."""
    _until_quick(port, 50, 60, "did not drain its queue within a minute",
                 path="/healthz", host=f"{TENANT_SLUG}.localhost", clients=1, seconds=1)


def _until_quick(port: int, p99_ms: float, within_s: float, failure: str, **load: Any) -> None:
    """Repeat the short `load` until its p99 is under `p99_ms`."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if _wrk(port, check=False, **load)["p99_ms"] < p99_ms:
            return
    raise SystemExit(f"the server {failure}")


def _api_predictions() -> int:
    from django_tenants.utils import schema_context

    from predictions.models import Prediction
    from tenants.schema_names import schema_name_for_slug

    with schema_context(schema_name_for_slug(TENANT_SLUG)):
        return Prediction.objects.filter(source=Prediction.Source.API).count()


def _wrk(port: int, *, path: str, host: str, clients: int, seconds: float, machines: list[str] | None = None,
         headers: list[str] | None = None, check: bool = True) -> dict[str, float]:
    """wrk (C, epoll) at `clients` open connections, each sending its next request when the last
    is answered; a Python client would take the cores the server is measured on."""
    command = ["wrk", f"-t{min(2, clients)}", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "60s",
               "-s", str(REPO / "benchmarks" / "http_load.lua"), "-H", f"Host: {host}"]
    for header in headers or []:
        command += ["-H", header]
    env = dict(os.environ, PDM_BENCH_MACHINES=",".join(machines or []))
    output = subprocess.run([*command, f"http://127.0.0.1:{port}{path}"], env=env, check=True,
                            capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    if check and (result["status_errors"] or result["socket_errors"] or not result["requests"]):
        raise SystemExit(f"{path}: {result['status_errors']} error answers, {result['socket_errors']} socket errors, "
                         f"{result['requests']} answered:\n{output}")
    if not result["requests"]:
        result["p99_ms"] = float("inf")
    result["per_s"] = result["requests"] / result["seconds"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--types", default="all", help="'all' or comma-separated library keys")
    parser.add_argument("--machines", type=int, help="simulated machines per onboarding (default: onboarding's)")
    parser.add_argument("--rows", type=int, default=100_000, help="rows for the throughput part")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10, help="duration of each HTTP load")
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help="comma-separated subset of daphne (before issue 19),production")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help="comma-separated subset of onboarding,throughput,http (throughput alone: no database)")
    args = parser.parse_args()
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if parts - set(PARTS):
        raise SystemExit(f"unknown parts: {', '.join(sorted(parts - set(PARTS)))}")
    if parts == {"throughput"}:
        throughput(args.rows, trained_models(args.machines))
        return 0
    database_ensure(BENCH_DATABASE_URL)
    import django

    django.setup()
    from django_tenants.utils import tenant_context

    schemas_migrate(TENANT_SLUG)
    tenant = bench_tenant()
    schemas_migrate(TENANT_SLUG)
    keys = library_keys(args.types)
    if SCORING_TYPE not in keys:
        keys.append(SCORING_TYPE)
    say(f"{os.cpu_count()} CPUs; {len(keys)} machine types; {args.machines or 'the default number of'} "
        "simulated machines each")
    onboarded: list[dict[str, Any]] = []
    try:
        with tenant_context(tenant):
            if "onboarding" in parts:  # otherwise the scoring type's stored models are used
                onboarded = onboarding(keys, args.machines)
            if "http" in parts:
                secret, names = fleet_prepare(tenant)
            if "throughput" in parts:
                throughput(args.rows, stored_models())
        if "http" in parts:
            http_latency(secret, names, args.clients, args.seconds, [x for x in args.servers.split(",") if x])
    finally:
        broker_purge()
    if onboarded:
        totals = [row["total"] for row in onboarded]
        say(f"onboarding: mean {statistics.mean(totals):.1f} s, max {max(totals):.1f} s over {len(totals)} types "
            "(target < 180 s; the roadmap's TVAE alone took 1.5-2 h per machine)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
