"""The workers resources publishes (worker.registered, .certified, .left), kept for assignment.

A worker who joins a station takes the station's open visits that nobody had (a county without
a roster file starts with none); the open visits of one who leaves go to the station's other
workers with room, else wait unassigned for the next to join. Workers of a roster file
(visits/roster.py) are kept as the file says. Events carry ids and codes only: a worker is
shown by a code made from their id.
"""
import logging

from resources import events as worker_events   # registers the contract of the events consumed
from visits import assignment, store
from visits.domain import OPEN_STATUSES

log = logging.getLogger(__name__)

PATTERN = "worker.#"


def on_worker_event(tx, policy, today, event):
    """Keep the worker as the event says, then give their station's open visits out again."""
    data = event["data"]
    if not data.get("township_code"):
        return "county-level worker: visits go to the stations' workers"
    left = event["type"] == worker_events.WORKER_LEFT.key or data["status"] == "left"
    worker_id = data["worker_id"]
    tx.execute(
        """INSERT INTO workers (id, code, kind, township_code, weekly_capacity, status, source)
           VALUES (%(id)s, %(code)s, 'social_worker', %(town)s, %(cap)s, %(status)s, 'resources')
           ON CONFLICT (id) DO UPDATE SET township_code = EXCLUDED.township_code,
               weekly_capacity = EXCLUDED.weekly_capacity, status = EXCLUDED.status,
               updated_at = now()""",
        {"id": worker_id, "code": "W-" + worker_id.replace("-", "")[:8].upper(),
         "town": data["township_code"], "cap": data["weekly_capacity"],
         "status": "left" if left else "active"})
    if left:
        waiting = "v.worker_id = %(worker)s"
    else:
        waiting = "v.township_code = %(town)s AND v.worker_id IS NULL"
    return len(give_out(tx, policy, today, waiting, {"worker": worker_id,
                                                      "town": data["township_code"]}))


def give_out(tx, policy, today, where, params):
    """Assign the open visits matching `where` (over `v`) to their station's workers with room
    in the week each is due (visit.scheduled for each that changes hands); their ids."""
    rows = tx.all(f"""SELECT v.id, v.due_on, v.worker_id, v.township_code, v.village_code
                      FROM visits v WHERE v.status = ANY(%(open)s) AND {where}
                      ORDER BY v.due_on, v.id""", {**params, "open": list(OPEN_STATUSES)})
    chosen = assignment.assign(tx, [assignment.Request(r["id"], r["township_code"],
                                                       [r["due_on"]], None, r["id"])
                                    for r in rows])
    return store.move(tx, policy, today, [
        {"id": r["id"], "due_on": r["due_on"], "worker_id": chosen[r["id"]][0],
         "township_code": r["township_code"], "village_code": r["village_code"]}
        for r in rows if chosen[r["id"]][0] != r["worker_id"]], "reassigned")
