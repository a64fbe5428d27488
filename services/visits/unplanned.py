"""Use case: record a visit nobody planned (a station worker dropped in, a device offline).

The visit is created already done, of kind `routine` (it is a visit of the client's ordinary
care, and stats counts it as such), due on the day it took place (so it is not late), its
`scheduled_reason` `unplanned`. It emits what completing a planned visit emits and leaves the
client's plan as completing one would: the open routine visit is re-dated one interval after
this one (records.finish). A visit dated before the last one recorded leaves the plan as it is.

The caller may name the visit (`id`, made on a device): the same id again answers the visit
already recorded, so a device may send it as often as it needs to.
"""
from hub.access import OutOfScope
from hub.errors import Conflict, ValidationFailed
from hub.i18n import _
from visits import client_view, records


def record(tx, policy, today, body, principal, station=None):
    """Record the visit `body` describes (CompleteSchema's fields, client_id, optional id);
    `station` is the township a station role is confined to. Returns the visit's row."""
    if body.get("id") is not None:
        existing = tx.one("SELECT * FROM visits WHERE id = %s", (body["id"],))
        if existing is not None:
            return _same(existing, body)
    client = _client(tx, body["client_id"], station)
    plan = tx.one("SELECT * FROM visit_plans WHERE client_id = %s FOR UPDATE",
                  (client["client_id"],))
    records.check_visit_date(plan, body)
    records.active_worker(tx, body["worker_id"])
    visited_on = body["visited_at"].date()
    row = tx.one("""INSERT INTO visits (id, client_id, kind, township_code, village_code, status,
                                        due_on, worker_id, scheduled_reason, recorded_by)
                    VALUES (coalesce(%s, gen_random_uuid()), %s, 'routine', %s, %s, 'done', %s,
                            %s, 'unplanned', %s)
                    ON CONFLICT (id) DO NOTHING RETURNING *""",
                 (body.get("id"), client["client_id"], client["township_code"],
                  client["village_code"], visited_on, body["worker_id"], principal.subject))
    if row is None:       # the same id committed meanwhile by a concurrent call
        return _same(records.get(tx, body["id"]), body)
    later_visit = plan["last_visit_on"] is not None and visited_on < plan["last_visit_on"]
    records.finish(tx, policy, today, row, client, plan, body, body["worker_id"], principal,
                   replan=not later_visit)
    return records.get(tx, row["id"])


def _client(tx, client_id, station):
    """The client's view row, locked (as completing locks it); 422 when visits does not know
    the client, 404 when it is another station's (as every record of another township
    answers a station role: hub.access), 409 when its case is closed."""
    client = client_view.find(tx, client_id, for_update=True)
    if client is None:
        raise ValidationFailed(_("No such client."),
                               fields={"client_id": [_("is not a client known to visits")]})
    if station and client["township_code"] != station:
        raise OutOfScope()
    if client["status"] != "active":
        raise Conflict(_("The client's case is closed; reopen it first."),
                       fields={"client_id": [_("the client's case is {status}",
                                               status=client["status"])]})
    return client


def _same(existing, body):
    """A repeat of an `id` already recorded: the visit it recorded, if it is this visit."""
    if (str(existing["client_id"]) != str(body["client_id"])
            or existing["scheduled_reason"] != "unplanned"):
        raise Conflict(_("This id already names another visit."),
                       fields={"id": [_("already names another visit")]})
    return existing
