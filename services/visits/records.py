"""Use cases on visits: find and list them, record one as done or missed, give it to another worker.

Completing a routine visit plans the next one from the policy (with the risk the visit
assessed, if any); a risk assessment that differs from the client's risk is published as
visit.risk_assessed for intake, which owns the client's risk, to record.
"""
import uuid
from datetime import date

from psycopg.types.json import Jsonb

from contracts.events import visits as events
from hub.errors import Conflict, NotFound, ValidationFailed
from hub.i18n import _
from hub.pagination import keyset_page
from visits import assignment, client_view, metrics, outbox, plans, visit_rows
from visits.domain import ESCALATION_LEVELS, OPEN_STATUSES


def get(tx, visit_id, *, for_update=False):
    try:
        uuid.UUID(str(visit_id))
    except ValueError:
        raise NotFound(_("No such visit."))
    row = tx.one("SELECT * FROM visits WHERE id = %s" + (" FOR UPDATE" if for_update else ""),
                 (visit_id,))
    if row is None:
        raise NotFound(_("No such visit."))
    return row


def present(row, today=None):
    shown = {k: v for k, v in row.items() if k not in ("seq", "escalation_level")}
    shown["escalation"] = ESCALATION_LEVELS[row["escalation_level"]]
    late = ((today or date.today()) - row["due_on"]).days
    shown["days_late"] = max(late, 0) if row["status"] in OPEN_STATUSES else 0
    return shown


FILTERS = {
    "status": "status = %(status)s", "kind": "kind = %(kind)s",
    "township_code": "township_code = %(township_code)s",
    "village_code": "village_code = %(village_code)s", "worker_id": "worker_id = %(worker_id)s",
    "client_id": "client_id = %(client_id)s", "round_id": "round_id = %(round_id)s",
    "due_from": "due_on >= %(due_from)s", "due_to": "due_on <= %(due_to)s",
}


def search(tx, query):
    where = [sql for name, sql in FILTERS.items() if query.get(name) is not None]
    params = {name: query[name] for name in FILTERS if query.get(name) is not None}
    if query.get("escalation"):
        where.append("status = 'overdue' AND escalation_level = %(level)s")
        params["level"] = ESCALATION_LEVELS.index(query["escalation"])
    if query.get("unassigned") is not None:
        where.append("worker_id IS NULL" if query["unassigned"] else "worker_id IS NOT NULL")
        if query["unassigned"]:
            where.append("status = ANY(%(open)s)")
            params["open"] = list(OPEN_STATUSES)
    return keyset_page(tx, "SELECT * FROM visits", where, params, query)


def summary(tx, township_code=None):
    """Open visits per township: due, overdue by escalation level, unassigned."""
    rows = tx.all("""SELECT township_code,
                            count(*) FILTER (WHERE status = 'scheduled') AS scheduled,
                            count(*) FILTER (WHERE status = 'due') AS due,
                            count(*) FILTER (WHERE status = 'overdue') AS overdue,
                            count(*) FILTER (WHERE status = 'overdue' AND escalation_level = 1)
                                AS escalated_to_township,
                            count(*) FILTER (WHERE status = 'overdue' AND escalation_level = 2)
                                AS escalated_to_county,
                            count(*) FILTER (WHERE worker_id IS NULL) AS unassigned
                     FROM visits WHERE status = ANY(%(open)s)
                       AND (%(town)s::text IS NULL OR township_code = %(town)s)
                     GROUP BY township_code ORDER BY township_code""",
                  {"open": list(OPEN_STATUSES), "town": township_code})
    return {"items": rows}


def _open_visit(tx, visit_id, principal):
    # the client's view row is locked first, as the event handler does: one order, no deadlock
    client_view.find(tx, get(tx, visit_id)["client_id"], for_update=True)
    visit = get(tx, visit_id, for_update=True)
    if visit["status"] not in OPEN_STATUSES:
        raise Conflict(_("The visit is {status}, not open.", status=visit["status"]),
                       fields={"status": [_("is {status}", status=visit["status"])]})
    return visit


def active_worker(tx, worker_id, field="worker_id"):
    return check_active(tx.one("SELECT * FROM workers WHERE id = %s", (worker_id,)), worker_id,
                        field)


def check_active(worker, worker_id, field="worker_id"):
    """The worker's row when they are active, else 422 naming `field`."""
    if worker is None or worker["status"] != "active":
        raise ValidationFailed(_("No such active worker."), fields={
            field: [_("{worker_id} is not an active worker of this county", worker_id=worker_id)]})
    return worker


def _plan(tx, client_id):
    return tx.one("SELECT * FROM visit_plans WHERE client_id = %s FOR UPDATE", (client_id,))


def complete(tx, policy, today, visit_id, body, principal):
    visit = _open_visit(tx, visit_id, principal)
    client = client_view.get(tx, visit["client_id"])
    plan = _plan(tx, visit["client_id"])
    check_visit_date(plan, body)
    worker_id = body["worker_id"] or visit["worker_id"]
    if worker_id is None:
        raise ValidationFailed(_("Say who visited: the visit has no assigned worker."),
                               fields={"worker_id": [
                                   _("required: the visit has no assigned worker")]})
    active_worker(tx, worker_id)
    if visit["kind"] == "verification" and body["verification"] is None:
        raise ValidationFailed(
            _("A verification visit records whether the details were correct."),
            fields={"verification": [_("required for a verification visit")]})
    finish(tx, policy, today, visit, client, plan, body, worker_id, principal)
    return get(tx, visit_id)


def check_visit_date(plan, body):
    """A visit is not dated before the client's plan started (422 naming visited_at)."""
    if body["visited_at"].date() < plan["started_on"]:
        raise ValidationFailed(_("The visit is dated before the client's plan started."), fields={
            "visited_at": [_("is before {date}, when the plan started", date=plan["started_on"])]})


def finish(tx, policy, today, visit, client, plan, body, worker_id, principal, *, replan=True):
    """Write the visit as done with what `body` recorded, emit visit.completed (and
    needs.identified, visit.risk_assessed when they apply) and, for a routine visit of an active
    plan, plan the client's next visit one interval after this one (`plans.plan_next`)."""
    visited_on = body["visited_at"].date()
    needs = [{"need_id": str(uuid.uuid4()), **n} for n in body["needs"]]
    assessed = body["risk_assessment"]
    delay = (visited_on - visit["due_on"]).days
    tx.execute("""UPDATE visits SET status = 'done', visited_at = %s, visited_on = %s, mode = %s,
                      completed_by = %s, notes = %s, verification = %s, needs = %s,
                      risk_assessment = %s, delay_days = %s, recorded_by = %s, updated_at = now()
                  WHERE id = %s""",
               (body["visited_at"], visited_on, body["mode"], worker_id, body["notes"],
                _json(body["verification"]), Jsonb(needs), _json(assessed), delay,
                principal.subject, visit["id"]))
    outbox.emit_for(tx, "v.id = %(id)s", {"id": visit["id"]},
                    *completion_events(needs, assessed, client))
    if visit["kind"] == "routine":
        tx.execute("""UPDATE visit_plans SET last_visit_on = greatest(last_visit_on, %s),
                      updated_at = now() WHERE client_id = %s""", (visited_on, visit["client_id"]))
        if replan and plan["status"] == "active":
            plans.plan_next(tx, policy, today, [
                (client, plans.next_due(policy, client, assessed, visited_on), worker_id)])
    metrics.COMPLETION_DELAY.labels(visit["kind"]).observe(max(delay, 0))


def completion_events(needs, assessed, client):
    """What completing a visit emits: visit.completed, then needs.identified when it found
    needs and visit.risk_assessed when its assessment differs from the client's risk."""
    emitted = [events.COMPLETED.key] + ([events.NEEDS_IDENTIFIED.key] if needs else [])
    if assessed and ((assessed["risk_level"], sorted(assessed["risk_flags"]))
                     != (client["risk_level"], sorted(client["risk_flags"]))):
        emitted.append(events.RISK_ASSESSED.key)
    return emitted


def missed(tx, policy, today, visit_id, body, principal):
    visit = _open_visit(tx, visit_id, principal)
    missed_on = body["effective_date"] or today
    tx.execute("""UPDATE visits SET status = 'missed', missed_on = %s, missed_reason = %s,
                      missed_note = %s, recorded_by = %s, updated_at = now() WHERE id = %s""",
               (missed_on, body["reason"], body["note"], principal.subject, visit["id"]))
    outbox.emit_for(tx, "v.id = %(id)s", {"id": visit["id"]}, events.MISSED.key)
    plan = _plan(tx, visit["client_id"])
    if visit["kind"] == "routine" and plan["status"] == "active":
        client = client_view.get(tx, visit["client_id"])
        due = policy.retry_due(client["risk_level"], client["categories"], missed_on)
        plans.schedule(tx, policy, today, [(client, due)], "missed",
                       preferred={client["client_id"]: visit["worker_id"]})
    return get(tx, visit_id)


def reassign(tx, policy, today, visit_id, body, principal):
    visit = _open_visit(tx, visit_id, principal)
    worker = active_worker(tx, body["worker_id"])
    if worker["township_code"] != visit["township_code"]:
        raise ValidationFailed(_("The worker belongs to another station."), fields={"worker_id": [
            _("works at station {station}; the visit is at {visit_station}",
              station=worker["township_code"], visit_station=visit["township_code"])]})
    if worker["id"] == visit["worker_id"]:
        return visit
    loads = assignment.load_stations(tx, {visit["township_code"]}, visit["due_on"],
                                     visit["due_on"], [visit["id"]])
    if not loads.has_room(worker["id"], visit["due_on"]):
        raise Conflict(_("The worker has no room that week."), fields={"worker_id": [
            _("already has {capacity} visits (their weekly capacity) in the week of {week}",
              capacity=worker["weekly_capacity"], week=visit["due_on"])]})
    visit_rows.move(tx, policy, today, [{"id": visit["id"], "due_on": visit["due_on"],
                                    "worker_id": worker["id"],
                                    "township_code": visit["township_code"],
                                    "village_code": visit["village_code"]}], "reassigned")
    tx.execute("UPDATE visits SET reassigned_on = %s WHERE id = %s",
               (body["effective_date"] or today, visit["id"]))
    return get(tx, visit_id)


def _json(value):
    return Jsonb(value) if value is not None else None
