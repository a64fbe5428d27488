"""Use case: record a visit nobody planned (a station worker dropped in, a device offline).

The visit is created already done, of kind `routine` (it is a visit of the client's ordinary
care, and stats counts it as such), due on the day it took place (so it is not late), its
`scheduled_reason` `unplanned`. It emits what completing a planned visit emits and leaves the
client's plan as completing one would: the open routine visit is re-dated one interval after
this one (records.finish). A visit dated before the last one recorded leaves the plan as it is.
Visits recorded together (a sync's group, or calls arriving at once) are decided together
(`record_all`): a few statements for all of them instead of some fifteen each.

The caller may name the visit (`id`, made on a device): the same id again answers the visit
already recorded, so a device may send it as often as it needs to.
"""
import uuid
from dataclasses import dataclass

from psycopg.types.json import Jsonb

from hub.access import OutOfScope
from hub.call_groups import not_run, stops_here
from hub.errors import Conflict, HubError, ValidationFailed
from hub.i18n import _
from visits import client_view, metrics, outbox, plans, records


@dataclass
class Request:
    """One visit to record: the call's body, its caller, the township a station role is
    confined to (or None), and the fields on whose refusal a sync group stops (call_groups)."""
    body: dict
    principal: object
    station: str | None = None
    stop_on: tuple = ()


@dataclass
class _Accepted:
    """A request that passed its checks, with what writing it needs."""
    request: Request
    visit_id: str
    client: dict
    plan: dict


def record_all(tx, policy, today, requests):
    """Record [Request] in order, each as if alone: one outcome each — the visit's row, or
    the HubError refusing it (nothing written for that one). All are checked first, then the
    accepted ones are written together: the visits, their events and the plans in a few
    statements, the clients' next visits re-planned with one count of the stations' loads. A
    refusal on one of a request's `stop_on` fields stops there: it and those after it are
    answered not run, having written nothing. A second request of one client (or visit id)
    is recorded after the first is written, as it would be alone."""
    outcomes = _checked(tx, requests)
    first, later, seen = [], [], set()
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, _Accepted):
            keys = {str(outcome.client["client_id"]), outcome.visit_id}
            (later if keys & seen else first).append(i)
            seen |= keys
    written = _write(tx, policy, today, [outcomes[i] for i in first])
    for i in first:
        outcomes[i] = written[outcomes[i].visit_id]
    if later:
        again = record_all(tx, policy, today, [requests[i] for i in later])
        for i, outcome in zip(later, again, strict=True):
            outcomes[i] = outcome
    return outcomes


def _checked(tx, requests):
    """Each request checked, in order, reading only (the clients' view rows and plans locked in
    client order, as completing locks them): _Accepted, the visit recorded before under its id,
    or the refusal."""
    bodies = [r.body for r in requests]
    existing = _rows(tx, "SELECT * FROM visits WHERE id = ANY(%s::uuid[])",
                     [b["id"] for b in bodies if b.get("id") is not None], "id")
    client_ids = sorted({str(b["client_id"]) for b in bodies})
    clients = _rows(tx, f"""SELECT {client_view.COLUMNS} FROM visit_clients
                            WHERE client_id = ANY(%s::uuid[]) ORDER BY client_id FOR UPDATE""",
                    client_ids, "client_id")
    plans_of = _rows(tx, """SELECT * FROM visit_plans WHERE client_id = ANY(%s::uuid[])
                            ORDER BY client_id FOR UPDATE""", client_ids, "client_id")
    workers = _rows(tx, "SELECT * FROM workers WHERE id = ANY(%s::uuid[])",
                    sorted({str(b["worker_id"]) for b in bodies}), "id")
    outcomes = []
    for request in requests:
        body = request.body
        try:
            if body.get("id") is not None and str(body["id"]) in existing:
                outcomes.append(_same(existing[str(body["id"])], body))
                continue
            client = _client(clients.get(str(body["client_id"])), request.station)
            records.check_visit_date(plans_of[str(client["client_id"])], body)
            records.check_active(workers.get(str(body["worker_id"])), body["worker_id"])
            outcomes.append(_Accepted(request, str(body.get("id") or uuid.uuid4()), client,
                                      plans_of[str(client["client_id"])]))
        except HubError as refused:
            if stops_here(request.stop_on, refused):
                return outcomes + not_run(len(requests) - len(outcomes))
            outcomes.append(refused)
    return outcomes


def _rows(tx, sql, ids, key):
    """{str(row[key]): row} of the rows `sql` selects for the ids (none: no query)."""
    return {str(r[key]): r for r in tx.all(sql, (list(ids),))} if ids else {}


INSERT = """INSERT INTO visits (id, client_id, kind, township_code, village_code, status, due_on,
                                worker_id, scheduled_reason, recorded_by, visited_at, visited_on,
                                mode, completed_by, notes, verification, needs, risk_assessment,
                                delay_days)
            VALUES (%s, %s, 'routine', %s, %s, 'done', %s, %s, 'unplanned', %s, %s, %s, %s, %s,
                    %s, %s, %s, %s, 0)
            ON CONFLICT (id) DO NOTHING RETURNING id"""


def _write(tx, policy, today, accepted):
    """Write accepted visits of distinct clients and ids: {visit id: its row, or HubError}."""
    if not accepted:
        return {}
    needs = {a.visit_id: [{"need_id": str(uuid.uuid4()), **n} for n in a.request.body["needs"]]
             for a in accepted}
    with tx.conn.cursor() as cur:     # one pipelined statement
        cur.executemany(INSERT, [_insert_params(a, needs[a.visit_id]) for a in accepted],
                        returning=True)
        inserted = [result.fetchone() is not None for result in cur.results()]
    outcomes, done = {}, []
    for a, new in zip(accepted, inserted, strict=True):
        if new:
            done.append(a)
            continue
        try:            # the same id committed meanwhile by a concurrent call
            outcomes[a.visit_id] = _same(records.get(tx, a.visit_id), a.request.body)
        except HubError as refused:
            outcomes[a.visit_id] = refused
    if done:
        _emit(tx, done, needs)
        _replan(tx, policy, today, done)
        rows = tx.all("SELECT * FROM visits WHERE id = ANY(%s::uuid[])",
                      ([a.visit_id for a in done],))
        outcomes.update({str(r["id"]): r for r in rows})
        for _a in done:
            metrics.COMPLETION_DELAY.labels("routine").observe(0)
    return outcomes


def _insert_params(accepted, needs):
    body, client = accepted.request.body, accepted.client
    visited_on = body["visited_at"].date()
    return (accepted.visit_id, client["client_id"], client["township_code"],
            client["village_code"], visited_on, body["worker_id"],
            accepted.request.principal.subject, body["visited_at"], visited_on, body["mode"],
            body["worker_id"], body["notes"], _json(body["verification"]), Jsonb(needs),
            _json(body["risk_assessment"]))


def _emit(tx, done, needs):
    """What completing emits, for every visit written, in one statement (records.finish's
    events: each visit's own in their order)."""
    by_key = {}
    for a in done:
        for key in records.completion_events(needs[a.visit_id], a.request.body["risk_assessment"],
                                             a.client):
            by_key.setdefault(key, []).append(a.visit_id)
    keys = list(by_key)
    outbox.emit_each(tx, [(key, f"v.id = ANY(%(ids{n})s::uuid[])") for n, key in enumerate(keys)],
                     {f"ids{n}": by_key[key] for n, key in enumerate(keys)})


def _replan(tx, policy, today, done):
    """The plans as completing leaves them: the last visit's date moved on, and each client's
    next routine visit due one interval after this one, given to the visiting worker if they
    have room — the open one re-dated, else a new one (plans.plan_next, as records.finish). A
    visit dated before the last one recorded leaves the plan as it is."""
    tx.execute("""UPDATE visit_plans p SET last_visit_on = greatest(p.last_visit_on, d.on_day),
                                          updated_at = now()
                  FROM unnest(%s::uuid[], %s::date[]) AS d(client_id, on_day)
                  WHERE p.client_id = d.client_id""",
               ([a.client["client_id"] for a in done],
                [a.request.body["visited_at"].date() for a in done]))
    plans.plan_next(tx, policy, today, [
        (a.client, plans.next_due(policy, a.client, a.request.body["risk_assessment"],
                                  a.request.body["visited_at"].date()), a.request.body["worker_id"])
        for a in done if a.plan["status"] == "active" and (
            a.plan["last_visit_on"] is None
            or a.request.body["visited_at"].date() >= a.plan["last_visit_on"])])


def _json(value):
    return Jsonb(value) if value is not None else None


def _client(client, station):
    """The client's view row, checked: 422 when visits does not know the client (None), 404
    when it is another station's (as every record of another township answers a station role:
    hub.access), 409 when its case is closed."""
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
