"""The roster of social work certificate holders (持证社工) working in the county, station staff
or not: recorded, changed, and kept up to date from the civil-affairs roster.

It is the one source of the certified social workers figure: a holder counts from the year
they passed (their timeline, domain.py), wherever the hub learnt of them. A hub worker whose
certificate number is given is linked to their entry here (workers.py), so counts once. Events
carry the holder's id, level, years, township and status; never the name or the certificate
number, which identify a person.
"""
import uuid
from datetime import date

from psycopg.types.json import Jsonb

from contracts.events import resources as events
from hub.errors import Conflict, HubError
from hub.i18n import _
from resources import domain, queries
from resources.validation import check_townships, refuse_if

COLUMNS = ("id, seq, certificate_number, name, level, passed_year, township_code, employer_kind, "
           "status, status_since, timeline, worker_id, recorded_at, updated_at")
PUBLIC = ("level", "passed_year", "township_code", "employer_kind", "status")   # in the events


def record(tx, settings, body, actor, worker_id=None):
    """A new holder (POST); 409 naming certificate_number when the number is on the roster."""
    row = _insert(tx, settings, body, actor, worker_id)
    if row is None:
        existing = _find(tx, body["certificate_number"])
        raise Conflict(_("A holder with this certificate number is already on the roster."),
                       fields={"certificate_number": [_("already registered")]},
                       existing_holder_id=str(existing["id"]))
    return row


def keep(tx, settings, body, actor, worker_id=None):
    """A roster row: the holder recorded when the number is new, else changed to what the row
    says (fields it leaves out stay as they are). The answer's `change` says which:
    recorded, updated or unchanged; an event is emitted only when a counted field changed."""
    row = _find(tx, body["certificate_number"], for_update=True)
    if row is None:
        row = _insert(tx, settings, body, actor, worker_id)
        if row is not None:
            return row
        row = _find(tx, body["certificate_number"], for_update=True)   # recorded meanwhile
    return change(tx, settings, row, body, actor, worker_id)


def keep_all(tx, settings, bodies, actor):
    """keep() for the rows of a roster: their holders read, and the new ones inserted, in one
    statement each; an outcome per body, the holder or the HubError refusing the row. A row is
    refused before anything of it is written, so none needs a savepoint of its own."""
    known = {r["certificate_number"]: r for r in tx.all(
        f"""SELECT {COLUMNS} FROM certificate_holders WHERE certificate_number = ANY(%s)
            ORDER BY certificate_number FOR UPDATE""",
        ([b["certificate_number"] for b in bodies],))}
    outcomes, new = [None] * len(bodies), []
    for i, body in enumerate(bodies):
        row = known.get(body["certificate_number"])
        try:
            if row:
                outcomes[i] = change(tx, settings, row, body, actor)
            else:
                new.append((i, _new_row(settings, body, None)))
        except HubError as refused:
            outcomes[i] = refused
    recorded = {r["certificate_number"]: r for r in _insert_all(tx, [v for _, v in new], actor)}
    for i, _values in new:
        outcomes[i] = recorded.get(bodies[i]["certificate_number"])
        if outcomes[i] is None:                     # recorded meanwhile by another transaction
            try:
                outcomes[i] = keep(tx, settings, bodies[i], actor)
            except HubError as refused:
                outcomes[i] = refused
    return outcomes


def link_worker(tx, settings, worker, on, actor):
    """A hub worker's certificate given with its number: on the roster, linked to the worker
    (recorded if the number is new); it raises the roster's level, never lowers it."""
    body = {"certificate_number": worker["certificate_number"], "name": worker["name"],
            "level": worker["certificate_level"], "passed_year": worker["certified_year"],
            "township_code": worker["township_code"], "employer_kind": "station",
            "effective_date": on}
    known = _find(tx, body["certificate_number"], for_update=True)
    if known and (domain.CERTIFICATE_LEVELS.index(known["level"])
                  >= domain.CERTIFICATE_LEVELS.index(body["level"])):
        del body["level"], body["passed_year"]
    return keep(tx, settings, body, actor, worker_id=worker["id"])


def update(tx, settings, holder_id, body, actor):
    """PATCH: a higher level passed, a correction, another township, leaving or coming back."""
    return change(tx, settings, get(tx, holder_id, for_update=True), body, actor)


def change(tx, settings, row, body, actor, worker_id=None):
    """The holder `row` changed to `body` (the fields it has): the new row, with `change`."""
    on = body.get("effective_date") or date.today()
    level = body.get("level", row["level"])
    year = body.get("passed_year")
    if year is None:
        if level != row["level"]:
            refuse_if({"passed_year": [_("required with a new level")]},
                      _("Give the year the new level was passed."))
        year = row["passed_year"]
    timeline = row["timeline"]
    if (level, year) != (row["level"], row["passed_year"]):
        timeline = domain.with_level(timeline, level, year)
    township = body["township_code"] if "township_code" in body else row["township_code"]
    status = body.get("status") or row["status"]
    if (township, status) != (row["township_code"], row["status"]):
        check_townships(settings, township_code=township)
        refuse_if(domain.holder_change_errors(timeline, on), _("The date is not possible."))
        timeline = domain.with_place(timeline, on, township, status)
    after = {"level": level, "passed_year": year, "township_code": township, "status": status,
             "employer_kind": body.get("employer_kind", row["employer_kind"])}
    changed = [f for f in PUBLIC if after[f] != row[f]]
    name = body.get("name") or row["name"]
    worker_id = worker_id or row["worker_id"]
    if not changed and name == row["name"] and worker_id == row["worker_id"]:
        return {**row, "change": "unchanged"}
    since = timeline["places"][-1]["since"]
    new = tx.one(f"""UPDATE certificate_holders SET name = %s, level = %s, passed_year = %s,
                         township_code = %s, employer_kind = %s, status = %s, status_since = %s,
                         timeline = %s, worker_id = %s, updated_at = now()
                     WHERE id = %s RETURNING {COLUMNS}""",
                 (name, level, year, township, after["employer_kind"], status, since,
                  Jsonb(timeline), worker_id, row["id"]))
    if changed:
        tx.emit(events.CERTIFICATE_CHANGED.key, f"certificate/{new['id']}",
                event_data(new, on, changed_fields=changed, previous_timeline=row["timeline"]))
    return {**new, "change": "updated"}


def mark_left_unless(tx, settings, kept_ids, on, actor):
    """Holders still holding whose ids are not in `kept_ids` (a complete roster's rows) left the
    area on `on`; how many."""
    rows = tx.all(f"""SELECT {COLUMNS} FROM certificate_holders
                      WHERE status = 'holding' AND NOT (id = ANY(%s::uuid[]))
                      ORDER BY seq FOR UPDATE""", (list(kept_ids),))
    for row in rows:
        change(tx, settings, row, {"status": "left", "effective_date": on}, actor)
    return len(rows)


def get(tx, holder_id, for_update=False):
    return queries.get(tx, "certificate_holders", holder_id, _("certificate holder"),
                       columns=COLUMNS, for_update=for_update)


def search(tx, query):
    return queries.page(tx, "certificate_holders", query, queries.equal_filters(
        query, ("township_code", "level", "status", "employer_kind", "certificate_number")),
        columns=COLUMNS)


def present(row):
    """A holder as the API shows them: with the year of their first certificate."""
    return {**row, "first_passed_year": domain.first_passed_year(row["timeline"])}


def event_data(row, effective, **extra):
    return {"holder_id": str(row["id"]), "township_code": row["township_code"],
            "level": row["level"], "passed_year": row["passed_year"],
            "employer_kind": row["employer_kind"], "status": row["status"],
            "timeline": row["timeline"], "effective_date": effective.isoformat(), **extra}


def _find(tx, number, for_update=False):
    return tx.one(f"SELECT {COLUMNS} FROM certificate_holders WHERE certificate_number = %s"
                  + (" FOR UPDATE" if for_update else ""), (number,))


def _insert(tx, settings, body, actor, worker_id):
    """Insert a new holder and emit its event; None when the number is already on the roster."""
    rows = _insert_all(tx, [_new_row(settings, body, worker_id)], actor)
    return rows[0] if rows else None


def _new_row(settings, body, worker_id):
    """A new holder's values, checked (422 when not possible), and the day of their event."""
    township = body.get("township_code")
    check_townships(settings, township_code=township)
    timeline = domain.new_timeline(body["level"], body["passed_year"], township)
    on = body.get("effective_date")
    status = body.get("status") or "holding"
    if status == "left":
        refuse_if({"effective_date": [_("required for a holder who has left: the day they "
                                        "left")]} if on is None
                  else domain.holder_change_errors(timeline, on),
                  _("The date is not possible."))
        timeline = domain.with_place(timeline, on, township, "left")
    return ((uuid.uuid4(), body["certificate_number"], body["name"], body["level"],
             body["passed_year"], township, body.get("employer_kind"), status,
             timeline["places"][-1]["since"], Jsonb(timeline), worker_id), on or date.today())


def _insert_all(tx, new_rows, actor):
    """Insert new holders ([(values, day)]) in one statement and emit their events; those whose
    number is already on the roster are left out of the answer."""
    if not new_rows:
        return []
    columns = list(zip(*(values for values, _day in new_rows), strict=True))
    rows = tx.all(
        f"""INSERT INTO certificate_holders (id, certificate_number, name, level, passed_year,
                township_code, employer_kind, status, status_since, timeline, worker_id,
                recorded_by)
            SELECT id, number, name, level, year, town, employer, status, since, timeline,
                   worker, %s
            FROM unnest(%s::uuid[], %s::text[], %s::text[], %s::text[], %s::int[], %s::text[],
                        %s::text[], %s::text[], %s::date[], %s::jsonb[], %s::uuid[])
                 WITH ORDINALITY AS u(id, number, name, level, year, town, employer, status,
                                      since, timeline, worker, i)
            ORDER BY i
            ON CONFLICT (certificate_number) DO NOTHING RETURNING {COLUMNS}""",
        (actor, *map(list, columns)))
    day = {values[0]: on for values, on in new_rows}
    for row in rows:
        tx.emit(events.CERTIFICATE_RECORDED.key, f"certificate/{row['id']}",
                event_data(row, day[row["id"]]))
    return [{**row, "change": "recorded"} for row in rows]
