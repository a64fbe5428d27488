"""RabbitMQ stops while registrations go on: the API keeps accepting writes, the outbox holds
the events, and once the broker is back every event reaches the consumer exactly once."""
import shutil
import subprocess
import uuid

import pytest
import requests

from support.hub import client_body, running_hub, test_settings, wait_for
from support.installed import installed

pytestmark = pytest.mark.skipif(shutil.which("rabbitmqctl") is None,
                                reason="needs rabbitmqctl to stop and start the local broker")


def rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@pytest.fixture
def outage_hub():
    settings = test_settings(prefix=f"out{uuid.uuid4().hex[:6]}")
    with installed("probe"), running_hub(settings, ["intake", "probe"]) as hub:
        yield hub


def backlog(hub):
    text = requests.get(hub.settings.service_url("intake") + "/metrics").text
    line = next(l for l in text.splitlines() if l.startswith('hub_outbox_backlog{service="intake"}'))
    return float(line.split()[-1])


def test_broker_restart_loses_nothing_and_duplicates_nothing(outage_hub):
    hub = outage_hub
    api = hub.client(service="intake")
    before = [api.post("/clients", json=client_body()).json()["id"] for _ in range(20)]
    rabbitmqctl("stop_app")
    try:
        during = []
        for _ in range(40):
            resp = api.post("/clients", json=client_body())
            assert resp.status_code == 201, resp.text      # writes go on without the broker
            during.append(resp.json()["id"])
        assert wait_for(lambda: backlog(hub) > 0, timeout=10)
    finally:
        rabbitmqctl("start_app")
        rabbitmqctl("await_startup")
    after = [api.post("/clients", json=client_body()).json()["id"] for _ in range(20)]
    expected = {f"client/{cid}" for cid in before + during + after}

    def delivered():
        with hub.db("probe") as conn:
            return [r[0] for r in conn.execute("SELECT subject FROM probe_received")]
    wait_for(lambda: expected <= set(delivered()), timeout=90, interval=0.5)
    got = delivered()
    assert sorted(got) == sorted(expected)                  # each exactly once, none lost
    assert wait_for(lambda: backlog(hub) == 0, timeout=10)
    with hub.db("intake") as conn:
        written, published, numbered = conn.execute(
            "SELECT count(*), count(published_seq), max(published_seq) FROM hub_outbox").fetchone()
    assert written == published == numbered == 80
