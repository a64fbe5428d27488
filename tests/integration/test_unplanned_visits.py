"""POST /api/v1/visits over the real broker and database: a visit nobody planned, recorded done,
its events, the client's plan re-dated as completing a visit would, device ids, and refusals."""
import secrets
import uuid
from datetime import date, datetime, timedelta

import pytest

from support.hub import client_body, running_hub, test_settings, wait_for

TODAY = date.today()
OWN, OTHER = "341721100", "341721101"


def visits_hub(tag):
    """intake, visits and the gateway on a hub of their own (also test_sync.py's)."""
    own = test_settings(prefix=f"{tag}{secrets.token_hex(3)}", HUB_SERVICES="intake,visits")
    return running_hub(own, ["intake", "visits", "gateway"])


@pytest.fixture(scope="module")
def uhub():
    with visits_hub("unpl") as hub:
        yield hub


@pytest.fixture(scope="module")
def api(uhub):
    return uhub.client()


def days(n):
    return (TODAY + timedelta(days=n)).isoformat()


def at(n, hour=10):
    return f"{days(n)}T{hour:02d}:00:00"


def visits_of(api, client_id):
    resp = api.get("/visits", params={"client_id": client_id})
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def open_visits(api, client_id):
    return [v for v in visits_of(api, client_id) if v["status"] in ("scheduled", "due", "overdue")]


def planned_client(api, **kwargs):
    """A registered client visits knows, with its first visit planned: (client, open visit)."""
    kwargs.setdefault("effective_date", days(-30))
    resp = api.post("/clients", json=client_body(**kwargs))
    assert resp.status_code == 201, resp.text
    client = resp.json()
    visit = wait_for(lambda: open_visits(api, client["id"]), timeout=20)[0]
    return client, visit


def worker_of(api, township=OWN, other_than=None):
    resp = api.get("/visits/workers", params={"township_code": township})
    assert resp.status_code == 200, resp.text
    return next(w["id"] for w in resp.json()["items"] if w["id"] != other_than)


def outbox(uhub, event_type, visit_id):
    with uhub.db("visits") as conn:
        rows = conn.execute("SELECT event FROM hub_outbox WHERE type = %s ORDER BY position",
                            (event_type,)).fetchall()
    return [r[0]["data"] for r in rows if r[0]["data"].get("visit_id") == visit_id]


def test_an_unplanned_visit_is_recorded_done_and_redates_the_planned_one(api, uhub):
    client, planned = planned_client(api, age=75, categories=["solitary_elderly"],
                                     risk_level="medium", effective_date=days(-20))
    assert planned["due_on"] == days(10)
    visitor = worker_of(api, other_than=planned["worker_id"])
    resp = api.post("/visits", json={
        "client_id": client["id"], "visited_at": at(-2), "mode": "home", "worker_id": visitor,
        "needs": [{"kind": "goods", "description": "冬衣"}],
        "risk_assessment": {"risk_level": "high", "risk_flags": ["lives_alone"]}})
    assert resp.status_code == 201, resp.text
    done = resp.json()
    assert (done["status"], done["kind"], done["scheduled_reason"]) == ("done", "routine",
                                                                        "unplanned")
    assert done["visited_on"] == days(-2) == done["due_on"] and done["delay_days"] == 0
    assert done["completed_by"] == visitor == done["worker_id"]
    assert done["township_code"] == OWN and done["client_id"] == client["id"]
    # the same events as completing a planned visit
    completed = outbox(uhub, "visit.completed.v1", done["id"])
    assert len(completed) == 1 and completed[0]["needs_count"] == 1
    assert outbox(uhub, "needs.identified.v1", done["id"])
    assert outbox(uhub, "visit.risk_assessed.v1", done["id"])[0]["risk_level"] == "high"
    # the planned visit is the client's next one, one interval (high: 14 days) after this visit,
    # given to the visitor, as completing it would have planned it
    [nxt] = open_visits(api, client["id"])
    assert nxt["id"] == planned["id"] and nxt["due_on"] == days(-2 + 14)
    assert nxt["scheduled_reason"] == "completed" and nxt["worker_id"] == visitor
    assert outbox(uhub, "visit.scheduled.v1", planned["id"])[-1]["due_on"] == days(12)


def test_the_same_device_id_answers_the_first_visit(api, uhub):
    client, _ = planned_client(api, age=70)
    body = {"id": str(uuid.uuid4()), "client_id": client["id"], "visited_at": at(-1),
            "mode": "phone", "worker_id": worker_of(api)}
    first = api.post("/visits", json=body)
    assert first.status_code == 201, first.text
    assert first.json()["id"] == body["id"]
    again = api.post("/visits", json=body)
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    assert [v["id"] for v in visits_of(api, client["id"]) if v["status"] == "done"] == [body["id"]]
    assert len(outbox(uhub, "visit.completed.v1", body["id"])) == 1
    other, _ = planned_client(api, age=71)
    taken = api.post("/visits", json={**body, "client_id": other["id"]})
    assert taken.status_code == 409 and "id" in taken.json()["error"]["fields"]
    assert not [v for v in visits_of(api, other["id"]) if v["status"] == "done"]


def test_a_visit_older_than_the_last_one_leaves_the_plan_alone(api):
    client, planned = planned_client(api, age=72, effective_date=days(-30))
    worker = worker_of(api)
    resp = api.post(f"/visits/{planned['id']}/complete", json={"visited_at": at(-3),
                                                                "mode": "home"})
    assert resp.status_code == 200, resp.text
    [nxt] = open_visits(api, client["id"])
    late = api.post("/visits", json={"client_id": client["id"], "visited_at": at(-10),
                                     "mode": "home", "worker_id": worker})
    assert late.status_code == 201, late.text
    [still] = open_visits(api, client["id"])
    assert (still["id"], still["due_on"]) == (nxt["id"], nxt["due_on"])


def test_a_station_worker_records_visits_of_their_own_township_only(api, uhub):
    own, _ = planned_client(api, age=69)
    other, _ = planned_client(api, age=69, village="341721101201")
    worker = uhub.client("station_worker", township=OWN)
    body = {"visited_at": at(0, hour=0), "mode": "home", "worker_id": worker_of(api)}
    refused = worker.post("/visits", json={**body, "client_id": other["id"]})
    assert refused.status_code == 404      # another township's record, as if it did not exist
    assert not [v for v in visits_of(api, other["id"]) if v["status"] == "done"]
    accepted = worker.post("/visits", json={**body, "client_id": own["id"]})
    assert accepted.status_code == 201, accepted.text
    viewer = uhub.client("province_viewer")
    assert viewer.post("/visits", json={**body, "client_id": own["id"]}).status_code == 403


def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(api, uhub):
    client, _ = planned_client(api, age=67)
    closed, _ = planned_client(api, age=67)
    assert api.post(f"/clients/{closed['id']}/close", json={"reason": "moved"}).status_code == 200
    wait_for(lambda: not open_visits(api, closed["id"]), timeout=20)
    good = {"client_id": client["id"], "visited_at": at(-1), "mode": "home",
            "worker_id": worker_of(api)}
    future = (datetime.now() + timedelta(days=2)).isoformat(timespec="seconds")
    cases = [
        ({**good, "client_id": str(uuid.uuid4())}, 422, "client_id"),
        ({**good, "client_id": closed["id"]}, 409, "client_id"),
        ({**good, "client_id": "nobody"}, 422, "client_id"),
        ({k: v for k, v in good.items() if k != "client_id"}, 422, "client_id"),
        ({**good, "visited_at": future}, 422, "visited_at"),
        ({**good, "visited_at": at(-400)}, 422, "visited_at"),
        ({**good, "mode": "teleport"}, 422, "mode"),
        ({k: v for k, v in good.items() if k != "worker_id"}, 422, "worker_id"),
        ({**good, "worker_id": str(uuid.uuid4())}, 422, "worker_id"),
        ({**good, "id": "not-a-uuid"}, 422, "id"),
        ({**good, "needs": [{"kind": "spaceship", "description": "x"}]}, 422, "needs"),
    ]
    for body, status, name in cases:
        resp = api.post("/visits", json=body)
        assert resp.status_code == status, (body, resp.text)
        assert name in resp.json()["error"]["fields"], (body, resp.text)
    assert not [v for v in visits_of(api, client["id"]) + visits_of(api, closed["id"])
                if v["status"] == "done"]
