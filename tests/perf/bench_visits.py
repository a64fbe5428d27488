"""Benchmark of the visits service: planning 100,000 clients, and the overdue sweep over 1,000,000 visits.

Run: .venv/bin/python tests/perf/bench_visits.py [--clients 100000] [--visits 1000000]
(not part of `make test`; it makes and drops databases of its own, prefix bench<pid>).

Each figure is printed beside a plain SQL baseline of the same work, measured in the same run:
- planning: the service's set-based planning code (visits.plans.start, the very function the
  client.registered handler calls with the registrations of a delivery), fed 100,000 events in
  batches of 10,000, one transaction each: view, plan, first due date by the policy, a worker
  by load and capacity, the visit, its visit.scheduled event in the outbox, and status.
  The 100,000 events are made before the clock starts and then frozen out of the garbage
  collector's way (gc.freeze): a consumer holds one batch, not all of them.
  Baseline: three INSERT … SELECT FROM unnest statements writing the same clients, plans and
  visits (due date computed in SQL; no assignment, no events); then the same with as many
  outbox events as well (visit.scheduled, and overdue/escalated for late visits; data: the row).
  Also: a sample of events through the real consumer (broker, batched inbox, handler).
- sweep: visits.sweep.run over 1,000,000 visits (half open, due dates from 60 days ago to 90
  ahead): first over visits never swept (every late visit changes at once), then the regular
  case, the next day (after VACUUM ANALYZE, as autovacuum would run after 200,000 updates).
  Baseline: one UPDATE setting the same statuses and levels on a copy of the table, no events.
No timed asserts: the figures are for reading (targets: planning < 10 s, sweep < 5 s).
"""
import eventlet

eventlet.monkey_patch()

import argparse  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import date, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services"))

import kombu  # noqa: E402

from hub import topology  # noqa: E402
from hub.db import Database  # noqa: E402
from hub.events import make_event  # noqa: E402
from hub.migrate import migrate  # noqa: E402
from support.hub import RunningHub, cleanup_hub, test_settings  # noqa: E402
from tooling.privileges import provision  # noqa: E402
from visits import client_view, consumers, plans, roster, sweep  # noqa: E402,F401
from visits import policy as policies

TODAY = date.today()
CATEGORY_MIX = [["solitary_elderly"], ["left_behind_elderly"], ["left_behind_child"],
                ["child_in_difficulty", "minimum_living_allowance"], ["disabled"],
                ["extreme_poverty"], ["serious_illness", "low_income_marginal"], ["other_hardship"]]
RISKS = ["low"] * 5 + ["medium"] * 3 + ["high"] + ["critical"]


def line(label, seconds, baseline, n):
    print(f"  {label:<52} {seconds:7.2f} s  ({n / seconds:>9,.0f}/s)   "
          f"plain SQL {baseline:6.2f} s  ({seconds / baseline:4.1f}x)")


def client_events(county, n, rng):
    """n valid client.registered events, registered over the past year in every village."""
    villages = [(t.code, v) for t in county.townships.values() for v in t.villages]
    for _ in range(n):
        town, village = rng.choice(villages)
        cats = rng.choice(CATEGORY_MIX)
        age_group = "elderly" if "elderly" in cats[0] else "child" if "child" in cats[0] else "other"
        cid = str(uuid.uuid4())
        yield make_event("client.registered.v1", f"/hub/{county.code}/intake", f"client/{cid}", {
            "client_id": cid, "county_code": county.code, "township_code": town,
            "village_code": village, "categories": cats, "age_group": age_group,
            "age_band": "70-79", "sex": rng.choice(["male", "female"]),
            "risk_level": rng.choice(RISKS), "risk_flags": [], "status": "active",
            "effective_date": (TODAY - timedelta(days=rng.randrange(365))).isoformat()})


def bench_roster(county, per_station=20, capacity=100):
    return [{"id": roster.worker_id(county.code, f"{t}-B{i}"), "code": f"{t}-B{i}",
             "kind": "social_worker", "township_code": t, "weekly_capacity": capacity}
            for t in county.townships for i in range(per_station)]


def planning(settings, db, admin, n, rng, batch=10_000):
    print(f"\nplanning {n:,} registered clients (batches of {batch:,}, one transaction each)")
    events = list(client_events(settings.county, n, rng))
    snaps = [client_view.snapshot(e) for e in events]
    # the 100,000 events made up front would otherwise be walked by every full pass of the
    # cyclic garbage collector during the timed work (~2 s): a consumer holds one batch
    gc.freeze()
    started = time.perf_counter()
    for i in range(0, n, batch):
        with db.transaction() as tx:
            plans.start(tx, policies.load(tx), TODAY, snaps[i:i + batch])
    took = time.perf_counter() - started
    with admin.transaction() as tx:
        counts = tx.one("""SELECT (SELECT count(*) FROM visit_plans) AS plans,
                                  (SELECT count(*) FROM visits) AS visits,
                                  (SELECT count(*) FROM visits WHERE worker_id IS NULL) AS unassigned,
                                  (SELECT count(*) FROM hub_outbox) AS events""")
        tx.execute("""CREATE TABLE bench_clients (LIKE visit_clients INCLUDING ALL);
                      CREATE TABLE bench_plans (LIKE visit_plans INCLUDING ALL);
                      CREATE TABLE bench_visits (LIKE visits INCLUDING ALL);
                      CREATE TABLE bench_outbox (LIKE hub_outbox INCLUDING ALL)""")
    rows_only = plain_sql_planning(admin, snaps, batch, events=False)
    with admin.transaction() as tx:
        tx.execute("TRUNCATE bench_clients, bench_plans, bench_visits")
    with_events = plain_sql_planning(admin, snaps, batch, events=True)
    line("visits.plans.start (handler's set-based code)", took, rows_only, n)
    with admin.transaction() as tx:
        made = tx.one("SELECT count(*) AS n FROM bench_outbox")["n"]
    print(f"    {counts['plans']:,} plans, {counts['visits']:,} visits "
          f"({counts['unassigned']:,} unassigned), {counts['events']:,} events in the outbox")
    print(f"    plain SQL writing the same rows and {made:,} outbox events as well: "
          f"{with_events:.2f} s ({took / with_events:.1f}x)")
    gc.unfreeze()


def plain_sql_planning(db, snaps, batch, events):
    """The same clients, plans and visits by plain INSERTs (the policy's due date in SQL, no
    assignment); with `events`, also the outbox rows (scheduled; overdue and escalated for late
    visits), their data the visit row as JSON."""
    emit = """, emitted AS (
                  INSERT INTO bench_outbox (event_id, type, subject, event)
                  SELECT e.id, e.type, 'visit/' || new.id, jsonb_build_object(
                      'specversion', '1.0', 'id', e.id, 'type', e.type, 'data', to_jsonb(new))
                  FROM new CROSS JOIN LATERAL (
                      SELECT gen_random_uuid() AS id, t.type FROM (VALUES
                          ('visit.scheduled.v1', true),
                          ('visit.overdue.v1', current_date - new.due_on > 3),
                          ('visit.escalated.v1', current_date - new.due_on > 7)) t(type, applies)
                      WHERE t.applies) e)""" if events else ""
    started = time.perf_counter()
    for i in range(0, len(snaps), batch):
        part = snaps[i:i + batch]
        arrays = {"id": [s.client_id for s in part], "town": [s.township_code for s in part],
                  "village": [s.village_code for s in part],
                  "cats": [",".join(s.categories) for s in part],
                  "age": [s.age_group for s in part], "risk": [s.risk_level for s in part],
                  "eff": [s.effective_date for s in part], "as_of": [s.as_of for s in part]}
        with db.transaction() as tx:
            tx.execute("""INSERT INTO bench_clients (client_id, township_code, village_code,
                              categories, age_group, risk_level, status, first_seen_on, as_of)
                          SELECT id, town, village, string_to_array(cats, ','), age, risk,
                                 'active', eff, as_of
                          FROM unnest(%(id)s::uuid[], %(town)s::text[], %(village)s::text[],
                                      %(cats)s::text[], %(age)s::text[], %(risk)s::text[],
                                      %(eff)s::date[], %(as_of)s::timestamptz[])
                               AS s(id, town, village, cats, age, risk, eff, as_of)""", arrays)
            tx.execute("""INSERT INTO bench_plans (client_id, started_on)
                          SELECT id, eff FROM unnest(%(id)s::uuid[], %(eff)s::date[]) AS s(id, eff)""",
                       arrays)
            tx.execute("""WITH new AS (
                          INSERT INTO bench_visits (client_id, township_code, village_code, due_on,
                                                    scheduled_reason)
                          SELECT client_id, township_code, village_code, first_seen_on + CASE
                                     WHEN risk_level = 'critical' THEN 1
                                     WHEN categories && ARRAY['solitary_elderly', 'left_behind_child',
                                          'child_in_difficulty', 'unsupported_child']
                                     THEN LEAST(30, CASE risk_level WHEN 'high' THEN 14
                                                    WHEN 'medium' THEN 30 ELSE 90 END)
                                     ELSE CASE risk_level WHEN 'high' THEN 14 WHEN 'medium' THEN 30
                                          ELSE 90 END END, 'registered'
                          FROM unnest(%(id)s::uuid[]) AS s(id)
                          JOIN bench_clients ON client_id = s.id
                          RETURNING *)""" + emit + " SELECT count(*) FROM new", arrays)
    return time.perf_counter() - started


def handler_sample(county, n, rng):
    """n events through the real path: broker, the visits consumer, inbox, one transaction each."""
    settings = test_settings(prefix=f"bench{os.getpid()}h")
    hub = RunningHub(settings, ["visits"]).start()
    try:
        events = list(client_events(county, n, rng))
        started = time.perf_counter()
        with kombu.Connection(settings.amqp_uri) as conn:
            producer = conn.Producer()
            for e in events:
                producer.publish(e, exchange=topology.exchange(settings), routing_key=e["type"],
                                 serializer="json", delivery_mode=2)
        with hub.db("visits") as conn:
            while conn.execute("SELECT count(*) FROM visit_plans").fetchone()[0] < n:
                time.sleep(0.05)
        took = time.perf_counter() - started
        print(f"  real consumer path, {n:,} events (publish + consume)   {took:7.2f} s  "
              f"({n / took:>9,.0f}/s): 100,000 would take ~{100_000 / (n / took):,.0f} s")
    finally:
        hub.stop()
        cleanup(settings)


def load_visits(db, n):
    """n visits: 45% done, 5% missed or cancelled, 50% open (due from 60 days ago to 90 ahead)."""
    with db.transaction() as tx:
        tx.execute("TRUNCATE visits, hub_outbox")
        tx.execute("""INSERT INTO visits (client_id, township_code, village_code, status, due_on,
                                          worker_id, scheduled_reason)
                      SELECT gen_random_uuid(), t.code, t.code || '001',
                             CASE WHEN r < 0.45 THEN 'done' WHEN r < 0.48 THEN 'missed'
                                  WHEN r < 0.50 THEN 'cancelled' ELSE 'scheduled' END,
                             CASE WHEN r < 0.50 THEN %(today)s - 60 - (i %% 300)
                                  ELSE %(today)s - 60 + (i %% 151) END,
                             gen_random_uuid(), 'registered'
                      FROM (SELECT i, random() AS r FROM generate_series(1, %(n)s) i) g
                      CROSS JOIN LATERAL (SELECT (ARRAY['341721100', '341721101', '341721102',
                          '341721103', '341721104', '341721105', '341721106', '341721107',
                          '341721108', '341721109', '341721110', '341721111', '341721200',
                          '341721201', '341721202'])[1 + g.i %% 15] AS code) t""",
                   {"today": TODAY, "n": n})
        tx.execute("DROP TABLE IF EXISTS bench_visits")
        tx.execute("CREATE TABLE bench_visits (LIKE visits INCLUDING ALL)")
        tx.execute("INSERT INTO bench_visits SELECT * FROM visits")
    vacuum(db)


def vacuum(db):
    with db.pool.connection() as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE visits")
        conn.execute("VACUUM ANALYZE bench_visits")
        conn.autocommit = False


def plain_sql_sweep(db, policy, today):
    started = time.perf_counter()
    with db.transaction() as tx:
        tx.execute("""UPDATE bench_visits SET status = s.status, escalation_level = s.level
                      FROM (SELECT id, CASE WHEN %(t)s::date - due_on < 0 THEN 'scheduled'
                                            WHEN %(t)s::date - due_on <= %(g)s THEN 'due'
                                            ELSE 'overdue' END AS status,
                                       CASE WHEN %(t)s::date - due_on <= %(g)s THEN 0
                                            WHEN %(t)s::date - due_on > %(c)s THEN 2
                                            WHEN %(t)s::date - due_on > %(w)s THEN 1 ELSE 0 END AS level
                            FROM bench_visits
                            WHERE status IN ('scheduled', 'due', 'overdue') AND due_on <= %(t)s) s
                      WHERE bench_visits.id = s.id
                        AND (bench_visits.status, bench_visits.escalation_level)
                            IS DISTINCT FROM (s.status, s.level::smallint)""",
                   {"t": today, "g": policy.grace_days, "w": policy.township_after_days,
                    "c": policy.county_after_days})
    return time.perf_counter() - started


def sweeping(settings, db, admin, n):
    print(f"\noverdue sweep over {n:,} visits")
    load_visits(admin, n)
    with db.transaction() as tx:
        policy = policies.load(tx)
    for label, day in (("first sweep (visits never swept)", TODAY - timedelta(days=1)),
                       ("next day's sweep", TODAY)):
        if day == TODAY:
            vacuum(admin)       # as autovacuum would have done after yesterday's 200,000 updates
        result = sweep.run(db, settings.county, day)
        base = plain_sql_sweep(admin, policy, day)
        line(f"visits.sweep.run: {label}", result["seconds"], base, n)
        print(f"    became due {result['became_due']:,}, overdue {result['became_overdue']:,}, "
              f"escalated to township {result['escalated_to_township']:,}, to county "
              f"{result['escalated_to_county']:,}")
    with admin.transaction() as tx:
        print(f"    {tx.one('SELECT count(*) AS n FROM hub_outbox')['n']:,} events written; "
              "statuses agree with the baseline: " + str(tx.one(
                  """SELECT count(*) = 0 AS same FROM visits v JOIN bench_visits b USING (id)
                     WHERE (v.status, v.escalation_level) <> (b.status, b.escalation_level)""")["same"]))


def cleanup(settings):
    """cleanup_hub, reporting rather than raising the PII guard's findings: among 10^5 random
    UUIDs some hold 11 digits shaped like a mobile number (tests/support/pii.py)."""
    try:
        cleanup_hub(settings)
    except AssertionError as found:
        print(f"  PII guard: {str(found).splitlines()[0]} {len(str(found).splitlines()) - 1}+ "
              "(check whether they are inside UUIDs)", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--visits", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=2_000,
                        help="events sent through the real consumer (0: skip)")
    args = parser.parse_args()
    rng = random.Random(20260301)
    settings = test_settings(prefix=f"bench{os.getpid()}")
    migrate(settings, "visits")
    provision(settings, ["visits"])         # its own database role, as `hub setup` makes it
    db = Database(settings, "visits", max_size=4)
    # the baselines' own tables and VACUUM take the admin (the service's role may not create
    # tables, nor vacuum those it does not own)
    admin = Database(settings, "visits", max_size=2, dsn=settings.database_dsn("visits"))
    try:
        with db.transaction() as tx:
            roster.sync(tx, bench_roster(settings.county))
        if args.clients:
            planning(settings, db, admin, args.clients, rng)
        if args.sample:
            handler_sample(settings.county, args.sample, rng)
        if args.visits:
            sweeping(settings, db, admin, args.visits)
    finally:
        db.close()
        admin.close()
        cleanup(settings)


if __name__ == "__main__":
    main()
