"""Verification rounds (对象核查): every active client of some categories is visited by a deadline.

Opening a round gives each such client a verification visit, spread over the weeks up to the
deadline so no worker goes over their weekly capacity (domain.round_due_dates); a visit no one
has room for is due on the deadline, unassigned. Closing a round cancels what is still open.
"""
import uuid

from contracts.events import visits as events
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.i18n import _
from hub.pagination import keyset_page
from visits import assignment, visit_rows
from visits.domain import round_due_dates

ACTOR = "visits"
COLUMNS = ("id, seq, title, categories, township_codes, opened_on, deadline, status, closed_on, "
           "opened_by, closed_by")


def open_round(tx, policy, county, today, body, actor):
    townships = body["township_codes"] or sorted(county.townships)
    strangers = [t for t in townships if t not in county.townships]
    if strangers:
        raise ValidationFailed(_("Some townships are not in this county."), fields={
            "township_codes": [_("{code} is not a township of {county}", code=t,
                                 county=county.name) for t in strangers]})
    opened_on = body["effective_date"] or today
    if body["deadline"] < opened_on:
        raise ValidationFailed(_("The deadline is before the round opens."),
                               fields={"deadline": [_("must not be before {date}",
                                                      date=opened_on)]})
    round_id = uuid.uuid4()
    tx.execute("""INSERT INTO verification_rounds (id, title, categories, township_codes, opened_on,
                                                   deadline, opened_by)
                  VALUES (%s, %s, %s, %s, %s, %s, %s)""",
               (round_id, body["title"], body["categories"], townships, opened_on,
                body["deadline"], actor))
    members = tx.all("""SELECT client_id, township_code, village_code FROM visit_clients
                        WHERE status = 'active' AND categories && %s::text[]
                          AND township_code = ANY(%s) ORDER BY client_id""",
                     (body["categories"], townships))
    dates = round_due_dates(min(max(opened_on, today), body["deadline"]), body["deadline"])
    chosen = assignment.assign(tx, [assignment.Request(m["client_id"], m["township_code"], dates)
                                    for m in members])
    planned = visit_rows.insert(tx, policy, today, [
        visit_rows.NewVisit(m["client_id"], m["township_code"], m["village_code"],
                       chosen[m["client_id"]][1], chosen[m["client_id"]][0],
                       "verification_round", kind="verification", round_id=round_id)
        for m in members], ACTOR)
    tx.emit(events.ROUND_OPENED.key, f"verification-round/{round_id}", {
        "round_id": str(round_id), "categories": body["categories"], "township_codes": townships,
        "opened_on": opened_on.isoformat(), "deadline": body["deadline"].isoformat(),
        "visits_planned": len(planned)})
    return get(tx, round_id)


def close_round(tx, round_id, body, today, actor):
    found = get(tx, round_id, for_update=True)
    if found["status"] != "open":
        raise Conflict(_("The round is already closed."), fields={"status": [_("already closed")]})
    closed_on = body["effective_date"] or today
    visit_rows.cancel(tx, "v.round_id = %(round)s", {"round": found["id"]}, "round_closed", closed_on)
    tx.execute("""UPDATE verification_rounds SET status = 'closed', closed_on = %s, closed_by = %s
                  WHERE id = %s""", (closed_on, actor, found["id"]))
    result = get(tx, round_id)
    p = result["progress"]
    tx.emit(events.ROUND_CLOSED.key, f"verification-round/{round_id}", {
        "round_id": str(found["id"]), "closed_on": closed_on.isoformat(), "planned": p["planned"],
        "done": p["done"], "missed": p["missed"], "cancelled": p["cancelled"],
        "info_changed": p["info_changed"]})
    return result


def get(tx, round_id, *, for_update=False):
    try:
        uuid.UUID(str(round_id))
    except ValueError:
        raise NotFound(_("No such verification round."))
    row = tx.one(f"SELECT {COLUMNS} FROM verification_rounds WHERE id = %s"
                 + (" FOR UPDATE" if for_update else ""), (round_id,))
    if row is None:
        raise NotFound(_("No such verification round."))
    return with_progress(tx, row)


def search(tx, query):
    where, params = [], {}
    if query.get("status"):
        where.append("status = %(status)s")
        params["status"] = query["status"]
    rows, next_cursor = keyset_page(tx, f"SELECT {COLUMNS} FROM verification_rounds", where,
                                    params, query)
    return [with_progress(tx, r) for r in rows], next_cursor


def with_progress(tx, row):
    """The round with how far it got, in total and by township."""
    towns = tx.all("""SELECT township_code, count(*) AS planned,
                             count(*) FILTER (WHERE status = 'done') AS done,
                             count(*) FILTER (WHERE status = 'missed') AS missed,
                             count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                             count(*) FILTER (WHERE status IN ('scheduled', 'due', 'overdue'))
                                 AS open,
                             count(*) FILTER (WHERE status = 'overdue') AS overdue,
                             count(*) FILTER (WHERE status = 'done' AND
                                              (verification ->> 'info_correct')::boolean = false)
                                 AS info_changed
                      FROM visits WHERE round_id = %s GROUP BY township_code
                      ORDER BY township_code""", (row["id"],))
    keys = ("planned", "done", "missed", "cancelled", "open", "overdue", "info_changed")
    total = {k: sum(t[k] for t in towns) for k in keys}
    return {**row, "progress": _percent(total), "by_township": [_percent(t) for t in towns]}


def _percent(counts):
    done = round(100.0 * counts["done"] / counts["planned"], 1) if counts["planned"] else 0.0
    return {**counts, "percent_done": done}
