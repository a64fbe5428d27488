"""Referrals to partner institutions: referred -> accepted -> completed, or declined on the way.

Each step has its date (the effective date, never before the step before it). A completed
referral meets the need it was made for.
"""
import uuid
from datetime import date

from contracts.events import resources as events
from hub.errors import Conflict
from hub.i18n import _
from resources import client_view, domain, needs, providers, queries
from resources.validation import refuse_if

COLUMNS = ("id, seq, client_id, provider_id, need_id, kind, status, township_code, referred_on, "
           "accepted_on, completed_on, declined_on, decline_reason, note, recorded_at")


def create(tx, body, actor):
    client = client_view.active(tx, body["client_id"])
    provider = providers.get(tx, body["provider_id"], field="provider_id")
    need = needs.open_need_of(tx, body["need_id"], client) if body["need_id"] else None
    on = body["effective_date"] or date.today()
    row = tx.one(
        f"""INSERT INTO referrals (id, client_id, provider_id, need_id, kind, township_code,
                                   referred_on, note, recorded_by)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}""",
        (uuid.uuid4(), client["client_id"], provider["id"], need and need["id"], body["kind"],
         client["township_code"], on, body["note"], actor))
    tx.emit(events.REFERRAL_CREATED.key, f"referral/{row['id']}", event_data(row, client, on))
    return row


def change_status(tx, referral_id, body, actor):
    """Move a referral one step on; 409 when that step is not allowed from where it is."""
    referral = queries.get(tx, "referrals", referral_id, _("referral"), columns=COLUMNS,
                           for_update=True)
    wanted = body["status"]
    problem = domain.referral_step_error(referral["status"], wanted)
    if problem:
        raise Conflict(problem, fields={"status": [problem]})
    on = body["effective_date"] or date.today()
    refuse_if(domain.not_before(on, domain.latest_referral_date(referral), "effective_date",
                                _("the referral's previous step")),
              _("The date is not possible."))
    column = domain.REFERRAL_DATE_COLUMN[wanted]
    row = tx.one(f"""UPDATE referrals SET status = %s, {column} = %s,
                         decline_reason = COALESCE(%s, decline_reason)
                     WHERE id = %s RETURNING {COLUMNS}""",
                 (wanted, on, body["reason"] if wanted == "declined" else None, referral["id"]))
    client = client_view.known(tx, row["client_id"])
    tx.emit(events.REFERRAL_STATUS_CHANGED.key, f"referral/{row['id']}",
            event_data(row, client, on, previous_status=referral["status"]))
    if wanted == "completed" and row["need_id"]:
        need = queries.get(tx, "needs", row["need_id"], _("need"))
        if need["status"] == "open":
            needs.mark_met(tx, need, on, referral_id=row["id"])
    return row


def get(tx, referral_id):
    return queries.get(tx, "referrals", referral_id, _("referral"), columns=COLUMNS)


def search(tx, query):
    return queries.page(tx, "referrals", query, queries.equal_filters(
        query, ("client_id", "provider_id", "status", "kind")), columns=COLUMNS)


def event_data(row, client, effective, **extra):
    return {**client_view.snapshot(client), "referral_id": str(row["id"]),
            "provider_id": str(row["provider_id"]),
            "need_id": row["need_id"] and str(row["need_id"]), "kind": row["kind"],
            "status": row["status"], "effective_date": effective.isoformat(), **extra}
