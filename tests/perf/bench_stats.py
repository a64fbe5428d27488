"""Benchmarks of the stats service in the province role: ingestion, rebuild, annual report.

Run: .venv/bin/python tests/perf/bench_stats.py [--events 200000] [--rebuild 1000000]
     [--counties 100] [--clients 1000000] [--visits 10000000] [--only ingest,rebuild,report]
(not part of `make test`; it makes and drops databases and queues of its own, prefix bst<pid>).

- ingestion: N county events (a realistic mix: half completed visits, allocations, client
  registrations, donations, needs, volunteer hours and types without figures; 10 counties;
  about 2,740 events per day, i.e. 1,000,000 a year, in time order) are put in the province's
  ingest queue, then taken by the province's own Ingester (batches, prefetch, one transaction
  per batch, multiple ack after commit, the stage that parses overlapping the one that writes),
  under eventlet as in the service; it reads through the chassis' consumer (hub.batching.
  QueueBatches, plain py-amqp) and takes each batch through hub.inbox.EventProcessor.take.
  Baseline, same broker, same run, same messages, same client library and prefetch:
  consume-and-ack with nothing else, acking each message, and acking once per batch (as the
  ingester does); the same through kombu (the stack's messaging library, per batch); and the
  same with the ingester's read-ahead transport (stats.amqp_reader, on unless
  HUB_STATS_READ_AHEAD=0; --read-ahead 0 measures ingestion without it). The per-batch raw rate
  is measured again after the ingestion, and the load average before and after is printed: the
  machines these run on are shared.
- rebuild: the province's received-events table is filled with N events (same mix) and
  `hub stats rebuild` (stats.rebuild.rebuild) recomputes every figure from it. Baseline: reading
  the same rows through the same cursor and decoding them, with no figures.
- annual report: a province's rollups for two years, in the shape ingestion writes them (every
  figure by category, age group and detail; year and month rows complete; day rows for the
  totals), sized for `--counties` counties with `--clients` clients and `--visits` visits a
  year, generated in SQL (ingesting 10,000,000 events would take longer than this bench should).
  Then GET /api/v1/reports/annual?year=…&code=<province> through the stats service (HTTP,
  in-process) many times: p50 and p99. Baseline: the report's rollup reads alone, in SQL.
No timed asserts: the figures are for reading (targets: ingestion >= 10,000 events/s and >= half
the raw rate; rebuild of 1,000,000 events < 60 s; annual report p99 < 50 ms).
"""
import os

os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")  # before psycopg: cooperative waits

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services"))

import amqp  # noqa: E402
import psycopg  # noqa: E402
import requests  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

from contracts.clients import AGE_GROUPS, CATEGORIES  # noqa: E402
from hub.auth import issue_token  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.manifest import manifest  # noqa: E402
from hub.migrate import migrate  # noqa: E402
from stats import domain, province  # noqa: E402
from stats.amqp_reader import connect  # noqa: E402
from stats.figures import ROWS, STOCK_ROWS, upto  # noqa: E402
from stats.ingest import Ingester  # noqa: E402
from stats.rebuild import rebuild  # noqa: E402
from stats.role import StatsConfig  # noqa: E402
from stats.rollups import Rollups  # noqa: E402
from stats.sample import Sample  # noqa: E402
from support.hub import cleanup_hub, test_settings  # noqa: E402
from tooling.privileges import provision  # noqa: E402

PROVINCE = "340000"
EVENTS_PER_DAY = 2740
CONFIG = StatsConfig(role="province", province_code=PROVINCE)


# -- synthetic county events --------------------------------------------------------------------
def county_codes(n):
    return [f"34{i // 100 + 10:02d}{i % 100:02d}" for i in range(n)]


def event_bodies(n, counties=10, seed=7):
    """n events as JSON texts, in time order, from `counties` counties."""
    rnd = random.Random(seed)
    samples = [Sample(county=c, township=c + "100", village=c + "100001", validate=False)
               for c in county_codes(counties)]
    kinds = [(["child_in_difficulty"], "child"), (["left_behind_child"], "child"),
             (["solitary_elderly"], "elderly"), (["extreme_poverty", "solitary_elderly"],
                                                 "elderly"), (["disabled"], "other")]
    clients = [[s.client(*kinds[k % len(kinds)]) for k in range(300)] for s in samples]
    start = date(2023, 1, 1)
    out = []
    for i in range(n):
        s, people = samples[i % counties], clients[i % counties]
        c, day, r = rnd.choice(people), start + timedelta(days=i // EVENTS_PER_DAY), rnd.random()
        if r < 0.5:
            e = s.visit_completed(c, day, delay_days=rnd.choice((0, 0, 0, 2)))
        elif r < 0.65:
            e = s.allocation(c, day, 10_000)
        elif r < 0.75:
            e = s.registered(s.client(c["categories"], c["age_group"]), day)
        elif r < 0.8:
            e = s.donation(day, 100_000)
        elif r < 0.85:
            e = s.need(c, day)
        elif r < 0.9:
            e = s.volunteer_hours(day)
        else:
            e = s.visit_scheduled(c, day)
        out.append(json.dumps(e, ensure_ascii=False))
    return out


# -- ingestion -------------------------------------------------------------------------------------
def fill(channel, exchange, routing_key, bodies):
    for body in bodies:
        channel.basic_publish(amqp.Message(body, delivery_mode=2, content_type="application/json",
                                           content_encoding="utf-8"),
                              exchange=exchange, routing_key=routing_key)


def wait_depth(channel, queue_name, n):
    while channel.queue_declare(queue_name, passive=True).message_count < n:
        time.sleep(0.2)


def raw_consume(settings, queue_name, n, batch, prefetch, multiple, read_ahead=False):
    """Consume-and-ack n messages with nothing else: messages/s."""
    conn = connect(settings.amqp_uri, read_ahead, heartbeat=0)
    channel = conn.channel()
    channel.basic_qos(0, prefetch, False)
    got = []

    def on_message(m):
        got.append(m.delivery_tag)
        if not multiple:
            channel.basic_ack(m.delivery_tag)
        elif len(got) % batch == 0:
            channel.basic_ack(m.delivery_tag, multiple=True)
    channel.basic_consume(queue_name, callback=on_message)
    started = time.perf_counter()
    while len(got) < n:
        conn.drain_events(timeout=10)
    if multiple:
        channel.basic_ack(got[-1], multiple=True)
    elapsed = time.perf_counter() - started
    conn.close()
    return n / elapsed


def raw_consume_kombu(settings, queue_name, n, batch, prefetch):
    """Consume-and-ack n messages through kombu (the stack's messaging library, as nameko uses
    it), undecoded, acking once per batch: messages/s."""
    import kombu
    got = []

    def on_message(message):
        got.append(message)
        if len(got) % batch == 0:
            message.ack(multiple=True)
    with kombu.Connection(settings.amqp_uri) as conn:
        channel = conn.channel()
        consumer = kombu.Consumer(channel, queues=[kombu.Queue(queue_name, no_declare=True)],
                                  on_message=on_message, prefetch_count=prefetch)
        with consumer:
            started = time.perf_counter()
            while len(got) < n:
                conn.drain_events(timeout=10)
            if not got[-1].acknowledged:
                got[-1].ack(multiple=True)
            elapsed = time.perf_counter() - started
    return n / elapsed


def bench_ingestion(settings, n, read_ahead=True):
    migrate(settings, "stats")
    provision(settings, ["stats"])          # its own users, as `hub setup` makes them
    province.declare_ingest(settings.amqp_uri, settings.db_prefix)
    ingest_queue = province.ingest_queue(settings.db_prefix)
    raw_queue = f"{settings.db_prefix}.raw"
    bodies = event_bodies(n)
    conn = connect(settings.amqp_uri, False, heartbeat=0)
    channel = conn.channel()
    channel.queue_declare(raw_queue, durable=True, auto_delete=False,
                          arguments={"x-queue-type": "quorum"})
    results = {"load": os.getloadavg()[0]}

    def raw(mode):
        fill(channel, "", raw_queue, bodies)
        wait_depth(channel, raw_queue, n)
        if mode == "kombu":
            return raw_consume_kombu(settings, raw_queue, n, CONFIG.batch_size, CONFIG.prefetch)
        return raw_consume(settings, raw_queue, n, CONFIG.batch_size, CONFIG.prefetch,
                           mode != "each", read_ahead=mode == "ahead")
    try:
        for mode in ("each", "batch", "kombu", "ahead"):
            results[f"raw_{mode}"] = raw(mode)
        for body in bodies:
            channel.basic_publish(amqp.Message(body, delivery_mode=2,
                                               content_type="application/json",
                                               content_encoding="utf-8"),
                                  exchange=province.ingest_exchange(settings.db_prefix),
                                  routing_key=json.loads(body)["type"])
        wait_depth(channel, ingest_queue, n)
        database = Database(settings, "stats", max_size=4)
        ingester = Ingester(database, Rollups(CONFIG), settings.amqp_uri, ingest_queue, CONFIG,
                            read_ahead=read_ahead, data_key=settings.data_key)
        started = time.perf_counter()
        stored = ingester.consume(lambda: False, limit=n)
        results["ingest"] = n / (time.perf_counter() - started)
        with psycopg.connect(settings.database_dsn("stats")) as db:
            results["received"] = db.execute("SELECT count(*) FROM stats_received").fetchone()[0]
            results["counted"] = db.execute("SELECT sum(counted + ignored) FROM "
                                            "stats_event_counts").fetchone()[0]
        results["stored"] = stored
        database.close()
        # the ingester's own baseline again: the machine's load may have changed meanwhile
        results["raw_batch_after"] = raw("batch")
    finally:
        channel.queue_delete(raw_queue)
        channel.queue_delete(ingest_queue)
        channel.exchange_delete(province.ingest_exchange(settings.db_prefix))
        conn.close()
    print(f"\nprovince ingestion, {n} events (10 counties, a realistic mix, in time order), "
          f"batch {CONFIG.batch_size}, prefetch {CONFIG.prefetch}, "
          f"read-ahead transport {'on' if read_ahead else 'off'}")
    lines = [
        ("ingested (stored, counted, acked)", f"{results['ingest']:8.0f} events/s "
         f"({results['received']} received, {results['counted']} counted)"),
        ("raw consume-and-ack (py-amqp), ack per message", f"{results['raw_each']:8.0f} msg/s"),
        ("raw consume-and-ack (py-amqp), ack per batch", f"{results['raw_batch']:8.0f} msg/s, "
         f"{results['raw_batch_after']:.0f} after the ingestion"),
        ("raw consume-and-ack (kombu), ack per batch", f"{results['raw_kombu']:8.0f} msg/s"),
        ("raw consume-and-ack (read-ahead transport), per batch",
         f"{results['raw_ahead']:8.0f} msg/s"),
        ("ingestion / raw (each, batch, kombu, read-ahead)", ", ".join(
            f"{results['ingest'] / results[k]:.2f}" for k in ("raw_each", "raw_batch",
                                                              "raw_kombu", "raw_ahead"))
         + f" (batch after: {results['ingest'] / results['raw_batch_after']:.2f})"),
        ("load average (1 min) before / after", f"{results['load']:.2f} / "
         f"{os.getloadavg()[0]:.2f}")]
    for label, value in lines:
        print(f"  {label:56}: {value}")
    return results


# -- rebuild ---------------------------------------------------------------------------------
def bench_rebuild(settings, n):
    migrate(settings, "stats")
    dsn = settings.database_dsn("stats")
    started = time.perf_counter()
    with psycopg.connect(dsn) as db:
        db.execute("TRUNCATE stats_received")
        with db.cursor().copy("COPY stats_received (event_id, county_code, type, event) "
                              "FROM STDIN") as copy:
            for chunk in range(0, n, 100_000):
                for body in event_bodies(min(100_000, n - chunk), seed=chunk):
                    e = json.loads(body)
                    copy.write_row((e["id"], domain.county_of(e), e["type"], body))
        db.commit()
    made = time.perf_counter() - started
    started = time.perf_counter()
    with psycopg.connect(dsn) as db:
        with db.cursor(name="raw") as cur:
            cur.itersize = 5000
            cur.execute("SELECT event FROM stats_received ORDER BY seq")
            read = sum(1 for _ in cur)
    raw = time.perf_counter() - started
    started = time.perf_counter()
    totals = rebuild(settings, CONFIG, progress=sys.stderr.isatty())
    elapsed = time.perf_counter() - started
    with psycopg.connect(dsn) as db:
        rows = db.execute("SELECT count(*) FROM stats_rollup").fetchone()[0]
    print(f"\nrebuild (province) from {n} received events ({made:.0f} s to make them)")
    print(f"  rebuild                      : {elapsed:6.1f} s  ({n / elapsed:8.0f} events/s, "
          f"{totals['counted']} counted, {rows} rollup rows)")
    print(f"  raw: read and decode the same: {raw:6.1f} s  ({read / raw:8.0f} events/s)")
    return elapsed


# -- annual report -----------------------------------------------------------------------------
def combos():
    """(measure, category, age_group, detail) cells ingestion writes for a place and period."""
    groups = {"child": [c for c, (_, lo, hi) in CATEGORIES.items() if hi == 18],
              "elderly": [c for c, (_, lo, hi) in CATEGORIES.items() if lo == 60]}
    any_age = [c for c, (_, lo, hi) in CATEGORIES.items() if lo is None and hi is None]
    client_cells = [("", "")] + [("", g) for g in AGE_GROUPS]
    for g in AGE_GROUPS:
        for c in groups.get(g, []) + any_age:
            client_cells += [(c, ""), (c, g)]
    client_cells = sorted(set(client_cells))
    details = {"clients.registered": ["risk:low", "risk:medium", "risk:high", "risk:critical"],
               "clients.active": ["risk:low", "risk:medium", "risk:high", "risk:critical"],
               "clients.closed": ["reason:moved", "reason:deceased", "reason:goals_met"],
               "visits.done": ["mode:home", "mode:phone", "kind:routine", "kind:verification"],
               "visits.on_time": ["mode:home", "mode:phone", "kind:routine"],
               "allocations.person_times": ["kind:money", "kind:goods"],
               "allocations.value_fen": ["kind:money", "kind:goods"],
               "person_times": ["source:visit", "source:allocation", "source:activity"],
               "needs.opened": ["kind:money", "kind:goods", "kind:service"],
               "donations.received": ["provider:enterprise", "provider:individual",
                                      "five:social_resource", "kind:money", "kind:goods"],
               "donations.money_fen": ["provider:enterprise", "provider:individual"],
               "workers.certified": ["level:assistant", "level:intermediate", "level:senior"],
               "volunteers.minutes": ["activity:visit", "activity:activity"]}
    with_clients = {"clients.registered", "clients.active", "clients.closed", "visits.done",
                    "visits.on_time", "allocations.person_times", "allocations.value_fen",
                    "allocations.money_fen", "person_times", "needs.opened", "needs.met",
                    "activities.person_times", "referrals.created"}
    cells = []
    for measure in sorted({f.measure for f in domain.FIGURES}):
        for cat, grp in (client_cells if measure in with_clients else [("", "")]):
            cells.append((measure, cat, grp, ""))
        cells += [(measure, "", "", d) for d in details.get(measure, [])]
    return cells


def bench_report(settings, counties, clients, visits, calls=300):
    migrate(settings, "stats")
    provision(settings, ["stats"])          # its own users, as `hub setup` makes them
    cells = combos()
    codes = county_codes(counties)
    per_day_visit = visits / counties / 365
    started = time.perf_counter()
    with psycopg.connect(settings.database_dsn("stats")) as db:
        db.execute("TRUNCATE stats_rollup")
        db.execute("CREATE TEMP TABLE cells (measure text, category text, age_group text, "
                   "detail text, total boolean)")
        with db.cursor().copy("COPY cells FROM STDIN") as copy:
            for m, c, g, d in cells:
                copy.write_row((m, c, g, d, not (c or g or d)))
        db.execute("CREATE TEMP TABLE places (code text)")
        db.execute("INSERT INTO places SELECT unnest(%s::text[])", (codes + [PROVINCE],))
        db.execute("""CREATE TEMP TABLE periods AS
            SELECT 'y'::"char" AS kind, y::text AS period, 365 AS days
              FROM generate_series(2022, 2023) y
            UNION ALL SELECT 'm', to_char(d, 'YYYY-MM'), 30
              FROM generate_series('2022-01-01'::date, '2023-12-01', '1 month') d
            UNION ALL SELECT 'd', to_char(d, 'YYYY-MM-DD'), 1
              FROM generate_series('2022-01-01'::date, '2023-12-31', '1 day') d""")
        # n: about per_day_visit visits a county-day (a province row: the counties' sum)
        db.execute("""INSERT INTO stats_rollup
            SELECT p.code, t.kind, t.period, c.measure, c.category, c.age_group, c.detail,
                   greatest(1, (random() * 2 * %(per_day)s * t.days
                                * (CASE WHEN p.code = %(province)s THEN %(counties)s ELSE 1 END)
                                / (CASE WHEN c.total THEN 1 ELSE 8 END))::bigint)
            FROM places p CROSS JOIN periods t CROSS JOIN cells c
            WHERE t.kind <> 'd' OR c.total""",
                   {"per_day": per_day_visit, "province": PROVINCE, "counties": counties})
        rows = db.execute("SELECT count(*) FROM stats_rollup").fetchone()[0]
        places = [(c, "county", c, f"县{c}", clients * 4 // counties, None) for c in codes]
        db.execute("INSERT INTO stats_places SELECT * FROM unnest(%s::text[], %s::text[], "
                   "%s::text[], %s::text[], %s::bigint[], %s::date[]) ON CONFLICT DO NOTHING",
                   [list(x) for x in zip(*places)])
        db.commit()
    with psycopg.connect(settings.database_dsn("stats"), autocommit=True) as db:
        db.execute("VACUUM ANALYZE stats_rollup")
        made = time.perf_counter() - started
        size = db.execute("SELECT pg_size_pretty(pg_total_relation_size('stats_rollup'))"
                          ).fetchone()[0]
    runner = ServiceRunner({**settings.nameko_config("stats"), "HUB_ROLE": "province",
                            "HUB_PROVINCE_CODE": PROVINCE})
    runner.add_service(manifest("stats").service_class())
    runner.start()
    try:
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + issue_token(settings, "bench",
                                                                   "province_viewer")
        url = settings.service_url("stats") + "/api/v1/reports/annual"
        latencies = {}
        for code in (PROVINCE, codes[0]):
            assert session.get(url, params={"year": 2023, "code": code}).status_code == 200
            times = []
            for _ in range(calls):
                t0 = time.perf_counter()
                resp = session.get(url, params={"year": 2023, "code": code})
                times.append(time.perf_counter() - t0)
                assert resp.status_code == 200, resp.text
            latencies[code] = sorted(times)
        raw = []
        with psycopg.connect(settings.database_dsn("stats")) as db:
            p = domain.parse_period("2023")
            for _ in range(calls):
                t0 = time.perf_counter()
                db.execute(ROWS.format(table="stats_rollup"),
                           {"code": PROVINCE, "kind": "y", "periods": ["2023", "2022"]}).fetchall()
                for period in (p, p.previous_year()):
                    predicate, params = upto(period)
                    db.execute(STOCK_ROWS.format(table="stats_rollup", upto=predicate),
                               {"code": PROVINCE, "measures": list(domain.STOCK_MEASURES),
                                **params}).fetchall()
                raw.append(time.perf_counter() - t0)
        raw.sort()
    finally:
        runner.stop()
        with connect(settings.amqp_uri, False, heartbeat=0) as conn:   # declared by the service
            channel = conn.channel()
            channel.queue_delete(province.ingest_queue(settings.db_prefix))
            channel.exchange_delete(province.ingest_exchange(settings.db_prefix))
    print(f"\nannual report of a province: {counties} counties, {clients} clients, {visits} visits "
          f"a year; {rows} rollup rows ({size}), made in SQL in {made:.0f} s")
    for code, times in latencies.items():
        label = "province" if code == PROVINCE else "one county"
        print(f"  GET /reports/annual ({label:10}) p50 / p99 : {statistics.median(times) * 1000:6.1f}"
              f" / {times[int(len(times) * 0.99)] * 1000:6.1f} ms")
    print(f"  raw: the same rollup reads in SQL p50 / p99 : {statistics.median(raw) * 1000:6.1f} / "
          f"{raw[int(len(raw) * 0.99)] * 1000:6.1f} ms")
    return latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rebuild", type=int, default=1_000_000)
    parser.add_argument("--counties", type=int, default=100)
    parser.add_argument("--clients", type=int, default=1_000_000)
    parser.add_argument("--visits", type=int, default=10_000_000)
    parser.add_argument("--only", default="ingest,rebuild,report")
    parser.add_argument("--read-ahead", type=int, default=1, help="ingest through "
                        "stats.amqp_reader's transport (1) or py-amqp's own (0)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    settings = test_settings(prefix=f"bst{os.getpid()}")
    try:
        if "ingest" in only:
            bench_ingestion(settings, args.events, bool(args.read_ahead))
            cleanup_hub(settings)
        if "rebuild" in only:
            bench_rebuild(settings, args.rebuild)
            cleanup_hub(settings)
        if "report" in only:
            bench_report(settings, args.counties, args.clients, args.visits)
    finally:
        cleanup_hub(settings)


if __name__ == "__main__":
    main()
