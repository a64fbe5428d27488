"""Donations: money (fen) or goods received from a provider by a station, optionally earmarked.

A donation's `remaining` (fen, or units of goods) only ever changes through allocations and
their reversals (see allocations.py), which keep it between zero and the amount given.
"""
import uuid
from datetime import date

from contracts.events import resources as events
from hub.i18n import _
from resources import domain, providers, queries
from resources.validation import check_townships

COLUMNS = ("id, seq, provider_id, kind, amount, remaining, value_fen, item, unit, received_on, "
           "township_code, earmark_category, earmark_township_code, earmark_client_id, note, "
           "recorded_at")


def receive(tx, settings, body, actor):
    """Record a donation; the provider must exist."""
    earmark = body["earmark"] or {}
    check_townships(settings, township_code=body["township_code"],
                    **{"earmark.township_code": earmark.get("township_code")})
    provider = providers.get(tx, body["provider_id"], field="provider_id")
    received_on = body["received_on"] or date.today()
    money = body["kind"] == "money"
    amount = body["amount_fen"] if money else body["quantity"]
    value = body["amount_fen"] if money else body["value_fen"]
    row = tx.one(
        f"""INSERT INTO donations (id, provider_id, kind, amount, remaining, value_fen, item, unit,
                received_on, township_code, earmark_category, earmark_township_code,
                earmark_client_id, note, recorded_by)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
            RETURNING {COLUMNS}""",
        (uuid.uuid4(), provider["id"], body["kind"], amount, amount, value, body["item"],
         body["unit"], received_on, body["township_code"], earmark.get("category"),
         earmark.get("township_code"), earmark.get("client_id"), body["note"], actor))
    tx.emit(events.DONATION_RECEIVED.key, f"donation/{row['id']}", {
        "donation_id": str(row["id"]), "provider_id": str(provider["id"]),
        "provider_kind": provider["kind"], "five_society": provider["five_society"],
        "kind": row["kind"], "amount_fen": body["amount_fen"], "item": row["item"],
        "unit": row["unit"], "quantity": body["quantity"], "value_fen": row["value_fen"],
        "township_code": row["township_code"], "earmark_category": row["earmark_category"],
        "earmark_township_code": row["earmark_township_code"],
        "earmarked_for_client": row["earmark_client_id"] is not None,
        "effective_date": received_on.isoformat()})
    return row


def get(tx, donation_id, field=None):
    return queries.get(tx, "donations", donation_id, _("donation"), field=field, columns=COLUMNS)


# locked in id order, so two transactions locking some of the same donations never deadlock
LOCK_MANY = (f"SELECT {COLUMNS} FROM donations WHERE id = ANY(%s::uuid[]) "
             "ORDER BY id FOR NO KEY UPDATE")


def lock_many(tx, donation_ids):
    """A cursor for these donations' rows, locked against other changes of `remaining` until
    the transaction ends (fetched later, so it can share a pipeline)."""
    return tx.execute(LOCK_MANY, (list(donation_ids),))


def require(row, field):
    """The donation's row itself; 422 naming `field` when there is none."""
    return queries.require(row, _("donation"), field)


def search(tx, query):
    filters = queries.equal_filters(query, ("provider_id", "kind", "township_code"))
    if query.get("available") is not None:
        filters["(remaining > 0) = %s"] = [query["available"]]
    return queries.page(tx, "donations", query, filters, columns=COLUMNS)


def fitting(tx, client, kind):
    """Donations of `kind` with something left whose earmark does not exclude the client."""
    return tx.all(
        f"""SELECT {COLUMNS} FROM donations
            WHERE remaining > 0 AND kind = %(kind)s
              AND (earmark_client_id IS NULL OR earmark_client_id = %(client_id)s)
              AND (earmark_category IS NULL OR earmark_category = ANY(%(categories)s))
              AND (earmark_township_code IS NULL OR earmark_township_code = %(township_code)s)
            ORDER BY received_on, seq LIMIT 500""",
        {"kind": kind, "client_id": client["client_id"], "categories": list(client["categories"]),
         "township_code": client["township_code"]})


def earmark_of(row):
    return {"category": row["earmark_category"], "township_code": row["earmark_township_code"],
            "client_id": row["earmark_client_id"]}


def remaining_of(row):
    """(remaining fen, remaining quantity) of a donation row: money left or value of goods left."""
    if row["kind"] == "money":
        return row["remaining"], None
    return (domain.remaining_value(row["value_fen"], row["amount"], row["remaining"]),
            row["remaining"])


def present(row):
    money = row["kind"] == "money"
    remaining_fen, remaining_quantity = remaining_of(row)
    return {**row, "amount_fen": row["amount"] if money else None,
            "quantity": None if money else row["amount"], "earmark": earmark_of(row),
            "remaining_fen": remaining_fen, "remaining_quantity": remaining_quantity}
