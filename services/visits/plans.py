"""Visit plans: a plan per client with its next routine visit, following the client's life in intake.

`start` is set-based: the event handler calls it with one client, bulk loads with 10^5. A
plan is created once per client (its key is the client id), so a repeated registration,
whatever its event id, plans nothing twice.
"""
from visits import assignment, client_view, visit_rows
from visits.domain import OPEN_STATUSES

ACTOR = "visits"

# open visits as assignment.hand_over takes them (narrowed with `AND …` over `v`)
OPEN_VISITS = """SELECT v.id, v.due_on, v.worker_id, v.township_code, v.village_code
                 FROM visits v WHERE v.status = ANY(%(open)s)"""

ROUTINE_OPEN = """SELECT v.id, v.client_id, v.due_on, v.worker_id, v.township_code, v.village_code,
                         c.risk_level, c.categories, coalesce(p.last_visit_on, p.started_on) AS base
                  FROM visits v JOIN visit_plans p ON p.client_id = v.client_id
                                JOIN visit_clients c ON c.client_id = v.client_id
                  WHERE v.kind = 'routine' AND v.status = ANY(%(open)s) AND p.status = 'active'"""


def start(tx, policy, today, snapshots):
    """Apply the snapshots to the view, and give each client without a plan one, with its first
    visit due by the policy (an active client; a closed one gets a closed plan). Returns the
    ids of the visits planned."""
    newest = {}
    for snap in snapshots:             # a batch may hold several events of one client
        if snap.client_id not in newest or newest[snap.client_id].as_of <= snap.as_of:
            newest[snap.client_id] = snap
    snapshots = list(newest.values())
    # one statement: apply the snapshots to the view, then plan from the view as it now stands
    # (the rows just written, else the row already there, newer than its snapshot)
    rows = tx.all(
        f"""WITH s AS (SELECT * FROM {client_view.SNAPSHOTS}),
               applied AS ({client_view.APPLY.format(source="s")}
                   RETURNING client_id, township_code, village_code, categories, risk_level,
                             status),
               latest AS (
                   SELECT * FROM applied
                   UNION ALL
                   SELECT c.client_id, c.township_code, c.village_code, c.categories, c.risk_level,
                          c.status
                   FROM s JOIN visit_clients c ON c.client_id = s.id
                   WHERE NOT EXISTS (SELECT 1 FROM applied a WHERE a.client_id = s.id)),
               planned AS (
                   INSERT INTO visit_plans (client_id, status, started_on)
                   SELECT v.client_id,
                          CASE WHEN v.status = 'active' THEN 'active' ELSE 'closed' END, s.eff
                   FROM latest v JOIN s ON s.id = v.client_id
                   ON CONFLICT (client_id) DO NOTHING
                   RETURNING client_id, status, started_on)
           SELECT p.client_id, p.started_on, v.township_code, v.village_code, v.risk_level,
                  v.categories
           FROM planned p JOIN latest v ON v.client_id = p.client_id
           WHERE p.status = 'active'""",
        client_view.snapshot_params(snapshots))
    first = [(r, policy.first_due(r["risk_level"], r["categories"], r["started_on"])) for r in rows]
    return schedule(tx, policy, today, first, "registered")


def schedule(tx, policy, today, due_by_client, reason, preferred=None):
    """Create each client's next routine visit: `due_by_client` is [(client row, due date)]
    (a row has client_id, township_code, village_code); workers are assigned by load."""
    preferred = preferred or {}
    requests = [assignment.Request(r["client_id"], r["township_code"], [due],
                                   preferred.get(r["client_id"]))
                for r, due in due_by_client]
    chosen = assignment.assign(tx, requests)
    return visit_rows.insert(tx, policy, today, [
        visit_rows.NewVisit(r["client_id"], r["township_code"], r["village_code"],
                       chosen[r["client_id"]][1], chosen[r["client_id"]][0], reason)
        for r, _ in due_by_client], ACTOR)


def reschedule(tx, policy, today, changed_on, reason, client_ids=None, *, risk_changed=False):
    """Re-date open routine visits after a change of risk, categories (for `client_ids`) or of
    the policy (every active plan). A visit that moves keeps its worker if they have room that
    week. Returns the ids of the visits moved."""
    sql, params = ROUTINE_OPEN, {"open": list(OPEN_STATUSES)}
    if client_ids is not None:
        sql += " AND v.client_id = ANY(%(ids)s::uuid[])"
        params["ids"] = list(client_ids)
    moved = []
    for row in tx.all(sql, params):
        due = policy.rescheduled_due(row["risk_level"], row["categories"], row["base"],
                                     row["due_on"], changed_on, risk_changed=risk_changed)
        if due != row["due_on"]:
            moved.append((row, due))
    return redate(tx, policy, today, moved, reason)


def redate(tx, policy, today, moved, reason, preferred=None):
    """Move open visits to new due dates: `moved` is [(visit row, due date)] (a row has id,
    due_on, worker_id, township_code, village_code). Each goes to its `preferred` worker
    ({visit id: worker id}; default: the one it has) if they have room that week, else to one
    who has; a visit whose date and worker stay as they were is left alone. Returns the ids of
    the visits moved."""
    preferred = preferred or {}
    chosen = assignment.assign(tx, [
        assignment.Request(r["id"], r["township_code"], [due],
                           preferred.get(r["id"], r["worker_id"]), r["id"])
        for r, due in moved])
    return visit_rows.move(tx, policy, today, [
        {"id": r["id"], "due_on": due, "worker_id": chosen[r["id"]][0],
         "township_code": r["township_code"], "village_code": r["village_code"]}
        for r, due in moved if (due, chosen[r["id"]][0]) != (r["due_on"], r["worker_id"])],
        reason)


def next_due(policy, client, assessed, visited_on):
    """When a client's next routine visit falls due after a visit on `visited_on`: one interval
    of the risk the visit assessed (else the client's) after it."""
    risk = assessed["risk_level"] if assessed else client["risk_level"]
    return policy.next_due(risk, client["categories"], visited_on)


def plan_next(tx, policy, today, nexts):
    """Each client's next routine visit: `nexts` is [(client row, due date, worker id)] of
    distinct clients; the visit is given to that worker if they have room — the client's open
    one re-dated (a visit nobody planned leaves one open), else a new one."""
    if not nexts:
        return
    current = {str(r["client_id"]): r for r in tx.all(
        """SELECT * FROM visits WHERE client_id = ANY(%s::uuid[]) AND kind = 'routine'
           AND status = ANY(%s) ORDER BY client_id FOR UPDATE""",
        ([str(c["client_id"]) for c, _, _ in nexts], list(OPEN_STATUSES)))}
    moved = [(current[str(c["client_id"])], due, worker) for c, due, worker in nexts
             if str(c["client_id"]) in current]
    new = [(c, due, worker) for c, due, worker in nexts if str(c["client_id"]) not in current]
    redate(tx, policy, today, [(v, due) for v, due, _ in moved], "completed",
           preferred={v["id"]: worker for v, _, worker in moved})
    schedule(tx, policy, today, [(c, due) for c, due, _ in new], "completed",
             preferred={c["client_id"]: worker for c, _, worker in new})


def close(tx, client_id, closed_on):
    """The case closed: the plan stops and every open visit of the client is cancelled."""
    tx.execute("""UPDATE visit_plans SET status = 'closed', closed_on = %s, updated_at = now()
                  WHERE client_id = %s""", (closed_on, client_id))
    return visit_rows.cancel(tx, "v.client_id = %(client)s", {"client": client_id}, "client_closed",
                        closed_on)


def reopen(tx, policy, today, client_id, reopened_on):
    """The case reopened: the plan resumes with a visit due as for a new client."""
    tx.execute("""UPDATE visit_plans SET status = 'active', closed_on = NULL, updated_at = now()
                  WHERE client_id = %s""", (client_id,))
    client = client_view.get(tx, client_id)
    return schedule(tx, policy, today, [
        (client, policy.first_due(client["risk_level"], client["categories"], reopened_on))],
        "reopened")


def transfer(tx, policy, today, client_id):
    """The client moved: their open visits go to the new station (from the view) and its workers."""
    client = client_view.get(tx, client_id)
    visits = tx.all(f"{OPEN_VISITS} AND v.client_id = %(client)s",
                    {"client": client_id, "open": list(OPEN_STATUSES)})
    return assignment.hand_over(tx, policy, today, visits, "transferred",
                                moving_to=(client["township_code"], client["village_code"]))
