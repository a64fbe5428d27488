"""Visit rows, written set-based together with their events: create, move, cancel, judge status.

The status rule: an open visit is `scheduled` until its due date, `due` from then until the
policy's grace days have passed, then `overdue`; an overdue visit late more than the township
days (7) is escalated to the township, more than the county days (30) to the county. It is
written once, as SQL (RULE_STATUS, RULE_LEVEL), and applied as visits are created or moved and
by the sweep (`judge`); visit.overdue and visit.escalated go out when a visit crosses a line.
"""
from dataclasses import dataclass

from contracts.events import visits as events
from visits import outbox
from visits.domain import OPEN_STATUSES

OPEN = "(" + ", ".join(f"'{s}'" for s in OPEN_STATUSES) + ")"
RULE_STATUS = """CASE WHEN {late} < 0 THEN 'scheduled' WHEN {late} <= %(grace)s THEN 'due'
                      ELSE 'overdue' END"""
RULE_LEVEL = """CASE WHEN {late} <= %(grace)s THEN 0 WHEN {late} > %(county)s THEN 2
                     WHEN {late} > %(township)s THEN 1 ELSE 0 END"""
# the events of a visit whose status was judged: `v` has old_status and old_level
JUDGED_EVENTS = (
    (events.OVERDUE.key, "v.status = 'overdue' AND v.old_status IS DISTINCT FROM 'overdue'"),
    (events.ESCALATED.key, "v.escalation_level > coalesce(v.old_level, 0)"),
)


BULK_ROWS = 1000


def roomy(tx):
    """Room to sort a large batch's events in memory (4 MB, the default, spills to disk)."""
    tx.execute("SET LOCAL work_mem = '64MB'")


def rule_params(tx, policy, today):
    return {**outbox.params(tx), "today": today, "grace": policy.grace_days,
            "township": policy.township_after_days, "county": policy.county_after_days}


def status_sql(due):
    late = f"(%(today)s::date - {due})"
    return RULE_STATUS.format(late=late), RULE_LEVEL.format(late=late)


@dataclass
class NewVisit:
    client_id: object
    township_code: str
    village_code: str
    due_on: object
    worker_id: object
    reason: str
    kind: str = "routine"
    round_id: object = None


def insert(tx, policy, today, visits, recorded_by):
    """Create visits, judged on `today` (an open routine visit a client already has is not
    created twice); emits visit.scheduled, and visit.overdue/escalated for late ones. Returns
    the new ids."""
    if not visits:
        return []
    if len(visits) > BULK_ROWS:
        roomy(tx)
    status, level = status_sql("n.d")
    rows = tx.all(
        f"""WITH new AS (
                INSERT INTO visits (client_id, kind, round_id, township_code, village_code, due_on,
                                    worker_id, scheduled_reason, recorded_by, status,
                                    escalation_level)
                SELECT c, k, r, t, vi, d, w, re, %(by)s, {status}, {level}
                FROM unnest(%(client)b::uuid[], %(kind)b::text[], %(round)b::uuid[],
                            %(town)b::text[], %(village)b::text[], %(due)b::date[],
                            %(worker)b::uuid[], %(reason)b::text[]) AS n(c, k, r, t, vi, d, w, re)
                ON CONFLICT DO NOTHING
                RETURNING *, NULL::text AS old_status, NULL::smallint AS old_level),
            emitted AS ({outbox.insert_sql("new v", (events.SCHEDULED.key, "TRUE"),
                                           *JUDGED_EVENTS)})
            SELECT id FROM new""",
        {**rule_params(tx, policy, today), "by": recorded_by,
         "client": [v.client_id for v in visits], "kind": [v.kind for v in visits],
         "round": [v.round_id for v in visits], "town": [v.township_code for v in visits],
         "village": [v.village_code for v in visits], "due": [v.due_on for v in visits],
         "worker": [v.worker_id for v in visits], "reason": [v.reason for v in visits]})
    return [r["id"] for r in rows]


def move(tx, policy, today, changes, reason):
    """Change open visits' due date, worker or station and judge them again: `changes` are dicts
    with id, due_on, worker_id, township_code, village_code. Emits visit.scheduled (and
    visit.overdue/escalated when the new date makes one late); returns the moved ids."""
    if not changes:
        return []
    if len(changes) > BULK_ROWS:
        roomy(tx)
    status, level = status_sql("c.due")
    rows = tx.all(
        f"""WITH c AS (
                SELECT c.*, v0.status AS old_status, v0.escalation_level AS old_level
                FROM unnest(%(id)s::uuid[], %(due)s::date[], %(worker)s::uuid[],
                            %(town)s::text[], %(village)s::text[]) AS c(id, due, worker, town, village)
                JOIN visits v0 ON v0.id = c.id),
            moved AS (
                UPDATE visits v SET previous_due_on = v.due_on, due_on = c.due, worker_id = c.worker,
                    township_code = c.town, village_code = c.village, scheduled_reason = %(reason)s,
                    status = {status}, escalation_level = {level}, updated_at = now()
                FROM c WHERE v.id = c.id AND v.status IN {OPEN}
                RETURNING v.*, c.old_status, c.old_level),
            emitted AS ({outbox.insert_sql("moved v", (events.SCHEDULED.key, "TRUE"),
                                           *JUDGED_EVENTS)})
            SELECT id FROM moved""",
        {**rule_params(tx, policy, today), "reason": reason,
         "id": [c["id"] for c in changes], "due": [c["due_on"] for c in changes],
         "worker": [c["worker_id"] for c in changes],
         "town": [c["township_code"] for c in changes],
         "village": [c["village_code"] for c in changes]})
    return [r["id"] for r in rows]


def cancel(tx, where, params, reason, cancelled_on):
    """Cancel the open visits matching `where` (over `v`); emits visit.cancelled; returns count."""
    row = tx.one(
        f"""WITH gone AS (
                UPDATE visits v SET status = 'cancelled', cancel_reason = %(reason)s,
                    cancelled_on = %(on)s, updated_at = now()
                WHERE v.status IN {OPEN} AND {where}
                RETURNING v.*),
            emitted AS ({outbox.insert_sql("gone v", (events.CANCELLED.key, "TRUE"))})
            SELECT count(*) AS n FROM gone""",
        {**outbox.params(tx), **params, "reason": reason, "on": cancelled_on})
    return row["n"]


# The open visits whose status or level can change on a day: only these are read by the sweep
# (an index range each), so a daily sweep costs what changes, not what is open.
CROSSING = """(status = 'scheduled' AND due_on <= %(today)s)
    OR (status = 'due' AND due_on < %(today)s::date - %(grace)s)
    OR (status = 'overdue' AND escalation_level = 0 AND due_on < %(today)s::date - %(township)s)
    OR (status = 'overdue' AND escalation_level = 1 AND due_on < %(today)s::date - %(county)s)"""


def judge(tx, policy, today, *, everything=False):
    """Bring open visits' status and escalation level up to date on `today`: those crossing a
    line today (the sweep), or every open visit that has fallen due (`everything`, after the
    policy changed, when levels may also go down). Returns counts of the changes."""
    roomy(tx)
    # the planner, misled by statistics from before the last sweep, may join the few visits
    # that change to all of them by hash; looking each up by id is right for any number
    tx.execute("SET LOCAL enable_hashjoin = off")
    tx.execute("SET LOCAL enable_mergejoin = off")
    status, level = status_sql("due_on")
    scope = f"status IN {OPEN} AND due_on <= %(today)s" if everything else CROSSING
    counts = tx.one(
        f"""WITH ruled AS (
                SELECT id, status AS old_status, escalation_level AS old_level,
                       {status} AS status, {level} AS level
                FROM visits WHERE {scope}),
            changed AS (
                UPDATE visits v SET status = r.status, escalation_level = r.level, updated_at = now()
                FROM ruled r
                WHERE v.id = r.id AND (r.status <> r.old_status OR r.level <> r.old_level)
                RETURNING v.*, r.old_status, r.old_level),
            emitted AS ({outbox.insert_sql("changed v", *JUDGED_EVENTS)})
            SELECT count(*) FILTER (WHERE status = 'due' AND old_status <> 'due') AS due,
                   count(*) FILTER (WHERE status = 'overdue' AND old_status <> 'overdue') AS overdue,
                   count(*) FILTER (WHERE escalation_level = 1 AND old_level < 1) AS township,
                   count(*) FILTER (WHERE escalation_level = 2 AND old_level < 2) AS county,
                   count(*) AS changed
            FROM changed""", rule_params(tx, policy, today))
    tx.execute("RESET enable_hashjoin")
    tx.execute("RESET enable_mergejoin")
    return counts
