"""Benchmark: allocations per second against a few shared donations, with many concurrent callers.

Each measurement runs against fresh donations sized so that about a tenth of the asks no longer
fit (the overdraw guard is exercised, not idle), and is followed by a check that no donation was
overdrawn and every fen taken is in an allocation:

  1. the use case in-process: the allocation route's own function (`@api(batch=True)`, its
     group commit in hub/group_commit.py), handed the calls of concurrent green threads
     by a hub.batching.Batcher as the HTTP entrypoint does, minus HTTP: concurrent asks
     decided together in one transaction (lock, client view, earmarks, one INSERT, one UPDATE
     per donation, events built, checked and put in the outbox, each answer settled as its
     caller may see it); and the same from two processes at once, as two `hub serve resources`
     processes would run it, against the same donations;
  2. the raw baselines, the same SQL sent directly with psycopg, no Python around it:
     per allocation — what a lone call runs (lock and read in one pipeline; take, record and
     the outbox INSERT in another; COMMIT), one transaction each, from the same green threads,
     and from 8 OS threads in a process without eventlet (what the database does with them);
     batched — what a group runs, for groups of the size the use case formed in this run, one
     group after another on one connection (as the one batcher per process runs them);
  3. over HTTP: POST /api/v1/allocations through the gateway to the resources service, both run
     as separate processes as in production (outbox relay publishing to the real broker).

Not part of `make test`; run with `make perf` or
`.venv/bin/python -m pytest tests/perf/bench_allocations.py -q -s`.
    BENCH_ALLOCATIONS (default 4000 per measurement), BENCH_CONCURRENCY (default 32),
    BENCH_DONATIONS (default 4)
"""
import os
import sys

if __name__ == "__main__" and sys.argv[1] == "worker":   # a worker of use_case_processes:
    import eventlet  # green from the start
    eventlet.monkey_patch()
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")

import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from contextlib import ExitStack  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402

import eventlet  # noqa: E402
import urllib3  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from hub import metrics  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.errors import Conflict  # noqa: E402
from hub.migrate import migrate  # noqa: E402
from resources import allocations, client_view, donations, providers  # noqa: E402
from support.hub import cleanup_hub, test_settings, wait_for  # noqa: E402
from support.processes import served  # noqa: E402
from tooling.privileges import provision  # noqa: E402

N = int(os.environ.get("BENCH_ALLOCATIONS", "4000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
DONATIONS = int(os.environ.get("BENCH_DONATIONS", "4"))
CLIENTS = 200
AMOUNT = 100                                  # fen per allocation
ROOT = Path(__file__).resolve().parents[2]


def seed_clients(db):
    """Clients as resources knows them from intake's events (through the same event handler)."""
    ids = [str(uuid.uuid4()) for _ in range(CLIENTS)]
    with db.transaction() as tx:
        client_view.apply_events(tx, [{"time": datetime.now(timezone.utc).isoformat(), "data": {
            "client_id": cid, "status": "active", "categories": ["solitary_elderly"],
            "age_group": "elderly", "age_band": "70-79", "township_code": "341721100",
            "village_code": "341721100001"}} for cid in ids])
    return ids


def seed_donations(db, settings):
    """DONATIONS donations holding ~90% of what N allocations of AMOUNT will ask for."""
    each = N * AMOUNT * 9 // 10 // DONATIONS
    with db.transaction() as tx:
        provider = providers.register(tx, settings, {
            "name": "压测企业", "kind": "enterprise", "five_society": "social_resource",
            "contact": None, "township_code": None, "services": [], "effective_date": None},
            "bench")
        return [str(donations.receive(tx, settings, {
            "provider_id": provider["id"], "kind": "money", "amount_fen": each, "item": None,
            "unit": None, "quantity": None, "value_fen": None, "received_on": None,
            "township_code": None, "earmark": None, "note": None}, "bench")["id"])
            for _ in range(DONATIONS)]


def check_no_overdraw(db, donation_ids):
    """Every donation: remaining >= 0 and amount - remaining == the sum of its allocations."""
    rows = db.query("""SELECT d.id, d.amount, d.remaining, coalesce(sum(a.amount), 0) AS given,
                              count(a.id) AS n
                       FROM donations d LEFT JOIN allocations a ON a.donation_id = d.id
                       WHERE d.id = ANY(%s::uuid[]) GROUP BY d.id""", (donation_ids,))
    for r in rows:
        assert r["remaining"] >= 0 and r["amount"] - r["remaining"] == r["given"], r
    return sum(r["n"] for r in rows), sum(r["remaining"] for r in rows)


def run_concurrently(call):
    """Call `call(i)` for i in range(N) from CONCURRENCY green threads; (seconds, statuses)."""
    statuses = {}

    def one(i):
        status = call(i)
        statuses[status] = statuses.get(status, 0) + 1
    pool = eventlet.GreenPool(CONCURRENCY)
    started = time.perf_counter()
    for i in range(N):
        pool.spawn_n(one, i)
    pool.waitall()
    return time.perf_counter() - started, statuses


# -- 1. the use case, in-process -----------------------------------------------------------------
ROUTE = ("POST", "/api/v1/allocations", 201)


def group_stats():
    """(groups, calls) of the allocation route in this process so far (hub_batch_size)."""
    histogram = metrics.BATCH_SIZE.labels("resources", " ".join(ROUTE[:2]))
    samples = {s.name: s.value for s in histogram.collect()[0].samples}
    return samples["hub_batch_size_count"], samples["hub_batch_size_sum"]


def route_caller(db, settings, donation_ids, client_ids):
    """`allocate(i)`: ask i through the route's own function, handed calls by a Batcher as the
    HTTP entrypoint does (a county admin's call, who sees every township), minus HTTP."""
    from hub.auth import Principal
    from hub.batching import Batcher
    from hub.http import Call
    from resources.service import ResourcesService
    service = SimpleNamespace(db=db, name="resources")
    route = ResourcesService.allocate.__wrapped__        # the route's own function
    batcher = Batcher(lambda calls: route(service, calls), "resources", " ".join(ROUTE[:2]))
    principal = Principal("bench", "county_admin", settings.county.code)

    def allocate(i):
        body = {"donation_id": donation_ids[i % DONATIONS], "client_id": client_ids[i % CLIENTS],
                "amount_fen": AMOUNT, "quantity": None, "allocated_on": None, "need_id": None,
                "note": None}
        try:
            batcher.submit(Call(principal, body, {}, None, route=ROUTE))
            return 201
        except Conflict:
            return 409
    return allocate


def use_case_rate(db, settings, client_ids):
    donation_ids = seed_donations(db, settings)
    before = group_stats()
    seconds, statuses = run_concurrently(route_caller(db, settings, donation_ids, client_ids))
    groups, calls = (a - b for a, b in zip(group_stats(), before))
    return seconds, statuses, donation_ids, calls / groups


def use_case_processes(db, settings, client_ids, processes=2):
    """The same, from `processes` processes at once (as `hub serve resources` run twice would),
    all against the same donations: the database alone keeps them from overdrawing."""
    donation_ids = seed_donations(db, settings)
    start_at = time.time() + 8                      # every worker connected by then
    procs = [run_worker("worker", settings, {
        "start_at": start_at, "part": k, "processes": processes,
        "donation_ids": donation_ids, "client_ids": client_ids}) for k in range(processes)]
    reports = [json.loads(p.communicate(timeout=600)[0].decode().splitlines()[-1]) for p in procs]
    statuses = {}
    for report in reports:
        for status, n in report["statuses"].items():
            statuses[int(status)] = statuses.get(int(status), 0) + n
    group = sum(r["calls"] for r in reports) / sum(r["groups"] for r in reports)
    return max(r["finished"] for r in reports) - start_at, statuses, donation_ids, group


def worker_main(args):
    """One process of use_case_processes: its share of the asks, from its own green threads."""
    from hub.config import Settings
    settings = Settings.from_env()
    share = range(args["part"], N, args["processes"])
    concurrency = max(1, CONCURRENCY // args["processes"])
    db = Database(settings, "resources", min_size=concurrency, max_size=concurrency)
    allocate = route_caller(db, settings, args["donation_ids"], args["client_ids"])
    statuses = {}

    def one(i):
        status = allocate(i)
        statuses[status] = statuses.get(status, 0) + 1
    eventlet.sleep(max(0.0, args["start_at"] - time.time()))
    pool = eventlet.GreenPool(concurrency)
    for i in share:
        pool.spawn_n(one, i)
    pool.waitall()
    finished = time.time()
    groups, calls = group_stats()
    db.close()
    print(json.dumps({"statuses": statuses, "finished": finished, "groups": groups,
                      "calls": calls}))


# -- 2. the same SQL, raw ------------------------------------------------------------------------
RAW_OUTBOX = ("INSERT INTO hub_outbox (event_id, type, subject, event) "
              "VALUES (%s, 'allocation.made.v1', 'allocation/raw', %s)")


def raw_asks(indexes, donation_ids, client_ids, source):
    """The allocation rows (as allocations.RECORD takes them) and outbox rows of these asks,
    fixed values: no validation, no event schema, no answer."""
    today = datetime.now().date().isoformat()
    rows, events = [], []
    for n, i in enumerate(indexes):
        alloc_id = str(uuid.uuid4())
        rows.append({"n": n, "id": alloc_id, "donation_id": donation_ids[i % DONATIONS],
                     "client_id": client_ids[i % CLIENTS], "need_id": None, "kind": "money",
                     "amount": AMOUNT, "value_fen": AMOUNT, "allocated_on": today,
                     "township_code": "341721100", "categories": ["solitary_elderly"],
                     "age_group": "elderly", "age_band": "70-79", "note": None,
                     "recorded_by": "raw"})
        events.append((alloc_id, Jsonb({
            "specversion": "1.0", "id": alloc_id, "source": source, "type": "allocation.made.v1",
            "time": datetime.now(timezone.utc).isoformat(), "subject": "allocation/raw",
            "datacontenttype": "application/json", "data": {"amount_fen": AMOUNT}})))
    return rows, events


def raw_allocate_group(conn, indexes, donation_ids, client_ids, source):
    """What the use case sends for a group of asks (a lone call is a group of one): lock the
    donations and read the clients in one pipeline, take, record and the outbox rows in
    another, COMMIT. The statuses of the asks."""
    rows, events = raw_asks(indexes, donation_ids, client_ids, source)
    with conn.pipeline():
        locked = conn.execute(donations.LOCK_MANY, (list({r["donation_id"] for r in rows}),))
        known = conn.execute(client_view.FIND_MANY, (list({r["client_id"] for r in rows}),))
    left = {str(d["id"]): d["remaining"] for d in locked.fetchall()}
    known.fetchall()
    granted, statuses = [], []
    for row, event in zip(rows, events):
        fits = left[row["donation_id"]] >= row["amount"]
        statuses.append(201 if fits else 409)
        if fits:
            left[row["donation_id"]] -= row["amount"]
            granted.append((row, event))
    if not granted:
        conn.rollback()
        return statuses
    taken = {}
    for row, _ in granted:
        taken[row["donation_id"]] = taken.get(row["donation_id"], 0) + row["amount"]
    with conn.pipeline():
        conn.execute(allocations.TAKE, (list(taken), list(taken.values())))
        conn.execute(allocations.RECORD, (Jsonb([row for row, _ in granted]),))
        if len(granted) == 1:
            conn.execute(RAW_OUTBOX, granted[0][1])
        else:
            with conn.cursor() as cur:
                cur.executemany(RAW_OUTBOX, [event for _, event in granted])
    conn.commit()
    return statuses


def raw_rate(db, settings, client_ids):
    """Per allocation: a lone call's statements, one transaction each, on the service's pooled
    connections from the same green threads."""
    donation_ids = seed_donations(db, settings)
    source = settings.event_source("resources")

    def allocate(i):
        with db.pool.connection() as conn:
            return raw_allocate_group(conn, [i], donation_ids, client_ids, source)[0]
    return run_concurrently(allocate) + (donation_ids,)


def raw_batched_rate(db, settings, client_ids, group):
    """Batched: a group's statements for groups of `group` asks (the size the use case formed),
    one group after another on one connection, as the one group committer per process does."""
    donation_ids = seed_donations(db, settings)
    source = settings.event_source("resources")
    size = max(1, round(group))
    statuses = {}
    started = time.perf_counter()
    with db.pool.connection() as conn:
        for first in range(0, N, size):
            for status in raw_allocate_group(conn, range(first, min(N, first + size)),
                                             donation_ids, client_ids, source):
                statuses[status] = statuses.get(status, 0) + 1
    return time.perf_counter() - started, statuses, donation_ids


def raw_threads_rate(db, settings, client_ids, threads=8):
    """Per allocation from OS threads in a process without eventlet: what the database itself
    does with these statements here, without the green-thread client in front of it."""
    donation_ids = seed_donations(db, settings)
    proc = run_worker("raw-threads", settings, {
        "threads": threads, "donation_ids": donation_ids, "client_ids": client_ids})
    report = json.loads(proc.communicate(timeout=600)[0].decode().splitlines()[-1])
    return report["seconds"], {int(k): v for k, v in report["statuses"].items()}, donation_ids


def raw_threads_main(args):
    import threading

    import psycopg
    from psycopg.rows import dict_row

    from hub.config import Settings
    settings = Settings.from_env()
    statuses, lock = {}, threading.Lock()

    def work(k):
        with psycopg.connect(settings.database_dsn("resources"), row_factory=dict_row) as conn:
            for i in range(k, N, args["threads"]):
                [status] = raw_allocate_group(conn, [i], args["donation_ids"],
                                              args["client_ids"], "raw")
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
    workers = [threading.Thread(target=work, args=(k,)) for k in range(args["threads"])]
    started = time.perf_counter()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    print(json.dumps({"statuses": statuses, "seconds": time.perf_counter() - started}))


def run_worker(mode, settings, args):
    """Run this file as a worker process (`mode`) for this hub; its last line of output, parsed."""
    env = {**os.environ, "HUB_DB_PREFIX": settings.db_prefix, "HUB_DATA_KEY": settings.data_key,
           "HUB_JWT_SECRET": settings.jwt_secret, "HUB_SERVICE_SECRET": settings.service_secret,
           "PYTHONWARNINGS": "ignore",
           "PSYCOPG_WAIT_FUNC": "wait_select" if mode == "worker" else "wait_c",
           "PYTHONPATH": os.pathsep.join([str(ROOT / "services"), str(ROOT / "tests")])}
    return subprocess.Popen([sys.executable, __file__, mode, json.dumps(args)], env=env,
                            stdout=subprocess.PIPE)


# -- 3. over HTTP --------------------------------------------------------------------------------
def served_metric(settings, sample):
    """One sample (name and labels, as /metrics prints them) of the served resources service."""
    text = urllib3.request("GET", settings.service_url("resources") + "/metrics").data.decode()
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.split()[-1])
    return None


def outbox_backlog(settings):
    """The resources service's own gauge of events not yet confirmed by the broker."""
    return served_metric(settings, 'hub_outbox_backlog{service="resources"}')


def served_group_stats(settings):
    """(groups, calls) the served resources service's allocation route has committed."""
    labels = '{service="resources",work="POST /api/v1/allocations"}'
    return tuple(served_metric(settings, f"hub_batch_size_{part}{labels}") or 0
                 for part in ("count", "sum"))


def http_rate(db, settings, client_ids):
    from hub.auth import issue_token
    donation_ids = seed_donations(db, settings)
    url = settings.service_url("gateway") + "/api/v1/allocations"
    headers = {"Authorization": f"Bearer {issue_token(settings, 'bench', 'county_admin')}",
               "Content-Type": "application/json"}
    http = urllib3.PoolManager(maxsize=CONCURRENCY)
    latencies = []
    bodies = [json.dumps({"donation_id": donation_ids[i % DONATIONS],
                          "client_id": client_ids[i % CLIENTS], "amount_fen": AMOUNT}).encode()
              for i in range(N)]

    def allocate(i):
        t0 = time.perf_counter()
        status = http.request("POST", url, body=bodies[i], headers=headers).status
        latencies.append(time.perf_counter() - t0)
        return status
    warm_up = json.dumps({"donation_id": seed_donations(db, settings)[0],
                          "client_id": client_ids[0], "amount_fen": 1}).encode()
    list(eventlet.GreenPool(CONCURRENCY).imap(
        lambda _: http.request("POST", url, body=warm_up, headers=headers), range(300)))
    before = served_group_stats(settings)
    seconds, statuses = run_concurrently(allocate)
    groups, calls = (a - b for a, b in zip(served_group_stats(settings), before))
    latencies.sort()
    return seconds, statuses, donation_ids, latencies, calls / groups


def test_allocation_throughput(capsys):
    settings = test_settings(prefix=f"benchal{os.getpid()}")
    migrate(settings, "resources")
    provision(settings, ["resources"])      # its own database role, as `hub setup` makes it
    db = Database(settings, "resources", min_size=CONCURRENCY, max_size=CONCURRENCY)
    stack = ExitStack()
    load_before = os.getloadavg()[0]
    try:
        client_ids = seed_clients(db)
        seed_donations(db, settings)                                   # warm-up
        results, groups = {}, {}
        for label, measure in (("use case in-process", use_case_rate),
                               ("use case, 2 processes", use_case_processes)):
            seconds, statuses, donation_ids, groups[label] = measure(db, settings, client_ids)
            results[label] = (seconds, statuses, check_no_overdraw(db, donation_ids))
        for label, measure in (
                ("raw SQL per allocation", raw_rate),
                ("raw SQL per alloc., 8 thr.", raw_threads_rate),
                ("raw SQL batched", lambda *a: raw_batched_rate(
                    *a, groups["use case in-process"]))):
            seconds, statuses, donation_ids = measure(db, settings, client_ids)
            results[label] = (seconds, statuses, check_no_overdraw(db, donation_ids))
        stack.enter_context(served(settings, ["resources"]))
        wait_for(lambda: outbox_backlog(settings) == 0, timeout=120, interval=0.5)  # earlier runs'
        seconds, statuses, donation_ids, latencies, groups["HTTP via gateway"] = http_rate(
            db, settings, client_ids)
        results["HTTP via gateway"] = (seconds, statuses, check_no_overdraw(db, donation_ids))
        started = time.perf_counter()
        wait_for(lambda: outbox_backlog(settings) == 0, timeout=120, interval=0.2)
        drained = seconds + time.perf_counter() - started

        def rate(label):
            return results[label][1].get(201, 0) / results[label][0]
        per_allocation, batched = rate("raw SQL per allocation"), rate("raw SQL batched")
        with capsys.disabled():
            print(f"\nallocations: {N} asks of {AMOUNT} fen per measurement against {DONATIONS} "
                  f"shared donations holding 90% of that, {CONCURRENCY} concurrent callers "
                  f"(load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after)")
            for label, (secs, stats, (made, left)) in results.items():
                print(f"  {label:26}: {rate(label):7.0f} allocations/s ({N / secs:7.0f} asks/s), "
                      f"statuses {dict(sorted(stats.items()))}, ratio to raw per allocation "
                      f"{rate(label) / per_allocation:.2f}, to raw batched "
                      f"{rate(label) / batched:.2f}; overdraw 0, {made} allocations, "
                      f"{left} fen left")
            print("  calls per group (mean)    : " + ", ".join(
                f"{label} {size:.1f}" for label, size in groups.items()))
            print(f"  HTTP latency p50 / p99   : {statistics.median(latencies) * 1000:6.1f} ms / "
                  f"{latencies[int(len(latencies) * 0.99)] * 1000:6.1f} ms; all its events "
                  f"published to the broker {drained:.1f}s after the first call")
        for label, (_, stats, (made, _)) in results.items():
            assert set(stats) <= {201, 409} and stats.get(201, 0) == made, (label, stats)
    finally:
        stack.close()
        db.close()
        cleanup_hub(settings)


if __name__ == "__main__":
    {"worker": worker_main, "raw-threads": raw_threads_main}[sys.argv[1]](json.loads(sys.argv[2]))
