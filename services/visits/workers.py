"""The workers resources publishes (worker.registered, .certified, .left), kept for assignment.

A worker who joins a station takes the station's open visits that nobody had (a county without
a roster file starts with none); the open visits of one who leaves go to the station's other
workers with room, else wait unassigned for the next to join. Workers of a roster file
(visits/roster.py) are kept as the file says. Events carry ids and codes only: a worker is
shown by a code made from their id.
"""
from contracts.events import resources as worker_events
from visits import assignment, plans
from visits.domain import OPEN_STATUSES

PATTERN = "worker.#"


def on_worker_event(tx, policy, today, event):
    """Keep the worker as the event says; one who joins takes the station's open visits nobody
    had, one who leaves hands theirs to the station's others (those with room)."""
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
        theirs = "v.worker_id = %(worker)s"
    else:
        theirs = "v.township_code = %(town)s AND v.worker_id IS NULL"
    visits = tx.all(f"{plans.OPEN_VISITS} AND {theirs}", {
        "worker": worker_id, "town": data["township_code"], "open": list(OPEN_STATUSES)})
    return len(assignment.hand_over(tx, policy, today, visits, "reassigned"))
