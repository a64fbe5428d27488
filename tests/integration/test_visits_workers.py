"""Visits takes its workers from resources' worker.* events: a county without a roster file gets
its visits assigned once resources registers the stations' social workers."""
import os
import uuid
from contextlib import ExitStack
from unittest import mock

import pytest

from support.hub import client_body, running_hub, test_settings, wait_for

TOWNSHIP = "341721100"          # the station of the test clients' village 341721100001


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """intake, visits, resources and the gateway; visits' roster file lists nobody."""
    roster = tmp_path_factory.mktemp("roster") / "empty.yaml"
    roster.write_text('county: "341721"\nworkers: []\n')
    settings = test_settings(prefix=f"vw{uuid.uuid4().hex[:6]}")
    with ExitStack() as stack:
        with mock.patch.dict(os.environ, {"VISITS_ROSTER_FILE": str(roster)}):  # read at start
            running = stack.enter_context(
                running_hub(settings, ["intake", "visits", "resources", "gateway"]))
        yield running


def open_visit_of(api, client_id):
    items = api.get("/visits", params={"client_id": client_id}).json()["items"]
    open_ = [v for v in items if v["status"] in ("scheduled", "due", "overdue")]
    return open_[0] if open_ else None


def worker_of(api, client_id):
    visit = open_visit_of(api, client_id)
    return visit and visit["worker_id"]


def join(api, capacity=5):
    resp = api.post("/workers", json={"name": "社工", "township_code": TOWNSHIP,
                                      "weekly_capacity": capacity})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def test_workers_from_resources_take_and_hand_over_the_stations_visits(hub):
    api = hub.client()
    client = api.post("/clients", json=client_body()).json()["id"]
    wait_for(lambda: open_visit_of(api, client) is not None, timeout=20)
    assert worker_of(api, client) is None                       # nobody at the station yet

    first = join(api)
    wait_for(lambda: worker_of(api, client) == first, timeout=20)
    second = join(api)
    wait_for(lambda: any(w["id"] == second for w in
                         api.get("/visits/workers").json()["items"]), timeout=20)

    resp = api.post(f"/workers/{first}/leave", json={"reason": "moved"})
    assert resp.status_code == 200, resp.text
    wait_for(lambda: worker_of(api, client) == second, timeout=20)
    roster = {w["id"]: w for w in api.get("/visits/workers",
                                          params={"township_code": TOWNSHIP}).json()["items"]}
    assert roster[first]["status"] == "left" and roster[first]["open_visits"] == 0
    assert roster[second]["status"] == "active" and roster[second]["source"] == "resources"
    assert roster[second]["open_visits"] == 1

    # the last one leaves: the visit waits, unassigned, for the next to join
    assert api.post(f"/workers/{second}/leave", json={"reason": "moved"}).status_code == 200
    wait_for(lambda: worker_of(api, client) is None, timeout=20)


def test_a_worker_without_capacity_takes_no_visits(hub):
    api = hub.client()
    idle = join(api, capacity=0)
    wait_for(lambda: any(w["id"] == idle for w in
                         api.get("/visits/workers").json()["items"]), timeout=20)
    client = api.post("/clients", json=client_body()).json()["id"]
    wait_for(lambda: open_visit_of(api, client) is not None, timeout=20)
    assert worker_of(api, client) is None
