"""The overdue sweep: marks open visits due or overdue, escalates late ones, retries assignment.

One set-based statement (visit_rows.judge) judges every open visit that has fallen due; the events
of those that crossed a line are built in SQL and written to the outbox by the same
statement. Overdue more than the policy's township days (7) escalates to the township admin,
more than its county days (30) to the county. Only one sweep runs at a time (advisory lock);
it is idempotent, so running it again the same day changes nothing.
"""
import logging
import time
from datetime import timedelta

from visits import assignment, metrics, visit_rows
from visits import policy as policies
from visits.domain import ESCALATION_LEVELS, OPEN_STATUSES

log = logging.getLogger(__name__)

SWEEP_LOCK = 7_340_201
ASSIGN_AHEAD_DAYS = 28        # unassigned visits due within four weeks are offered again
ASSIGN_BATCH = 5000


def run(db, county, today):
    """Sweep once on `today`; returns what changed ({"skipped": True} if another sweep runs)."""
    started = time.perf_counter()
    with db.transaction() as tx:
        if not tx.one("SELECT pg_try_advisory_xact_lock(%s) AS ok", (SWEEP_LOCK,))["ok"]:
            return {"skipped": True}
        policy = policies.load(tx)
        counts = visit_rows.judge(tx, policy, today)
    with db.transaction() as tx:
        assigned = assign_waiting(tx, policy, today)
    refresh_gauges(db, county)
    elapsed = time.perf_counter() - started
    metrics.SWEEP_SECONDS.observe(elapsed)
    for level in ESCALATION_LEVELS[1:]:
        metrics.ESCALATIONS.labels(level).inc(counts[level])
    result = {"today": today, "became_due": counts["due"], "became_overdue": counts["overdue"],
              "escalated_to_township": counts["township"],
              "escalated_to_county": counts["county"], "assigned": assigned,
              "seconds": round(elapsed, 3)}
    log.info("overdue sweep: %s", result)
    return result


def assign_waiting(tx, policy, today):
    """Offer open visits that have no worker (everyone was full) to the station again."""
    rows = tx.all("""SELECT id, township_code, village_code, due_on FROM visits
                     WHERE status = ANY(%s) AND worker_id IS NULL AND due_on <= %s
                       AND township_code IN (SELECT township_code FROM workers
                                             WHERE status = 'active')
                     ORDER BY due_on LIMIT %s""",
                  (list(OPEN_STATUSES), today + timedelta(days=ASSIGN_AHEAD_DAYS), ASSIGN_BATCH))
    chosen = assignment.assign(tx, [assignment.Request(r["id"], r["township_code"], [r["due_on"]],
                                                       None, r["id"]) for r in rows])
    changes = [{"id": r["id"], "due_on": r["due_on"], "worker_id": chosen[r["id"]][0],
                "township_code": r["township_code"], "village_code": r["village_code"]}
               for r in rows if chosen[r["id"]][0] is not None]
    return len(visit_rows.move(tx, policy, today, changes, "reassigned"))


def refresh_gauges(db, county):
    rows = db.query("""SELECT township_code, status, escalation_level,
                              worker_id IS NULL AS unassigned, count(*) AS n
                       FROM visits WHERE status = ANY(%s)
                         AND (status <> 'scheduled' OR worker_id IS NULL)
                       GROUP BY 1, 2, 3, 4""", (list(OPEN_STATUSES),))
    metrics.set_open_visits(county, rows)
