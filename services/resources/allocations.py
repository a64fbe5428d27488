"""Allocations: giving part of a donation to a client, and reversing a mistaken one.

A donation is never overdrawn, also when many stations allocate from it at once: the amount is
taken with one conditional UPDATE (`... WHERE remaining >= amount`), which PostgreSQL evaluates
under the row's lock against the latest committed remaining, so concurrent allocations queue on
the row and the ones that no longer fit find nothing to update (and record nothing).
Allocations are never deleted: a reversal gives the amount back and records why.
"""
import uuid
from datetime import date

from hub.errors import Conflict
from resources import clients, domain, donations, events, needs, store
from resources.validation import refuse_if

COLUMNS = ("id, seq, donation_id, client_id, need_id, kind, amount, value_fen, allocated_on, "
           "township_code, categories, age_group, age_band, status, reversed_on, "
           "reversal_reason, note, recorded_at")
# allocations with what is left of their donation
VIEW = ("(SELECT a.*, d.amount AS donation_amount, d.remaining AS donation_remaining, "
        "d.value_fen AS donation_value_fen, d.item, d.provider_id "
        "FROM allocations a JOIN donations d ON d.id = a.donation_id) AS allocation_view")

# Take the amount and record the allocation in one statement (one round trip while the
# donation's row is locked). A goods allocation's value is cut as domain.goods_value does:
# value(q) = V*(T - r_after) / T - V*(T - r_after - q) / T, integer division, so they add up.
TAKE_AND_RECORD = f"""
    WITH taken AS (
        UPDATE donations SET remaining = remaining - %(amount)s
        WHERE id = %(donation_id)s AND remaining >= %(amount)s
        RETURNING remaining, amount, value_fen)
    INSERT INTO allocations (id, donation_id, client_id, need_id, kind, amount, value_fen,
        allocated_on, township_code, categories, age_group, age_band, note, recorded_by)
    SELECT %(id)s, %(donation_id)s, %(client_id)s, %(need_id)s, %(kind)s, %(amount)s,
        CASE WHEN %(kind)s = 'money' THEN %(amount)s
             ELSE taken.value_fen * (taken.amount - taken.remaining) / taken.amount
                  - taken.value_fen * (taken.amount - taken.remaining - %(amount)s) / taken.amount
        END,
        %(allocated_on)s, %(township_code)s, %(categories)s, %(age_group)s, %(age_band)s,
        %(note)s, %(actor)s
    FROM taken
    RETURNING {COLUMNS}, (SELECT remaining FROM taken) AS donation_remaining"""


def allocate(tx, body, actor):
    """Give `amount_fen` (money) or `quantity` (goods) of a donation to an active client."""
    with tx.conn.pipeline():                  # both reads in one round trip
        donation = donations.find(tx, body["donation_id"])
        client = clients.find(tx, body["client_id"])
    donation = donations.require(donation, field="donation_id")
    client = clients.require_active(client)
    field = "amount_fen" if donation["kind"] == "money" else "quantity"
    refuse_if({field: [f"required for a {donation['kind']} donation"]} if body[field] is None
              else {}, f"A {donation['kind']} donation is allocated by {field}.")
    allocated_on = body["allocated_on"] or date.today()
    refuse_if(domain.allocation_date_errors(allocated_on, donation["received_on"]),
              "The allocation date is not possible.")
    mismatch = domain.earmark_conflicts(donations.earmark_of(donation), client)
    if mismatch:
        raise Conflict("The donation is earmarked for someone else.", fields=mismatch)
    need = needs.open_need_of(tx, body["need_id"], client) if body["need_id"] else None

    row = tx.one(TAKE_AND_RECORD, {
        "id": uuid.uuid4(), "donation_id": donation["id"], "client_id": client["client_id"],
        "need_id": need and need["id"], "kind": donation["kind"], "amount": body[field],
        "allocated_on": allocated_on, "township_code": client["township_code"],
        "categories": client["categories"], "age_group": client["age_group"],
        "age_band": client["age_band"], "note": body["note"], "actor": actor})
    if row is None:
        now = tx.one("SELECT remaining FROM donations WHERE id = %s", (donation["id"],))
        raise Conflict(f"Only {now['remaining']} is left of this donation.",
                       fields={field: [f"more than the {now['remaining']} left"]},
                       remaining=now["remaining"])
    row = {**row, "donation_amount": donation["amount"],
           "donation_value_fen": donation["value_fen"], "item": donation["item"],
           "provider_id": donation["provider_id"]}
    tx.emit(events.ALLOCATION_MADE.key, f"allocation/{row['id']}", event_data(row, allocated_on))
    if need:
        needs.mark_met(tx, need, allocated_on, allocation_id=row["id"])
    return row


def reverse(tx, allocation_id, body, actor):
    """Reverse an active allocation: its amount goes back to the donation; nothing is deleted."""
    alloc = store.get(tx, "allocations", allocation_id, "allocation", for_update=True)
    if alloc["status"] != "active":
        raise Conflict("The allocation was already reversed.", fields={"status": ["reversed"]})
    on = body["effective_date"] or date.today()
    refuse_if(domain.not_before(on, alloc["allocated_on"], "effective_date",
                                "the allocation was made"), "The reversal date is not possible.")
    tx.execute("UPDATE donations SET remaining = remaining + %s WHERE id = %s",
               (alloc["amount"], alloc["donation_id"]))
    tx.execute("""UPDATE allocations SET status = 'reversed', reversed_on = %s,
                  reversal_reason = %s, reversal_note = %s WHERE id = %s""",
               (on, body["reason"], body["note"], alloc["id"]))
    row = get(tx, alloc["id"])
    tx.emit(events.ALLOCATION_REVERSED.key, f"allocation/{row['id']}",
            event_data(row, on, reason=body["reason"]))
    if row["need_id"]:
        needs.reopen_if_met_by(tx, row["need_id"], row["id"], on)
    return row


def get(tx, allocation_id):
    return store.get(tx, VIEW, allocation_id, "allocation")


def search(tx, query):
    return store.page(tx, VIEW, query,
                      store.equal_filters(query, ("donation_id", "client_id", "status")))


def event_data(row, effective, **extra):
    money = row["kind"] == "money"
    return {
        "allocation_id": str(row["id"]), "donation_id": str(row["donation_id"]),
        "provider_id": str(row["provider_id"]), "client_id": str(row["client_id"]),
        "need_id": row["need_id"] and str(row["need_id"]), "kind": row["kind"],
        "amount_fen": row["amount"] if money else None, "item": row["item"],
        "quantity": None if money else row["amount"], "value_fen": row["value_fen"],
        "township_code": row["township_code"], "categories": list(row["categories"]),
        "age_group": row["age_group"], "age_band": row["age_band"],
        "allocated_on": row["allocated_on"].isoformat(), "effective_date": effective.isoformat(),
        **extra}


def present(row):
    money = row["kind"] == "money"
    remaining_fen, remaining_quantity = donations.remaining_of(
        {"kind": row["kind"], "value_fen": row["donation_value_fen"],
         "amount": row["donation_amount"], "remaining": row["donation_remaining"]})
    return {**row, "amount_fen": row["amount"] if money else None,
            "quantity": None if money else row["amount"],
            "donation_remaining_fen": remaining_fen,
            "donation_remaining_quantity": remaining_quantity}
