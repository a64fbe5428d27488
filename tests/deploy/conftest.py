"""Fixtures of the deployment tests: a hub run as `hub serve` processes (three visits instances
among them) and backed up by `hub backup`, and the county and province broker definitions
imported into throwaway vhosts."""
import json
import os
import secrets
import subprocess
import time
from types import SimpleNamespace

import amqp
import kombu
import pytest

from deploy_support import (
    DELIVERY_LIMIT,
    VISITS_INSTANCES,
    HubProcesses,
    definitions_tool,
    hub_environment,
    rabbitmqctl,
)
from hub.manifest import manifests


@pytest.fixture(scope="session")
def hub_processes(tmp_path_factory):
    """Every service, each its own process, and three visits instances.

    Port offsets end in 5 (the in-process test hubs' end in 0), instances ten apart.
    """
    from hub.config import Settings
    from support.hub import cleanup_hub, wait_for
    pid = os.getpid()
    env = hub_environment(f"dep{pid}", 1005 + (pid % 400) * 40, VISITS_SWEEP_SECONDS="1")
    settings = Settings.from_env(env)
    hub = HubProcesses(env, tmp_path_factory.mktemp("hub-logs"))
    hub.settings = settings
    try:
        hub.setup()
        for service in manifests():
            if service != "visits":
                hub.start(service)
        for i in range(VISITS_INSTANCES):
            hub.start("visits", extra_offset=10 * i)
        hub.wait_ready()
        wait_for(lambda: visits_consumers(settings) == VISITS_INSTANCES, timeout=30)
        yield hub
    finally:
        hub.stop()
        cleanup_hub(settings)


@pytest.fixture(scope="session")
def backup_metrics(hub_processes, tmp_path_factory):
    """What `hub backup --metrics-file` (the systemd timer's command) writes for Prometheus,
    from a real backup of the running hub."""
    from deploy_support import HUB_BIN
    folder = tmp_path_factory.mktemp("backup")
    result = subprocess.run([str(HUB_BIN), "backup", str(folder / "backups"), "--dated",
                             "--keep-days", "14", "--metrics-file", str(folder / "hub.prom")],
                            env=hub_processes.env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return (folder / "hub.prom").read_text()


@pytest.fixture(scope="session")
def broker(request):
    """A county's and the province's definitions, made by deploy/rabbitmq/definitions.py
    (tooling/deploy/broker.py) with
    test passwords (and a delivery limit of 3, to see it act) and imported into the local broker
    under vhost names unique to this run. Deleted afterwards, vhosts and users."""
    tool = definitions_tool()
    run = f"deploytest{os.getpid()}"
    county_vhost, province_vhost = f"{run}-county-341721", f"{run}-province"
    passwords = {role: secrets.token_hex(12)
                 for role in {*tool.county_roles(), *tool.province_roles()}}
    county = tool.county_definitions("341721", vhost=county_vhost, passwords=passwords,
                                     delivery_limit=DELIVERY_LIMIT)
    province = tool.province_definitions(vhost=province_vhost, passwords=passwords)
    users = [u["name"] for defs in (county, province) for u in defs["users"]]

    def cleanup():
        quoted = lambda xs: ",".join(f'<<"{x}">>' for x in xs)  # noqa: E731
        try:  # one call instead of one per object (each rabbitmqctl call costs about a second)
            rabbitmqctl("eval", f"""
                [rabbit_vhost:delete(V, <<"deploy-tests">>)
                 || V <- [{quoted([province_vhost, county_vhost])}], rabbit_vhost:exists(V)],
                [rabbit_auth_backend_internal:delete_user(U, <<"deploy-tests">>)
                 || U <- [{quoted(users)}]],
                ok.""")
        except subprocess.CalledProcessError:
            for args in [("delete_vhost", v) for v in (province_vhost, county_vhost)] + \
                        [("delete_user", u) for u in users]:
                subprocess.run(["rabbitmqctl", "-q", *args], capture_output=True)

    request.addfinalizer(cleanup)
    rabbitmqctl("import_definitions", input=json.dumps(county))
    rabbitmqctl("import_definitions", input=json.dumps(province))
    for vhost, queue in ((county_vhost, "hub.province.outbox"),
                         (province_vhost, "province.province.ingest")):
        wait_until_declared(vhost, queue, passwords["admin"])   # the import runs on in the broker
    return SimpleNamespace(tool=tool, county=county, province=province, passwords=passwords,
                           county_vhost=county_vhost, province_vhost=province_vhost)


def wait_until_declared(vhost, queue, admin_password, timeout=20.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with amqp.Connection("127.0.0.1:5672", userid=f"{vhost}-admin", password=admin_password,
                                 virtual_host=vhost, connect_timeout=5) as conn:
                conn.connect()
                conn.channel().queue_declare(queue, passive=True)
                return
        except (amqp.exceptions.AMQPError, OSError):
            assert time.monotonic() < deadline, f"{queue} not in {vhost} after the import"
            time.sleep(0.1)


def visits_consumers(settings):
    """How many consumers the visits queue has (each visits instance is one)."""
    with kombu.Connection(settings.amqp_uri, connect_timeout=5) as conn:
        _, _, consumers = conn.default_channel.queue_declare(settings.queue_name("visits"),
                                                             passive=True)
        return consumers
