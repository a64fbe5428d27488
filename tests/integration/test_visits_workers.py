"""Visits takes its workers from resources' worker.* events: a county without a roster file gets
its visits assigned once resources registers the stations' social workers; and `hub events
resend` brings visits the worker events published before it took them."""
import os
import time
import uuid
from contextlib import ExitStack
from datetime import date, timedelta
from unittest import mock

import kombu
import pytest
from click.testing import CliRunner

from hub import topology
from support.hub import client_body, running_hub, test_settings, wait_for
from tooling.cli import main
from visits.workers import PATTERN as workers_pattern

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


def test_workers_published_before_visits_took_them_are_resent_by_the_operator(hub):
    """An upgrade made visits take worker.*: `hub events resend` brings it the ones published
    before; a second resend changes nothing (its inbox has them)."""
    api = hub.client()
    elsewhere = "341721101"                      # the station of village 341721101201
    client = api.post("/clients", json=client_body(village="341721101201")).json()["id"]
    wait_for(lambda: open_visit_of(api, client) is not None, timeout=20)
    queue = kombu.Queue(hub.settings.queue_name("visits"), no_declare=True)
    with kombu.Connection(hub.settings.amqp_uri) as conn:      # as before the upgrade
        queue(conn.default_channel).unbind_from(topology.exchange(hub.settings),
                                                routing_key=workers_pattern)
        resp = api.post("/workers", json={"name": "社工", "township_code": elsewhere,
                                          "weekly_capacity": 5})
        assert resp.status_code == 201, resp.text
        joined = resp.json()["id"]
        with hub.db("resources") as db:              # published, and not to visits
            wait_for(lambda: db.execute("SELECT count(*) FROM hub_outbox WHERE published_seq "
                                        "IS NOT NULL AND subject = %s", (f"worker/{joined}",)
                                        ).fetchone()[0] == 1, timeout=20)
        topology.declare(hub.settings, conn.default_channel)       # `hub setup` after upgrading
    time.sleep(1)
    assert worker_of(api, client) is None

    env = {"HUB_DB_PREFIX": hub.settings.db_prefix, "HUB_AMQP_URI": hub.settings.amqp_uri,
           "HUB_SERVICES": ",".join(hub.settings.data_services())}
    since = (date.today() - timedelta(days=1)).isoformat()
    result = CliRunner().invoke(main, ["events", "resend", "visits", "--events", "worker.#",
                                       "--since", since, "--quiet"], env=env)
    assert result.exit_code == 0, result.output
    sent = int(result.output.split()[1])
    assert sent >= 1 and f"into {hub.settings.queue_name('visits')}" in result.output
    wait_for(lambda: worker_of(api, client) == joined, timeout=20)

    again = CliRunner().invoke(main, ["events", "resend", "visits", "--events", "worker.#",
                                      "--since", since, "--quiet"], env=env)
    assert again.exit_code == 0 and f"resent {sent} event(s)" in again.output
    time.sleep(1)
    assert worker_of(api, client) == joined
    assert len([w for w in api.get("/visits/workers").json()["items"] if w["id"] == joined]) == 1

    for args, says in ((["visits", "--events", "donation.#", "--since", since],
                        "visits takes none of these events"),
                       (["ledger", "--events", "worker.#", "--since", since],
                        "not a service of this hub"),
                       (["visits", "--events", "worker.#"], "either --since or --after-event")):
        refused = CliRunner().invoke(main, ["events", "resend", *args], env=env)
        assert refused.exit_code != 0 and says in refused.output, refused.output
