"""Needs: what visits found a client lacks (needs.identified events) or a station recorded.

A need from a visit has the id visits gave it; its description stays in visits (events carry no
free text), so only needs a station records here have one.

A need is open until an allocation or a completed referral meets it; reversing the allocation
that met it opens it again. For an open need the donations that fit the client (earmarked for
them, their category or township, or received by their station) are suggested.
"""
import uuid
from datetime import date

from contracts.events import resources as events
from hub.errors import Conflict
from hub.i18n import _
from resources import client_view, domain, donations, queries
from resources.validation import refuse_if

COLUMNS = ("id, seq, client_id, visit_id, kind, description, township_code, source, status, "
           "opened_on, met_on, met_by_allocation_id, met_by_referral_id")
# a need from a visit keeps the id visits gave it (or one derived from the visit and its place)
VISIT_NEED_NAMESPACE = uuid.UUID("6f1d1c5e-93a4-4c39-8c43-1c3f0e0b7a21")


class ClientNotYetKnown(RuntimeError):
    """The client's registration has not reached this service yet; the event is retried."""


def open_from_visit(tx, event):
    """Turn a needs.identified event into open needs (one per item), once."""
    data = event["data"]
    client = client_view.known(tx, data["client_id"])
    if client is None:
        raise ClientNotYetKnown(f"client {data['client_id']} is not known here yet")
    on = _event_date(event)
    for i, item in enumerate(data["needs"]):
        need_id = item.get("need_id") or uuid.uuid5(VISIT_NEED_NAMESPACE, f"{data['visit_id']}/{i}")
        row = tx.one(
            f"""INSERT INTO needs (id, client_id, visit_id, kind, description, township_code,
                                   source, opened_on)
                VALUES (%s, %s, %s, %s, %s, %s, 'visit', %s)
                ON CONFLICT (id) DO NOTHING RETURNING {COLUMNS}""",
            (need_id, client["client_id"], data["visit_id"], item["kind"],
             item.get("description"), client["township_code"], on))
        if row is not None:
            _emit(tx, events.NEED_OPENED, row, client, on)


def create(tx, body, actor):
    """Record a need a station found outside a planned visit."""
    client = client_view.active(tx, body["client_id"])
    on = body["effective_date"] or date.today()
    row = tx.one(
        f"""INSERT INTO needs (id, client_id, kind, description, township_code, source, opened_on)
            VALUES (%s, %s, %s, %s, %s, 'station', %s) RETURNING {COLUMNS}""",
        (uuid.uuid4(), client["client_id"], body["kind"], body["description"],
         client["township_code"], on))
    _emit(tx, events.NEED_OPENED, row, client, on)
    return row


def open_need_of(tx, need_id, client, field="need_id"):
    """The open need `need_id` of this client; 422 naming `field` otherwise."""
    need = queries.get(tx, "needs", need_id, _("need"), field=field, columns=COLUMNS)
    refuse_if({field: [_("is a need of another client")]}
              if str(need["client_id"]) != str(client["client_id"]) else {},
              "The need belongs to another client.")
    if need["status"] != "open":
        raise Conflict(_("The need was already met."), fields={field: [_("already met")]})
    return need


def mark_met(tx, need, on, *, allocation_id=None, referral_id=None):
    row = tx.one(
        f"""UPDATE needs SET status = 'met', met_on = %s, met_by_allocation_id = %s,
                met_by_referral_id = %s
            WHERE id = %s AND status = 'open' RETURNING {COLUMNS}""",
        (on, allocation_id, referral_id, need["id"]))
    if row is None:
        raise Conflict(_("The need was met meanwhile by something else."),
                       fields={"need_id": [_("already met")]})
    client = client_view.known(tx, row["client_id"])
    _emit(tx, events.NEED_MET, row, client, on, allocation_id=allocation_id and str(allocation_id),
          referral_id=referral_id and str(referral_id), opened_on=row["opened_on"].isoformat())


def reopen_if_met_by(tx, need_id, allocation_id, on):
    row = tx.one(
        f"""UPDATE needs SET status = 'open', met_on = NULL, met_by_allocation_id = NULL
            WHERE id = %s AND met_by_allocation_id = %s RETURNING {COLUMNS}""",
        (need_id, allocation_id))
    if row is not None:
        _emit(tx, events.NEED_REOPENED, row, client_view.known(tx, row["client_id"]), on)


def get(tx, need_id):
    """A need, with the donations suggested for it while it is open."""
    need = queries.get(tx, "needs", need_id, _("need"), columns=COLUMNS)
    suggested = []
    kind = domain.donation_kind_for_need(need["kind"])
    client = client_view.known(tx, need["client_id"])
    if need["status"] == "open" and kind and client:
        suggested = [donations.present(d) for d in
                     domain.rank_suggestions(donations.fitting(tx, client, kind), client)]
    return {**need, "suggested_donations": suggested}


def search(tx, query):
    return queries.page(tx, "needs", query, queries.equal_filters(
        query, ("client_id", "status", "kind", "township_code")), columns=COLUMNS)


def _emit(tx, etype, row, client, on, **extra):
    tx.emit(etype.key, f"need/{row['id']}", {
        **client_view.snapshot(client), "need_id": str(row["id"]),
        "visit_id": row["visit_id"] and str(row["visit_id"]), "kind": row["kind"],
        "effective_date": on.isoformat(), **extra})


def _event_date(event):
    """The date the visit found the needs: the event's own date field, else when it was sent."""
    data = event["data"]
    for key in ("identified_on", "effective_date", "visited_on"):
        if data.get(key):
            return date.fromisoformat(str(data[key])[:10])
    return date.fromisoformat(event["time"][:10])
