"""Allocations: giving part of a donation to a client, and reversing a mistaken one.

A donation is never overdrawn, also when many stations allocate from it at once: the asks are
decided under the donation row's lock (`SELECT … FOR NO KEY UPDATE`, several taken in id
order, so two transactions never deadlock over them), against the latest committed
`remaining`, and what they take is written before the lock is let go. Concurrent asks that
reach one process together are decided in one transaction (the route's group commit,
hub/group_commit.py): one lock, one INSERT, one UPDATE per donation and one commit for
all of them, each ask decided in arrival order exactly as it would have been alone — one that
no longer fits is refused, naming what is left at its turn. Allocations are never deleted: a
reversal gives the amount back and records why.
"""
import json
import uuid
from datetime import date

from psycopg.types.json import Jsonb

from contracts.events import resources as events
from hub.errors import Conflict, HubError
from hub.i18n import _
from resources import client_view, domain, donations, needs, queries
from resources.validation import refuse_if

COLUMNS = ("id, seq, donation_id, client_id, need_id, kind, amount, value_fen, allocated_on, "
           "township_code, categories, age_group, age_band, status, reversed_on, "
           "reversal_reason, note, recorded_at")
# allocations with what is left of their donation
VIEW = ("(SELECT a.*, d.amount AS donation_amount, d.remaining AS donation_remaining, "
        "d.value_fen AS donation_value_fen, d.item, d.provider_id "
        "FROM allocations a JOIN donations d ON d.id = a.donation_id) AS allocation_view")

# What the granted asks take: one UPDATE per donation, whatever the number of asks (the CHECK on
# `remaining` is the database's own guard; the rows are locked, so nothing else moved them).
TAKE = """UPDATE donations d SET remaining = d.remaining - t.taken
          FROM unnest(%s::uuid[], %s::bigint[]) AS t(id, taken) WHERE d.id = t.id
          RETURNING d.id, d.remaining"""
RECORDED = ("id, donation_id, client_id, need_id, kind, amount, value_fen, allocated_on, "
            "township_code, categories, age_group, age_band, note, recorded_by")
RECORDED_COLUMNS = RECORDED.split(", ")
# The granted allocations, all in one statement (a JSON array of rows, in the order decided).
RECORD = f"""
    INSERT INTO allocations ({RECORDED})
    SELECT {RECORDED} FROM jsonb_to_recordset(%s) AS r(
        n int, id uuid, donation_id uuid, client_id uuid, need_id uuid, kind text, amount bigint,
        value_fen bigint, allocated_on date, township_code text, categories text[],
        age_group text, age_band text, note text, recorded_by text)
    ORDER BY n
    RETURNING {COLUMNS}"""


def allocate_all(tx, asks):
    """Give `amount_fen` (money) or `quantity` (goods) of a donation to an active client, for
    each ask [(body, actor)] in the order given, as if each ran alone after the one before; one
    outcome per ask: its allocation's row, or the HubError it is refused with.

    Reads, locks and writes are set-based (a round trip each for all the asks); only an ask that
    meets a need reads and changes that need on its own. An error raised from here (not returned)
    concerns them all: the caller undoes the transaction.
    """
    with tx.conn.pipeline():                  # lock the donations and read the clients at once
        locked = donations.lock_many(tx, {str(body["donation_id"]) for body, _ in asks})
        known = client_view.find_many(tx, {str(body["client_id"]) for body, _ in asks})
    donation_rows = {str(d["id"]): d for d in locked.fetchall()}
    client_rows = {str(c["client_id"]): c for c in known.fetchall()}
    left = {d_id: d["remaining"] for d_id, d in donation_rows.items()}
    outcomes, granted = [], []
    for body, actor in asks:
        try:
            row, need = _decide(tx, body, actor, donation_rows.get(str(body["donation_id"])),
                                client_rows.get(str(body["client_id"])), left)
        except HubError as refused:
            outcomes.append(refused)
            continue
        outcomes.append(row)
        granted.append(row)
        tx.emit(events.ALLOCATION_MADE.key, f"allocation/{row['id']}",
                event_data(row, row["allocated_on"]))
        if need:                              # met now, so a later ask for it finds it met
            needs.mark_met(tx, need, row["allocated_on"], allocation_id=row["id"])
    if granted:
        _record(tx, granted, left)
    return outcomes


def _decide(tx, body, actor, donation, client, left):
    """(the allocation this ask makes, the open need it meets or None), given what is `left`
    of each donation at its turn (and taken from it); raises the HubError it is refused with,
    having taken nothing."""
    donation = donations.require(donation, field="donation_id")
    client = client_view.require_active(client)
    field = "amount_fen" if donation["kind"] == "money" else "quantity"
    refuse_if({field: [_("required for a {kind} donation", kind=donation["kind"])]}
              if body[field] is None else {},
              _("A {kind} donation is allocated by {field}.", kind=donation["kind"], field=field))
    allocated_on = body["allocated_on"] or date.today()
    refuse_if(domain.allocation_date_errors(allocated_on, donation["received_on"]),
              _("The allocation date is not possible."))
    mismatch = domain.earmark_conflicts(donations.earmark_of(donation), client)
    if mismatch:
        raise Conflict(_("The donation is earmarked for someone else."), fields=mismatch)
    need = needs.open_need_of(tx, body["need_id"], client) if body["need_id"] else None
    key, amount = str(donation["id"]), body[field]
    if amount > left[key]:
        raise Conflict(_("Only {remaining} is left of this donation.", remaining=left[key]),
                       fields={field: [_("more than the {remaining} left", remaining=left[key])]},
                       remaining=left[key])
    left[key] -= amount
    money = donation["kind"] == "money"
    return {
        "id": uuid.uuid4(), "donation_id": donation["id"], "client_id": client["client_id"],
        "need_id": need and need["id"], "kind": donation["kind"], "amount": amount,
        "value_fen": amount if money else domain.goods_value(
            donation["value_fen"], donation["amount"], left[key], amount),
        "allocated_on": allocated_on, "township_code": client["township_code"],
        "categories": client["categories"], "age_group": client["age_group"],
        "age_band": client["age_band"], "note": body["note"], "recorded_by": actor,
        "donation_remaining": left[key], "donation_amount": donation["amount"],
        "donation_value_fen": donation["value_fen"], "item": donation["item"],
        "provider_id": donation["provider_id"]}, need


def _record(tx, granted, left):
    """Write the granted allocations, what they took and the events raised so far (the donations
    stay locked one round trip less); their rows get what the database adds."""
    taken = {}
    for row in granted:
        taken[str(row["donation_id"])] = taken.get(str(row["donation_id"]), 0) + row["amount"]
    rows = [{"n": n, **{c: row[c] for c in RECORDED_COLUMNS}} for n, row in enumerate(granted)]
    with tx.conn.pipeline():                  # one round trip, the outbox rows included
        now = tx.execute(TAKE, (list(taken), list(taken.values())))
        recorded = tx.execute(RECORD, (Jsonb(rows, dumps=_json),))
        tx.flush_events()
    if {str(d["id"]): d["remaining"] for d in now.fetchall()} != {d: left[d] for d in taken}:
        raise RuntimeError("a donation's remaining moved while it was locked")
    written = {r["id"]: r for r in recorded.fetchall()}
    for row in granted:
        row.update(written[row["id"]])


def _json(value):
    return json.dumps(value, default=str)


def reverse(tx, allocation_id, body, actor):
    """Reverse an active allocation: its amount goes back to the donation; nothing is deleted."""
    alloc = queries.get(tx, "allocations", allocation_id, _("allocation"), for_update=True)
    if alloc["status"] != "active":
        raise Conflict(_("The allocation was already reversed."),
                       fields={"status": [_("reversed")]})
    on = body["effective_date"] or date.today()
    refuse_if(domain.not_before(on, alloc["allocated_on"], "effective_date",
                                _("the allocation was made")),
              _("The reversal date is not possible."))
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
    return queries.get(tx, VIEW, allocation_id, _("allocation"))


def search(tx, query):
    return queries.page(tx, VIEW, query,
                      queries.equal_filters(query, ("donation_id", "client_id", "status")))


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
