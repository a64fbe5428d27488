"""Social workers: station, certificate (level and year), weekly visit capacity, active or left.

A worker's certificate given with its number is also recorded on the roster of certificate
holders (certificates.py), the one source of the certified count: so the worker counts once.
"""
import uuid
from datetime import date

from contracts.events import resources as events
from hub.errors import Conflict
from hub.i18n import _
from resources import certificates, domain, queries
from resources.validation import check_townships, refuse_if

COLUMNS = ("id, seq, name, staff_code, township_code, certificate_level, certified_year, "
           "certificate_number, weekly_capacity, status, joined_on, left_on, recorded_at")


def register(tx, settings, body, actor):
    """Register a worker; 409 when the staff code is already used."""
    check_townships(settings, township_code=body["township_code"])
    joined = body["effective_date"] or date.today()
    refuse_if(domain.certificate_errors(body["certificate_level"], body["certified_year"], joined)
              or ({"certificate_number": [_("only with a certificate_level")]}
                  if body["certificate_number"] and not body["certificate_level"] else {}),
              _("The certificate is not possible."))
    row = tx.one(
        f"""INSERT INTO workers (id, name, staff_code, township_code, certificate_level,
                                 certified_year, certificate_number, weekly_capacity, joined_on)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
            ON CONFLICT (staff_code) DO NOTHING RETURNING {COLUMNS}""",
        (uuid.uuid4(), body["name"], body["staff_code"], body["township_code"],
         body["certificate_level"], body["certified_year"], body["certificate_number"],
         body["weekly_capacity"], joined))
    if row is None:
        existing = tx.one("SELECT id FROM workers WHERE staff_code = %s", (body["staff_code"],))
        raise Conflict(_("A worker with this staff code is already registered."),
                       fields={"staff_code": [_("already registered")]},
                       existing_worker_id=str(existing["id"]))
    if row["certificate_level"]:
        _record_certificate(tx, settings, row, joined, actor)
    tx.emit(events.WORKER_REGISTERED.key, f"worker/{row['id']}", event_data(row, joined))
    return row


def certify(tx, settings, worker_id, body, actor):
    """Record a (higher) certificate the worker obtained."""
    worker = _active(tx, worker_id)
    on = body["effective_date"] or date.today()
    refuse_if(domain.certificate_errors(body["certificate_level"], body["certified_year"], on),
              _("The certificate is not possible."))
    step = domain.certification_step_error(worker["certificate_level"], body["certificate_level"])
    if step:
        raise Conflict(step, fields={"certificate_level": [step]})
    row = tx.one(f"""UPDATE workers SET certificate_level = %s, certified_year = %s,
                            certificate_number = coalesce(%s, certificate_number)
                     WHERE id = %s RETURNING {COLUMNS}""",
                 (body["certificate_level"], body["certified_year"], body["certificate_number"],
                  worker["id"]))
    _record_certificate(tx, settings, row, on, actor)
    tx.emit(events.WORKER_CERTIFIED.key, f"worker/{row['id']}",
            event_data(row, on, previous_level=worker["certificate_level"]))
    return row


def leave(tx, worker_id, body, actor):
    worker = _active(tx, worker_id)
    on = body["effective_date"] or date.today()
    refuse_if(domain.not_before(on, worker["joined_on"], "effective_date",
                                _("the worker joined")), _("The date is not possible."))
    row = tx.one(f"""UPDATE workers SET status = 'left', left_on = %s, left_reason = %s
                     WHERE id = %s RETURNING {COLUMNS}""", (on, body["reason"], worker["id"]))
    tx.emit(events.WORKER_LEFT.key, f"worker/{row['id']}", event_data(row, on))
    return row


def get(tx, worker_id, for_update=False):
    return queries.get(tx, "workers", worker_id, _("worker"), columns=COLUMNS,
                       for_update=for_update)


def search(tx, query):
    return queries.page(tx, "workers", query, queries.equal_filters(
        query, ("township_code", "certificate_level", "status")), columns=COLUMNS)


def event_data(row, effective, **extra):
    return {"worker_id": str(row["id"]), "township_code": row["township_code"],
            "certificate_level": row["certificate_level"], "certified_year": row["certified_year"],
            "weekly_capacity": row["weekly_capacity"], "status": row["status"],
            "effective_date": effective.isoformat(), **extra}


def _active(tx, worker_id):
    worker = get(tx, worker_id, for_update=True)
    if worker["status"] != "active":
        raise Conflict(_("The worker has left."), fields={"status": [_("left")]})
    return worker


def _record_certificate(tx, settings, row, on, actor):
    """The worker's certificate in their history, and on the roster when its number is known."""
    tx.execute("""INSERT INTO worker_certificates (worker_id, level, certified_year,
                                                   effective_date, recorded_by)
                  VALUES (%s, %s, %s, %s, %s)""",
               (row["id"], row["certificate_level"], row["certified_year"], on, actor))
    if row["certificate_number"]:
        certificates.link_worker(tx, settings, row, on, actor)
