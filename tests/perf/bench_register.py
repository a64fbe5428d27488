"""Benchmark: client registrations over HTTP, end to end, beside the raw PostgreSQL insert rate.

Runs the hub as it runs in production (gateway and intake as separate processes, outbox relay
publishing to the real broker), drives POST /api/v1/clients through the gateway with
concurrent callers, and prints registrations/s with p50/p99 latency. In the same run it
measures single-row autocommit INSERTs of the same shape straight into PostgreSQL, so the ratio
can be compared across (noisy) machines. Not part of `make test`; run with `make perf`.

    BENCH_REQUESTS (default 5000 per level), BENCH_CONCURRENCY (default "16,20,32": each level
    is measured in turn, on the same running hub)
"""
import os
import statistics
import time
import uuid
from contextlib import ExitStack
from datetime import date, timedelta

import eventlet
import psycopg
import urllib3

from intake.idnumber import make as make_id
from hub.migrate import migrate
from support.hub import cleanup_hub, test_settings, wait_for
from support.processes import served

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "5000"))
LEVELS = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "16,20,32").split(",")]


def bodies(n):
    import json
    start = date(1940, 1, 1)
    for i in range(n):
        birth = start + timedelta(days=i // 900)
        yield json.dumps({
            "name": "压测对象", "id_number": make_id("341721", birth, i % 900),
            "phone": "13900001111", "village_code": "341721100001",
            "categories": ["solitary_elderly"], "risk_level": "medium",
            "consent": {"given": True, "date": "2026-01-05", "recorded_by": "压测"}}).encode()


def cpu_seconds(pid):
    """User + system CPU a process has used so far (from /proc)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_insert_rate(settings, n):
    """Single-row autocommit INSERTs of a client-shaped row (same indexes), rows/s."""
    with psycopg.connect(settings.database_dsn("intake"), autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE raw_clients (LIKE clients INCLUDING ALL)")
        started = time.perf_counter()
        for i in range(n):
            conn.execute(
                "INSERT INTO raw_clients (id, name, id_number_enc, id_number_hash, id_number_masked,"
                " birth_date, sex, county_code, township_code, village_code, categories, consent,"
                " risk_level, registered_on, status_changed_on) VALUES (%s, 'x', %s, %s, 'x',"
                " '1950-01-01', 'male', '341721', '341721100', '341721100001',"
                " ARRAY['solitary_elderly'], '{}', 'low', current_date, current_date)",
                (uuid.uuid4(), os.urandom(40), uuid.uuid4().hex))
        return n / (time.perf_counter() - started)


def measure(http, url, headers, payloads, callers, procs):
    """(callers, registrations/s, p50 ms, p99 ms, CPU ms per registration per process, statuses)."""
    latencies, statuses = [], {}

    def register(body):
        t0 = time.perf_counter()
        resp = http.request("POST", url, body=body, headers=headers)
        latencies.append(time.perf_counter() - t0)
        statuses[resp.status] = statuses.get(resp.status, 0) + 1

    pool = eventlet.GreenPool(callers)
    cpu_before = [cpu_seconds(p.pid) for p in procs]
    started = time.perf_counter()
    for body in payloads:
        pool.spawn_n(register, body)
    pool.waitall()
    elapsed = time.perf_counter() - started
    cpu_ms = [(cpu_seconds(p.pid) - b) * 1000 / len(payloads) for p, b in zip(procs, cpu_before)]
    latencies.sort()
    return (callers, len(payloads) / elapsed, statistics.median(latencies) * 1000,
            latencies[int(len(latencies) * 0.99)] * 1000, cpu_ms, statuses)


def test_registration_throughput(capsys):
    stack = ExitStack()
    settings = test_settings(prefix=f"bench{os.getpid()}")
    migrate(settings, "intake")
    try:
        procs = stack.enter_context(served(settings, ["intake"]))
        from hub.auth import issue_token
        token = issue_token(settings, "bench", "county_admin")
        url = settings.service_url("gateway") + "/api/v1/clients"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        http = urllib3.PoolManager(maxsize=max(LEVELS))
        payloads = iter(bodies((REQUESTS + 200) * len(LEVELS)))
        for _ in range(200):                                     # warm up
            http.request("POST", url, body=next(payloads), headers=headers)
        rows = []
        for level in LEVELS:
            rows.append(measure(http, url, headers, [next(payloads) for _ in range(REQUESTS)],
                                level, procs))
        raw = raw_insert_rate(settings, 5000)
        with psycopg.connect(settings.database_dsn("intake")) as conn:
            wait_for(lambda: conn.execute(
                "SELECT count(*) = 0 FROM hub_outbox WHERE published_seq IS NULL"
            ).fetchone()[0], timeout=60)
        with capsys.disabled():
            print(f"\nregistrations over HTTP (gateway -> intake -> PostgreSQL + outbox), "
                  f"{REQUESTS} requests per level (load average {os.getloadavg()[0]:.1f} on "
                  f"{os.cpu_count()} cores)")
            print("  callers  registrations/s  p50 ms  p99 ms  CPU ms/reg intake+gateway  statuses")
            for level, rate, p50, p99, cpu_ms, statuses in rows:
                print(f"  {level:7}  {rate:15.0f}  {p50:6.1f}  {p99:6.1f}  "
                      f"{cpu_ms[0]:.2f} + {cpu_ms[1]:.2f}{'':15}{statuses}")
            print(f"  raw PostgreSQL single-row autocommit INSERT: {raw:8.0f} rows/s "
                  f"(ratio at the best level: {max(r[1] for r in rows) / raw:.2f})")
        assert all(statuses == {201: REQUESTS} for *_, statuses in rows)
    finally:
        stack.close()
        cleanup_hub(settings)
