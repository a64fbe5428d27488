"""Giving visits to workers: loads the stations' capacities and loads, then domain.StationLoads picks.

The workers of the stations involved are locked for the transaction, so two transactions
assigning in one station take turns and no worker ends up over their weekly capacity.
"""
from dataclasses import dataclass
from datetime import timedelta

from visits import visit_rows
from visits.domain import OPEN_STATUSES, StationLoads, week_start

# the Monday of a date's ISO week (domain.week_start) in SQL: whole weeks since a Monday
# (1 January 1900); date arithmetic is cheaper than date_trunc's way through timestamps
WEEK_START_SQL = "{day} - ({day} - DATE '1900-01-01') %% 7"      # (%% for psycopg)


@dataclass
class Request:
    """A visit to assign: its station, the dates it may fall due on, and whom to keep if possible."""
    key: object
    township_code: str
    candidates: list
    preferred: object = None
    visit_id: object = None      # an existing visit being reassigned (its own load is released)


def load_stations(tx, townships, first_day, last_day, releasing=()):
    """StationLoads for the active workers of `townships` over the weeks first_day..last_day."""
    workers = tx.all("""SELECT id, township_code, weekly_capacity FROM workers
                        WHERE township_code = ANY(%s) AND status = 'active'
                        ORDER BY id FOR UPDATE""", (sorted(townships),))
    ids = [w["id"] for w in workers]
    if not ids:
        return StationLoads({})
    releasing = list(releasing)
    # (joined to the worker ids: `worker_id = ANY(array)` would test every visit against each)
    not_released = ("AND NOT EXISTS (SELECT 1 FROM unnest(%(releasing)s::uuid[]) AS r(id) "
                    "WHERE r.id = v.id)" if releasing else "")
    params = {"ids": ids, "releasing": releasing, "first": week_start(first_day),
              "last": week_start(last_day) + timedelta(days=6), "open": list(OPEN_STATUSES)}
    week_rows = tx.all(
        f"""SELECT v.worker_id, {WEEK_START_SQL.format(day="v.due_on")} AS week, count(*) AS n
            FROM unnest(%(ids)s::uuid[]) AS w(id) JOIN visits v ON v.worker_id = w.id
            WHERE v.status <> 'cancelled' AND v.due_on BETWEEN %(first)s AND %(last)s
              {not_released}
            GROUP BY 1, 2""", params)
    open_rows = tx.all(
        f"""SELECT v.worker_id, count(*) AS n
            FROM unnest(%(ids)s::uuid[]) AS w(id) JOIN visits v ON v.worker_id = w.id
            WHERE v.status = ANY(%(open)s) {not_released}
            GROUP BY 1""", params)
    return StationLoads({w["id"]: (w["township_code"], w["weekly_capacity"]) for w in workers},
                        {(r["worker_id"], r["week"]): r["n"] for r in week_rows},
                        {r["worker_id"]: r["n"] for r in open_rows})


def assign(tx, requests):
    """{request key: (worker id or None, due date)}, balancing load within each station."""
    if not requests:
        return {}
    if len(requests) > visit_rows.BULK_ROWS:
        visit_rows.roomy(tx)                 # the loads are counted over the stations' visits
    days = [d for r in requests for d in r.candidates]
    loads = load_stations(tx, {r.township_code for r in requests}, min(days), max(days),
                          [r.visit_id for r in requests if r.visit_id is not None])
    ordered = sorted(requests, key=lambda r: (r.candidates[0], str(r.key)))
    return {r.key: loads.assign(r.township_code, r.candidates, r.preferred) for r in ordered}


def hand_over(tx, policy, today, visits, reason, moving_to=None):
    """Give open `visits` (rows: id, due_on, worker_id, township_code, village_code) again to
    workers with room in the week each is due — of their own station, or of the (township,
    village) they are `moving_to` — and move those that change (visit.scheduled); their ids."""
    def place(v):
        return moving_to or (v["township_code"], v["village_code"])
    chosen = assign(tx, [Request(v["id"], place(v)[0], [v["due_on"]], None, v["id"])
                         for v in visits])
    return visit_rows.move(tx, policy, today, [
        {"id": v["id"], "due_on": v["due_on"], "worker_id": chosen[v["id"]][0],
         "township_code": place(v)[0], "village_code": place(v)[1]}
        for v in visits if moving_to or chosen[v["id"]][0] != v["worker_id"]], reason)

