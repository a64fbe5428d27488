"""A hub running inside the test process: real databases, a real broker, real HTTP ports."""
import base64
import dataclasses
import itertools
import os
import secrets
import socket
import time
from contextlib import contextmanager
from datetime import date, timedelta

import eventlet
import kombu
import psycopg
import requests
from nameko.runners import ServiceRunner

from contracts.idnumber import make as make_id
from hub import topology
from hub.auth import issue_token
from hub.broker_admin import BrokerAdmin
from hub.config import Settings
from hub.manifest import data_services, manifest
from hub.migrate import migrate
from support import pii
from tooling import privileges

_hub_numbers = itertools.count()


def test_settings(prefix=None, **overrides):
    """Settings for a private hub: its own database prefix, exchange, ports and keys."""
    pid = os.getpid()
    env = {
        **os.environ,
        "HUB_DB_PREFIX": prefix or f"test{pid}",
        "HUB_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "HUB_JWT_SECRET": secrets.token_urlsafe(32),
        "HUB_SERVICE_SECRET": secrets.token_urlsafe(32),
        "HUB_ADMIN_TOKEN": "",
        # distinct for the hubs one process runs at once (nameko binds with SO_REUSEPORT: two
        # hubs on one port would silently share requests), 50 ports apart, and all below
        # Linux's ephemeral range (32768+), where outgoing connections could hold a port
        "HUB_PORT_OFFSET": str(free_port_offset(2000 + (pid % 200) * 100)),
        "HUB_RETRY_BASE_SECONDS": "0.2",
        "HUB_RETRY_ATTEMPTS": "3",
        **overrides,
    }
    env.pop("COUNTY_CONFIG", None)
    return Settings.from_env(env)


test_settings.__test__ = False  # a helper, not a test


def free_port_offset(base):
    """The next of the process's ten offsets (50 apart) whose ports no hub listens on: a hub
    that lives the whole session (conftest's) keeps its ports when the numbering comes round."""
    for _ in range(10):
        offset = base + next(_hub_numbers) % 10 * 50
        if not any(_listening(port + offset) for port in range(8000, 8010)):
            return offset
    raise RuntimeError(f"every port offset from {base} is in use")


def _listening(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


class RunningHub:
    """Starts services in-process (nameko runners) after migrating and declaring the topology.

    `subscriptions` adds the queues of consumers that are not services (a probe's).
    """

    def __init__(self, settings, services, subscriptions=None):
        # the gateway's health and OpenAPI cover just the services this hub runs
        data = data_services()
        self.settings = dataclasses.replace(
            settings, only_services=tuple(s for s in services if s in data))
        self.services = services
        self.subscriptions = subscriptions or {}
        self.runners = {}

    def start(self):
        for name in self.settings.data_services():
            migrate(self.settings, name)
        # the services run as their own database roles and broker users, as `hub setup` makes them
        privileges.provision(self.settings, self.settings.data_services(),
                             {**topology.consumer_subscriptions(), **self.subscriptions})
        declare_topology(self.settings, self.subscriptions)
        for name in self.services:
            self.start_service(name)
        return self

    def start_service(self, name):
        cls = manifest(name).service_class()
        runner = ServiceRunner(self.settings.nameko_config(name))
        runner.add_service(cls)
        runner.start()
        self.runners[name] = runner

    def stop_service(self, name, kill=False):
        runner = self.runners.pop(name)
        runner.kill() if kill else runner.stop()

    def stop(self):
        for name in list(self.runners):
            self.stop_service(name)

    # -- calling it -----------------------------------------------------------
    def token(self, role="county_admin", subject="tester", **kwargs):
        return issue_token(self.settings, subject, role, **kwargs)

    def client(self, role="county_admin", service="gateway", **kwargs):
        return ApiClient(self.settings.service_url(service) + "/api/v1", self.token(role, **kwargs))

    def db(self, service):
        return psycopg.connect(self.settings.database_dsn(service), autocommit=True)


class ApiClient(requests.Session):
    def __init__(self, base_url, token):
        super().__init__()
        self.base_url = base_url
        self.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, url, *args, **kwargs):
        return super().request(method, self.base_url + url, *args, **kwargs)


def declare_topology(settings, extra_subscriptions):
    """The hub's own queues plus those of test-only consumers."""
    with kombu.Connection(settings.amqp_uri, connect_timeout=5) as conn:
        topology.declare(settings, conn.default_channel,
                         {**topology.consumer_subscriptions(), **extra_subscriptions})


@contextmanager
def running_hub(settings, services, **kwargs):
    """A RunningHub for a `with` block: started, then stopped and everything it made removed."""
    hub = RunningHub(settings, services, **kwargs)
    try:
        yield hub.start()
    finally:
        hub.stop()
        cleanup_hub(settings, extra_queues=hub.subscriptions)


@contextmanager
def whole_hub(tag):
    """Every service and the gateway in this process, on a private hub of its own (prefix
    `tag` + random), answering its health check: for tests that need all of the hub."""
    settings = test_settings(prefix=f"{tag}{secrets.token_hex(3)}")
    with running_hub(settings, [*data_services(), "gateway"]) as hub:
        wait_for(lambda: hub.client().get("/health").status_code == 200, timeout=60, interval=0.3)
        yield hub


def cleanup_hub(settings, extra_queues=()):
    """Drop every database and broker object a test hub made — after checking that no event it
    published carried personal detail (support/pii.py; a leak fails the test)."""
    with psycopg.connect(f"{settings.pg_dsn} dbname=postgres", autocommit=True) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s",
            (settings.db_prefix + "\\_%",))]
    try:
        pii.check_hub_events(settings, names)
    finally:
        with psycopg.connect(f"{settings.pg_dsn} dbname=postgres", autocommit=True) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        with kombu.Connection(settings.amqp_uri, connect_timeout=5) as conn:
            channel = conn.default_channel
            for service in {*data_services(), *extra_queues, "probe"}:
                kombu.Queue(settings.queue_name(service))(channel).delete()
            topology.exchange(settings)(channel).delete()
        drop_service_users(settings)


def drop_service_users(settings):
    """Drop the database roles `<prefix>_*` and broker users `<prefix>.*` a test hub's services
    had (roles are the whole PostgreSQL server's: they outlive the databases)."""
    with psycopg.connect(f"{settings.pg_dsn} dbname=postgres", autocommit=True) as conn:
        roles = [r[0] for r in conn.execute(
            "SELECT rolname FROM pg_roles WHERE rolname LIKE %s AND NOT rolsuper",
            (settings.db_prefix + "\\_%",))]
    privileges.drop_pg_roles(settings, roles)
    admin = BrokerAdmin.for_settings(settings)
    for user in admin.users():
        if user["name"].startswith(settings.db_prefix + "."):
            admin.delete_user(user["name"])


def wait_for(predicate, timeout=15.0, interval=0.05):
    """Poll until predicate() is truthy and return its value; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        eventlet.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s")


_sequence = itertools.count(1)


def new_id_number(age=40, county="341721", today=None):
    """A valid, never-before-used ID number for a person of that age."""
    today = today or date.today()
    n = next(_sequence)
    # turned `age` between 1 and 300 days ago: exactly that age today
    birth = today.replace(year=today.year - age, day=min(today.day, 28)) - timedelta(days=1 + n % 300)
    return make_id(county, birth, (os.getpid() + n // 300) % 1000)


def client_body(age=70, village="341721100001", categories=("solitary_elderly",), **extra):
    body = {
        "name": "测试对象", "id_number": new_id_number(age), "phone": "13900001111",
        "village_code": village, "categories": list(categories), "risk_level": "medium",
        "consent": {"given": True, "date": "2026-01-05", "recorded_by": "测试社工"},
    }
    body.update(extra)
    pii.remember(body.get("name"), (body.get("guardian") or {}).get("name"),
                 body["consent"].get("recorded_by") if isinstance(body.get("consent"), dict) else None)
    return body
