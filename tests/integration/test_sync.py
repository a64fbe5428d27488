"""POST /api/v1/sync on the gateway over the real services: a device's queued operations applied
in order, a batch sent twice changing nothing, conflicts and refusals per operation, and the
batch itself validated."""
import uuid

import pytest

from support.hub import client_body, wait_for
from test_unplanned_visits import OWN, days, visits_hub, visits_of


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
