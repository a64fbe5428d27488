"""Benchmark: client registrations over HTTP, end to end, beside the raw PostgreSQL insert rate.

Runs the hub as it runs in production: intake and the gateway as separate `hub serve`
processes (outbox relay publishing to the real broker with confirms) and nginx with the hub's
front-door configuration (tooling/front.py) as one more process. Each level of concurrency is
driven twice, through the front door (production) and through the gateway alone (`make run`),
and prints registrations/s with p50/p99 latency and the CPU each process spent per
registration. The callers are wrk (Debian's package; `make perf` installs it and nginx)
running register.lua, which makes a new valid client for every request; a C load generator
leaves the two cores to the hub. In the same run it measures single-row autocommit INSERTs of
the same shape straight into PostgreSQL, so the ratio can be compared across (noisy) machines.
Every answer must be 201 and every answered registration stored. Not part of `make test`.

    BENCH_SECONDS (default 10 per level and entry), BENCH_CONCURRENCY (default "16,20,32":
    each level is measured in turn, on the same running hub)
"""
import os
import resource
import subprocess
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import psycopg

from hub.migrate import migrate
from support.hub import cleanup_hub, test_settings, wait_for
from support.processes import front_door, served

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
LUA = Path(__file__).with_name("register.lua")
LEVELS = [int(c) for c in os.environ.get("BENCH_CONCURRENCY", "16,20,32").split(",")]


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


def measure(url, token, first, callers, procs, seconds=None):
    """One run: `callers` connections kept busy for `seconds` (SECONDS) by wrk (register.lua)
    through `url`, numbering its clients from `first`. Returns
    (callers, registrations/s, p50 ms, p99 ms, CPU ms per registration of each process and of
    wrk, answers that were not 2xx, socket errors, registrations)."""
    seconds = seconds or SECONDS
    cpu_before = [cpu_seconds(p.pid) for p in procs]
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk = subprocess.Popen(
        ["wrk", "-t1", f"-c{callers}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), url,
         "--", token, str(first)], stdout=subprocess.PIPE, text=True)
    out = wrk.communicate()[0]
    children = resource.getrusage(resource.RUSAGE_CHILDREN)      # wrk's CPU, now it has ended
    cpu_wrk = (children.ru_utime + children.ru_stime
               - children_before.ru_utime - children_before.ru_stime)
    result = next(line.split()[1:] for line in out.splitlines() if line.startswith("RESULT"))
    done, bad_status, socket_errors = (int(v) for v in result[:3])
    duration, p50, p99 = (float(v) for v in result[3:])
    cpu_ms = [(cpu_seconds(p.pid) - b) * 1000 / done for p, b in zip(procs, cpu_before)]
    return (callers, done / duration, p50, p99, cpu_ms + [cpu_wrk * 1000 / done], bad_status,
            socket_errors, done)


def test_registration_throughput(capsys):
    stack = ExitStack()
    settings = test_settings(prefix=f"bench{os.getpid()}")
    migrate(settings, "intake")
    try:
        procs = stack.enter_context(served(settings, ["intake"]))
        front_port = settings.port("gateway") + 40
        procs.append(stack.enter_context(front_door(settings, front_port)))
        from hub.auth import issue_token
        token = issue_token(settings, "bench", "county_admin")
        entries = {"front door (nginx)": f"http://127.0.0.1:{front_port}/api/v1/clients",
                   "gateway (Python)": settings.service_url("gateway") + "/api/v1/clients"}
        warm_up = measure(entries["gateway (Python)"], token, 0, LEVELS[0], procs, seconds=2)
        rows, first = [], 1_000_000
        for level in LEVELS:
            for entry, url in entries.items():
                rows.append((entry, *measure(url, token, first, level, procs)))
                first += 1_000_000
        raw = raw_insert_rate(settings, 5000)
        with psycopg.connect(settings.database_dsn("intake")) as conn:
            wait_for(lambda: conn.execute(
                "SELECT count(*) = 0 FROM hub_outbox WHERE published_seq IS NULL"
            ).fetchone()[0], timeout=60)
            stored = conn.execute("SELECT count(*) FROM clients").fetchone()[0]
        with capsys.disabled():
            print(f"\nregistrations over HTTP (wrk -> front door -> intake -> PostgreSQL + "
                  f"outbox), {SECONDS} s per level and entry (load average "
                  f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
            print("  entry               callers  registrations/s  p50 ms  p99 ms  "
                  "CPU ms/reg: intake gateway nginx wrk")
            for entry, level, rate, p50, p99, cpu_ms, *_ in rows:
                print(f"  {entry:18}  {level:7}  {rate:15.0f}  {p50:6.1f}  {p99:6.1f}  "
                      f"{'':11}" + "  ".join(f"{c:.2f}" for c in cpu_ms))
            print(f"  raw PostgreSQL single-row autocommit INSERT: {raw:8.0f} rows/s "
                  f"(ratio at the best level: {max(r[2] for r in rows) / raw:.2f})")
        assert all(bad == 0 and errors == 0 for *_, bad, errors, _ in rows), rows
        # every answered registration is stored; one still in flight when wrk stopped may be
        # stored too (at most one per connection and run)
        answered = sum(r[-1] for r in rows) + warm_up[-1]
        assert answered <= stored <= answered + sum(r[1] for r in rows) + warm_up[0]
    finally:
        stack.close()
        cleanup_hub(settings)
