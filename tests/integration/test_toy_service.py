"""A service the hub was not written for (tests/services/toy) joins it with no chassis change.

The toy is installed the way pip installs a package (its folder on PYTHONPATH: the package and
a dist-info naming its manifest), and from there every `hub` command finds it: `hub setup`
gives it a database, a role, a broker user and a queue bound to what it consumes; `hub serve`
runs it; the gateway routes /api/v1/toys to it and lists it in the OpenAPI document; its own
`hub toy` command is there; and its event type joins the contract. (`hub deploy render` puts it
into every deployment file: tests/deploy/test_deploy_render.py.)
"""
import os
import subprocess
import sys
import uuid

import pytest
import requests

from hub.auth import issue_token
from hub.broker_admin import BrokerAdmin
from support.hub import cleanup_hub, client_body, test_settings, wait_for
from support.installed import pythonpath
from support.processes import ROOT, hub_command

SERVICES = "intake,toy"


@pytest.fixture
def toy_hub(tmp_path):
    """A private hub of intake, the toy and the gateway, its `hub` commands run with the toy
    installed; afterwards stopped and removed."""
    settings = test_settings(prefix=f"toy{uuid.uuid4().hex[:6]}", HUB_SERVICES=SERVICES)
    env = {**os.environ, "HUB_VAR_DIR": str(tmp_path), "HUB_DB_PREFIX": settings.db_prefix,
           "HUB_DATA_KEY": settings.data_key, "HUB_JWT_SECRET": settings.jwt_secret,
           "HUB_SERVICE_SECRET": settings.service_secret, "HUB_ADMIN_TOKEN": "",
           "HUB_SERVICES": SERVICES, "HUB_PORT_OFFSET": str(settings.port_offset),
           "PYTHONPATH": pythonpath("toy", base=str(ROOT / "services"))}
    env.pop("COUNTY_CONFIG", None)
    served = []
    try:
        yield settings, env, served
    finally:
        for proc in served:
            proc.terminate()
            proc.wait(timeout=30)
        cleanup_hub(settings, extra_queues=["toy"])


def test_the_hub_sets_up_serves_and_routes_to_a_service_it_was_not_written_for(toy_hub, tmp_path):
    settings, env, served = toy_hub
    setup = hub_command(env, "setup")
    assert "toy: database" in setup and f"{settings.db_prefix}.toy.inbox" in setup

    # its broker user may read its own queue, bound to the one type it consumes
    admin = BrokerAdmin.for_settings(settings)
    toy_user = f"{settings.db_prefix}.toy"
    assert admin.user_exists(toy_user)
    assert any(b["routing_key"] == "client.registered.v1"
               for b in admin.bindings(settings.queue_name("toy")))

    log = open(tmp_path / "serve.log", "wb")
    served.append(subprocess.Popen([sys.executable, "-m", "tooling.cli", "serve", "intake",
                                    "toy", "gateway"], env=env, stdout=log,
                                   stderr=subprocess.STDOUT))
    base = settings.service_url("gateway") + "/api/v1"
    token = issue_token(settings, "tester", "county_admin")
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"

    def ready():
        try:
            return session.get(base + "/health", timeout=2).status_code == 200
        except requests.ConnectionError:
            return False
    wait_for(ready, timeout=60, interval=0.3)

    # the gateway routes to it, and the API document lists its route
    assert session.get(base + "/toys").json() == {"clients": 0, "townships": {}}
    assert "/api/v1/toys" in session.get(base + "/openapi.json").json()["paths"]

    # it consumes intake's events as its own least-privilege user, and publishes its own type
    for _ in range(2):
        assert session.post(base + "/clients", json=client_body()).status_code == 201
    wait_for(lambda: session.get(base + "/toys").json()["clients"] == 2, timeout=30)
    assert session.get(base + "/toys").json()["townships"] == {"341721100": 2}
    assert "2 client(s) counted" in hub_command(env, "toy", "count")

    # its own command and its event type are part of the hub
    assert "toy" in hub_command(env, "--help")
    assert "toy.client_counted.v1" in hub_command(env, "subscriber", "types", "toy.#")
