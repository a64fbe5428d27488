"""What stats keeps of the social workers resources registers (a read model of worker.* events):
each worker's id, township and the day they left — so that a station's staff are workers the
hub knows and who have not left. Whatever order the events arrive in, the result is the same."""
from hub.i18n import _


def record(tx, event):
    """A worker.registered / certified / left event into stats_workers."""
    d = event["data"]
    left_on = d["effective_date"] if event["type"].startswith("worker.left") else None
    tx.execute("""INSERT INTO stats_workers AS w (worker_id, township_code, left_on)
                  VALUES (%s, %s, %s)
                  ON CONFLICT (worker_id) DO UPDATE SET
                      township_code = coalesce(EXCLUDED.township_code, w.township_code),
                      left_on = coalesce(EXCLUDED.left_on, w.left_on)""",
               (d["worker_id"], d.get("township_code"), left_on))


def staff_errors(tx, staff):
    """{"staff": [reason]} for ids that are not of a worker stats knows, or of one who left."""
    if not staff:
        return {}
    ids = [str(s) for s in staff]
    if len(set(ids)) != len(ids):
        return {"staff": [_("lists a worker twice")]}
    known = {str(r["worker_id"]): r["left_on"] for r in tx.all(
        "SELECT worker_id, left_on FROM stats_workers WHERE worker_id = ANY(%s::uuid[])", (ids,))}
    reasons = [_("no worker {id} is known here (one registered a moment ago may not have "
                 "arrived yet: try again)", id=i) for i in ids if i not in known]
    reasons += [_("worker {id} left on {date}", id=i, date=known[i].isoformat())
                for i in ids if known.get(i) is not None]
    return {"staff": reasons} if reasons else {}
