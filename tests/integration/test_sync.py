"""POST /api/v1/sync on the gateway over the real services: a device's queued operations applied
in order, a batch sent twice changing nothing, conflicts and refusals per operation, and the
batch itself validated."""
import uuid

import pytest
import requests
from test_unplanned_visits import OWN, days, visits_hub, visits_of

from gateway import sync as sync_module
from hub import call_groups
from support.hub import client_body, wait_for


@pytest.fixture(scope="module")
def shub():
    with visits_hub("sync") as hub:
        yield hub


@pytest.fixture(scope="module")
def api(shub):
    return shub.client()


def open_visit(api, client_id):
    return wait_for(lambda: [v for v in visits_of(api, client_id)
                             if v["status"] in ("scheduled", "due", "overdue")], timeout=20)[0]


def planned_client(api):
    resp = api.post("/clients", json=client_body(effective_date=days(-30)))
    assert resp.status_code == 201, resp.text
    client = resp.json()
    return client, open_visit(api, client["id"])


def worker(api):
    return api.get("/visits/workers", params={"township_code": OWN}).json()["items"][0]["id"]


def op(kind, data, op_id=None):
    return {"op_id": op_id or str(uuid.uuid4()), "kind": kind, "data": data}


def sync(api, operations, device="tablet-1"):
    return api.post("/sync", json={"device_id": device, "operations": operations})


def statuses(resp):
    assert resp.status_code == 200, resp.text
    return [r["status"] for r in resp.json()["results"]]


def count(shub, service, sql):
    with shub.db(service) as conn:
        return conn.execute(sql).fetchone()[0]


def test_a_batch_is_applied_in_order_and_sending_it_again_changes_nothing(api, shub):
    known, planned = planned_client(api)
    other, to_miss = planned_client(api)
    new_id, record_id = str(uuid.uuid4()), str(uuid.uuid4())
    who = worker(api)
    batch = [
        op("client.register", {**client_body(effective_date=days(-3)), "id": new_id}),
        # visits hears of the new client through its event: the sync waits for it
        op("visit.record", {"id": record_id, "client_id": new_id, "visited_at": days(-1) + "T09:00:00",
                            "mode": "home", "worker_id": who}),
        op("visit.complete", {"visit_id": planned["id"], "visited_at": days(-2) + "T10:00:00",
                              "mode": "phone"}),
        op("visit.miss", {"visit_id": to_miss["id"], "reason": "not_home"}),
    ]
    first = sync(api, batch)
    assert statuses(first) == ["applied"] * 4
    assert [r["id"] for r in first.json()["results"]] == [new_id, record_id, planned["id"],
                                                          to_miss["id"]]
    assert [r["op_id"] for r in first.json()["results"]] == [o["op_id"] for o in batch]
    assert api.get(f"/visits/{record_id}").json()["status"] == "done"
    assert api.get(f"/visits/{planned['id']}").json()["status"] == "done"
    assert api.get(f"/visits/{to_miss['id']}").json()["status"] == "missed"
    before = (count(shub, "intake", "SELECT count(*) FROM clients"),
              count(shub, "visits", "SELECT count(*) FROM visits"),
              count(shub, "visits", "SELECT count(*) FROM hub_outbox"))
    again = sync(api, batch)
    assert statuses(again) == ["already_applied"] * 4
    assert [r["id"] for r in again.json()["results"]] == [r["id"] for r in first.json()["results"]]
    assert before == (count(shub, "intake", "SELECT count(*) FROM clients"),
                      count(shub, "visits", "SELECT count(*) FROM visits"),
                      count(shub, "visits", "SELECT count(*) FROM hub_outbox"))


def test_conflicts_and_refusals_are_per_operation(api, shub):
    client, planned = planned_client(api)
    done = api.post(f"/visits/{planned['id']}/complete",
                    json={"visited_at": days(-1) + "T08:00:00", "mode": "home"})
    assert done.status_code == 200, done.text
    body = client_body(effective_date=days(-5))
    assert api.post("/clients", json=body).status_code == 201
    fresh = {**client_body(), "id": str(uuid.uuid4())}
    results = sync(api, [
        op("client.register", {**body, "id": str(uuid.uuid4())}),      # ID number known
        op("visit.complete", {"visit_id": planned["id"], "visited_at": days(0) + "T00:00:00",
                              "mode": "home"}),                       # closed meanwhile
        op("visit.record", {"client_id": client["id"], "visited_at": days(-1) + "T08:00:00",
                            "mode": "teleport", "worker_id": worker(api)}),
        op("visit.miss", {"reason": "not_home"}),                     # names no visit
        op("client.register", fresh),                                  # still applied
    ]).json()["results"]
    assert [r["status"] for r in results] == ["conflict", "conflict", "rejected", "rejected",
                                              "applied"]
    existing = api.get("/clients", params={"limit": 200}).json()["items"]
    assert results[0]["existing_client_id"] in {c["id"] for c in existing}
    assert "id_number" in results[0]["error"]["fields"]
    assert "status" in results[1]["error"]["fields"]
    assert "mode" in results[2]["error"]["fields"] and results[2]["id"] is None
    assert "visit_id" in results[3]["error"]["fields"]
    assert results[4]["id"] == fresh["id"]
    assert api.get(f"/clients/{fresh['id']}").status_code == 200
    # an op_id used again for another operation of the same service is the device's mistake
    # (each service keeps its own Idempotency-Keys: across services it cannot be told)
    recorded = sync(api, [op("visit.record", {"client_id": client["id"], "mode": "home",
                                              "visited_at": days(0) + "T00:00:00",
                                              "worker_id": worker(api)})]).json()["results"][0]
    assert recorded["status"] == "applied", recorded
    again = sync(api, [op("visit.miss", {"visit_id": recorded["id"], "reason": "not_home"},
                          op_id=recorded["op_id"])]).json()["results"][0]
    assert again["status"] == "rejected" and "op_id" in again["error"]["fields"]


def test_a_station_worker_syncs_their_own_township_only(api, shub):
    elsewhere = api.post("/clients", json=client_body(village="341721101201",
                                                      effective_date=days(-9))).json()
    open_visit(api, elsewhere["id"])
    station = shub.client("station_worker", township=OWN)
    result = sync(station, [op("visit.record", {
        "client_id": elsewhere["id"], "visited_at": days(-1) + "T08:00:00", "mode": "home",
        "worker_id": worker(api)})]).json()["results"][0]
    assert result["status"] == "rejected" and result["error"]["code"] == "not_found"
    assert not [v for v in visits_of(api, elsewhere["id"]) if v["status"] == "done"]
    anonymous = shub.client()
    anonymous.headers.pop("Authorization")
    assert sync(anonymous, [op("client.register", client_body())]).status_code == 401


def test_a_device_sending_its_registration_again_gets_the_same_client(api):
    body = {**client_body(), "id": str(uuid.uuid4())}
    first = api.post("/clients", json=body)
    assert first.status_code == 201 and first.json()["id"] == body["id"]
    again = api.post("/clients", json=body)
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    taken = api.post("/clients", json={**client_body(), "id": body["id"]})
    assert taken.status_code == 409 and "id" in taken.json()["error"]["fields"]


@pytest.mark.parametrize("batch, field", [
    ({"operations": [op("client.register", {})]}, "device_id"),
    ({"device_id": "tablet 1", "operations": [op("client.register", {})]}, "device_id"),
    ({"device_id": "t"}, "operations"),
    ({"device_id": "t", "operations": []}, "operations"),
    ({"device_id": "t", "operations": [op("client.delete", {})]}, "operations"),
    ({"device_id": "t", "operations": [{"kind": "client.register", "data": {}}]}, "operations"),
    ({"device_id": "t", "operations": [op("client.register", "x")]}, "operations"),
    ({"device_id": "t", "operations": [op("visit.miss", {"visit_id": str(uuid.uuid4()),
                                                         "reason": "x"})] * 501}, "operations"),
])
def test_a_bad_batch_is_a_422_naming_the_field_and_applies_nothing(api, shub, batch, field):
    before = count(shub, "intake", "SELECT count(*) FROM clients")
    resp = api.post("/sync", json=batch)
    assert resp.status_code == 422, resp.text
    assert field in resp.json()["error"]["fields"]
    assert count(shub, "intake", "SELECT count(*) FROM clients") == before


# -- the operations of one service go to it together (hub/call_groups.py) ------------------------

def register_op(**extra):
    return op("client.register", {**client_body(effective_date=days(-3)), "id": str(uuid.uuid4()),
                                  **extra})


def record_op(client_id, who, **extra):
    return op("visit.record", {"id": str(uuid.uuid4()), "client_id": client_id, "mode": "home",
                               "visited_at": days(-1) + "T09:00:00", "worker_id": who, **extra})


def test_visits_of_clients_registered_in_between_wait_for_them_in_order(api, shub):
    who = worker(api)
    a, b = register_op(), register_op()
    visit_a, visit_b = (record_op(a["data"]["id"], who), record_op(b["data"]["id"], who))
    # the registrations go to intake before the visits, which wait for visits to hear of them
    results = sync(api, [a, visit_a, b, visit_b]).json()["results"]
    assert [r["status"] for r in results] == ["applied"] * 4, results
    assert [r["id"] for r in results] == [a["data"]["id"], visit_a["data"]["id"],
                                          b["data"]["id"], visit_b["data"]["id"]]
    for visit in (visit_a, visit_b):
        assert api.get(f"/visits/{visit['data']['id']}").json()["status"] == "done"


def test_a_visit_before_its_clients_registration_is_not_moved_after_it(api, shub):
    later = register_op()
    early = record_op(later["data"]["id"], worker(api))
    results = sync(api, [early, later]).json()["results"]
    assert [r["status"] for r in results] == ["rejected", "applied"], results
    assert "client_id" in results[0]["error"]["fields"]
    assert api.get(f"/visits/{early['data']['id']}").status_code == 404


def test_one_refused_visit_operation_undoes_nothing_of_the_others_in_its_group(api, shub):
    first, planned = planned_client(api)
    second, to_miss = planned_client(api)
    closed, done = planned_client(api)
    assert api.post(f"/visits/{done['id']}/complete", json={
        "visited_at": days(-1) + "T08:00:00", "mode": "home"}).status_code == 200
    who = worker(api)
    before = count(shub, "visits", "SELECT count(*) FROM hub_outbox")
    batch = [record_op(first["id"], who),
             op("visit.complete", {"visit_id": done["id"], "visited_at": days(-1) + "T09:00:00",
                                   "mode": "home"}),                        # closed already
             record_op(second["id"], who, id=done["id"]),                   # names another visit
             op("visit.miss", {"visit_id": to_miss["id"], "reason": "not_home"}),
             op("visit.complete", {"visit_id": to_miss["id"], "mode": "home",
                                   "visited_at": days(-1) + "T10:00:00"})]  # missed just before
    results = sync(api, batch).json()["results"]
    assert [r["status"] for r in results] == ["applied", "conflict", "conflict", "applied",
                                              "conflict"], results
    assert api.get(f"/visits/{batch[0]['data']['id']}").json()["status"] == "done"
    assert api.get(f"/visits/{to_miss['id']}").json()["status"] == "missed"
    assert api.get(f"/visits/{done['id']}").json()["client_id"] == closed["id"]
    assert count(shub, "visits", "SELECT count(*) FROM hub_outbox") > before
    assert statuses(sync(api, batch)) == ["already_applied", "conflict", "conflict",
                                          "already_applied", "conflict"]


def test_unplanned_visits_decided_together_are_each_as_if_recorded_alone(api, shub):
    """The visits service decides a group's unplanned visits together (unplanned.record_all):
    two of one client follow each other, a refused one writes nothing, a visit of a client
    registered in the batch stops the group until visits hears of it, and each visit is
    recorded and announced exactly once."""
    who = worker(api)
    (twice, planned), (other, _) = planned_client(api), planned_client(api)
    new = register_op()
    # (the sync sends visits the first three in one group, then the registration, then the
    # last two, which stop at the first until visits has heard of the new client)
    batch = [record_op(twice["id"], who, visited_at=days(-4) + "T09:00:00"),
             record_op(other["id"], str(uuid.uuid4())),                   # no such worker
             record_op(twice["id"], who, risk_assessment={"risk_level": "high",
                                                          "risk_flags": ["lives_alone"]}),
             new, record_op(new["data"]["id"], who), record_op(other["id"], who)]
    results = sync(api, batch).json()["results"]
    assert [r["status"] for r in results] == ["applied", "rejected", "applied", "applied",
                                              "applied", "applied"], results
    assert "worker_id" in results[1]["error"]["fields"]
    recorded = [batch[i]["data"]["id"] for i in (0, 2, 4, 5)]
    with shub.db("visits") as conn:
        events = conn.execute("""SELECT subject, type FROM hub_outbox
                                 WHERE subject = ANY(%s) ORDER BY position""",
                              ([f"visit/{v}" for v in recorded + [batch[1]["data"]["id"]]],)
                              ).fetchall()
    completed = [s for s, t in events if t == "visit.completed.v1"]
    assert sorted(completed) == sorted(f"visit/{v}" for v in recorded)      # once each
    assert ("visit/" + recorded[1], "visit.risk_assessed.v1") in events
    # the plan follows the later visit (high risk: 14 days after it), as recorded one by one
    [nxt] = [v for v in api.get("/visits", params={"client_id": twice["id"]}).json()["items"]
             if v["status"] in ("scheduled", "due", "overdue")]
    assert nxt["id"] == planned["id"] and nxt["due_on"] == days(-1 + 14)
    assert api.get(f"/visits/{batch[1]['data']['id']}").status_code == 404
    assert statuses(sync(api, batch)) == ["already_applied", "rejected", "already_applied",
                                          "already_applied", "already_applied", "already_applied"]


def test_the_single_calls_and_the_sync_agree_on_idempotency_keys(api, shub):
    registration = register_op()
    applied = sync(api, [registration], device="tablet-9").json()["results"][0]
    assert applied["status"] == "applied"
    key = f"sync:tablet-9:{registration['op_id']}"
    again = api.post("/clients", json=registration["data"], headers={"Idempotency-Key": key})
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == applied["id"]
    _, planned = planned_client(api)
    miss = op("visit.miss", {"visit_id": planned["id"], "reason": "not_home"})
    first = api.post(f"/visits/{planned['id']}/missed", json={"reason": "not_home"},
                     headers={"Idempotency-Key": f"sync:tablet-9:{miss['op_id']}"})
    assert first.status_code == 200, first.text
    result = sync(api, [miss], device="tablet-9").json()["results"][0]
    assert result["status"] == "already_applied" and result["id"] == planned["id"]


def test_a_station_worker_of_another_township_closes_no_visit_of_this_one(api, shub):
    _, planned = planned_client(api)
    other = shub.client("station_worker", township="341721101")
    refusals = ("SELECT count(*) FROM hub_audit WHERE action = 'access.out_of_scope'")
    before = count(shub, "visits", refusals)
    results = sync(other, [
        op("visit.complete", {"visit_id": planned["id"], "visited_at": days(-1) + "T08:00:00",
                              "mode": "home"}),
        op("visit.miss", {"visit_id": planned["id"], "reason": "not_home"})]).json()["results"]
    assert [(r["status"], r["error"]["code"]) for r in results] == [("rejected", "not_found")] * 2
    assert api.get(f"/visits/{planned['id']}").json()["status"] == planned["status"]
    assert count(shub, "visits", refusals) == before + 2      # audited as the single calls are


def test_the_group_route_is_the_hubs_own_and_takes_the_callers_token(api, shub):
    paths = api.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if "internal" in p or "calls" in p]
    assert requests.post(shub.settings.service_url("gateway") + call_groups.URL,
                         json={"calls": []}).status_code == 404
    visits_url = shub.settings.service_url("visits") + call_groups.URL
    assert requests.post(visits_url, json={"calls": []}).status_code == 401
    auditor = {"Authorization": f"Bearer {shub.token('auditor')}"}     # not a sync role
    assert requests.post(visits_url, headers=auditor, json={"calls": [
        {"path": "/api/v1/visits", "body": {}, "idempotency_key": "k0"}]}).status_code == 403
    token = {"Authorization": f"Bearer {shub.token()}"}
    answers = requests.post(visits_url, headers=token, json={"calls": [
        {"path": "/api/v1/visits/overdue-sweep", "body": {}, "idempotency_key": "k1"},
        {"path": call_groups.URL, "body": {"calls": []}, "idempotency_key": "k2"},
        {"path": "/api/v1/clients", "body": {}, "idempotency_key": "k3"},
    ]}).json()["answers"]
    assert [a["status"] for a in answers] == [404, 404, 404]
    station = {"Authorization": f"Bearer {shub.token('station_worker', township=OWN)}"}
    refused = requests.post(visits_url, headers=station, json={"calls": [
        {"path": "/api/v1/visit-policy", "body": {}, "idempotency_key": "k4"}]})
    assert refused.json()["answers"][0]["status"] in (403, 404, 405)


def test_operations_of_two_services_keep_their_order_where_they_name_one_record():
    ops = [record_op("c1", "w"), register_op(id="c2"), record_op("c2", "w"),
           register_op(id="c3"), register_op(id="c1")]
    # registrations c3 and c1 go before visit c2, registration c1 stays after visit c1
    # (waves of groups: the groups of a wave go at the same time)
    assert sync_module.schedule(ops, range(len(ops))) == [
        [("visits", [0])], [("clients", [1, 3, 4])], [("visits", [2])]]
    assert sync_module.schedule(ops, [1, 2, 3]) == [[("clients", [1, 3])], [("visits", [2])]]
    interleaved = [o for n in range(3)
                   for o in (register_op(id=f"n{n}"), record_op(f"k{n}", "w"))]
    assert sync_module.schedule(interleaved, range(6)) == [[("clients", [0, 2, 4]),
                                                           ("visits", [1, 3, 5])]]
