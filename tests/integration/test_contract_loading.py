"""The event contract is known before the first message, in a process as production runs it.

The incident behind these tests: a stats process restarted under a backlog knew only its own
event types for its first deliveries and parked every client.registered.v1 and
visit.scheduled.v1 as "unknown event type" for good; `hub events replay` parked them again.
Here a backlog waits in the queues before a real `hub serve` process starts; an event of a type
nobody knows follows each consumer's policy; and parked events are healed by a replay.
"""
import json
import os
import subprocess
import sys
import uuid
from datetime import date

import psycopg
import pytest
from click.testing import CliRunner
from marshmallow import Schema, fields
from psycopg.types.json import Jsonb

from hub import events as hub_events
from hub import topology
from hub.manifest import data_services
from hub.migrate import migrate
from hub.relay import ConfirmingPublisher
from stats.sample import Sample
from support.hub import cleanup_hub, declare_topology, running_hub, test_settings, wait_for
from support.processes import ROOT, served
from tooling.cli import main

BACKLOG = 60


def _db(settings, service):
    return psycopg.connect(settings.database_dsn(service), autocommit=True)


def stats_counts(hub_db):
    with hub_db as conn:
        return {r[0]: (r[1], r[2]) for r in conn.execute(
            "SELECT type, counted, ignored FROM stats_event_counts")}


def failed_events(conn):
    return conn.execute("SELECT type, parked, attempts, last_error FROM hub_failed_events "
                        "ORDER BY type").fetchall()


def unknown_event(sample, type_key="client.reshaped.v9"):
    """An event of a type no service of this hub registers (a newer producer's)."""
    known = sample.registered(sample.client(), date.today())
    return {**known, "type": type_key,
            "data": {"client_id": str(uuid.uuid4()), "county_code": sample.county}}


# in a new interpreter: the types a service's consumer knows once it is set up, before it starts
KNOWN_AT_SETUP = """
import json, sys
from nameko.containers import ServiceContainer
from hub import events
from hub.config import Settings
from hub.inbox import EventConsumer
from hub.manifest import manifest
name = sys.argv[1]
container = ServiceContainer(manifest(name).service_class(), Settings.from_env().nameko_config(name))
for entrypoint in container.entrypoints:
    if isinstance(entrypoint, EventConsumer):
        entrypoint.setup()
print(json.dumps(sorted(events.REGISTRY)))
"""


@pytest.mark.parametrize("service", [s for s in data_services()
                                     if s in topology.consumer_subscriptions()])
def test_a_consumer_knows_the_whole_contract_before_its_first_delivery(service, settings):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "services"), "HUB_DB_PREFIX": settings.db_prefix,
           "HUB_SERVICE_SECRET": settings.service_secret, "HUB_DATA_KEY": settings.data_key,
           "HUB_JWT_SECRET": settings.jwt_secret}
    done = subprocess.run([sys.executable, "-c", KNOWN_AT_SETUP, service], env=env,
                          capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == sorted(hub_events.load_contract())


@pytest.fixture
def fresh_settings():
    settings = test_settings(prefix=f"ctr{uuid.uuid4().hex[:6]}")
    yield settings
    cleanup_hub(settings)


def test_a_backlog_waiting_before_stats_starts_is_counted_not_parked(fresh_settings):
    settings = fresh_settings
    migrate(settings, "stats")
    declare_topology(settings, {})             # the queues exist: the backlog waits in them
    sample = Sample()
    today = date.today()
    backlog = []
    for _ in range(BACKLOG // 2):
        client = sample.client()
        backlog += [sample.registered(client, today), sample.visit_scheduled(client, today)]
    backlog.append(unknown_event(sample))
    publisher = ConfirmingPublisher(settings)
    try:
        publisher.publish_batch(backlog)
    finally:
        publisher.close()

    def all_taken():
        counts = stats_counts(_db(settings, "stats"))
        return counts if sum(sum(pair) for pair in counts.values()) >= len(backlog) else None

    with served(settings, ["stats"], gateway=False):     # a fresh process, as after a restart
        counts = wait_for(all_taken, timeout=60, interval=0.5)
    assert counts["client.registered.v1"] == (BACKLOG // 2, 0)
    assert counts["visit.scheduled.v1"][0] + counts["visit.scheduled.v1"][1] == BACKLOG // 2
    assert counts["client.reshaped.v9"] == (0, 1)       # stats' policy: counted as ignored
    with _db(settings, "stats") as conn:
        assert failed_events(conn) == []


class Reshaped(Schema):
    client_id = fields.UUID(required=True)
    county_code = fields.String(required=True)


def test_an_unknown_type_is_retried_never_parked_until_a_process_knows_it(fresh_settings):
    settings = fresh_settings
    with running_hub(settings, ["resources"]) as hub:
        event = unknown_event(Sample(), "needs.identified.v2")   # resources takes needs.identified.#
        publisher = ConfirmingPublisher(settings)
        try:
            publisher.publish_batch([event])
        finally:
            publisher.close()
        with hub.db("resources") as conn:
            # tried past HUB_RETRY_ATTEMPTS (3 in tests) and still waiting, not parked
            rows = wait_for(lambda: [r for r in failed_events(conn) if r[2] >= 5], timeout=30)
            assert rows[0][:2] == ("needs.identified.v2", False)
            assert "unknown event type" in rows[0][3]
        # the upgrade: this process learns the type; the next retry takes the event
        etype = hub_events.register("needs.identified", 2, Reshaped, "visits")
        try:
            with hub.db("resources") as conn:
                wait_for(lambda: failed_events(conn) == [], timeout=60, interval=0.2)
                assert conn.execute("SELECT count(*) FROM hub_inbox WHERE event_id = %s",
                                    (event["id"],)).fetchone()[0] == 1
        finally:
            hub_events.REGISTRY.pop(etype.key)


def test_replay_heals_events_parked_as_unknown(fresh_settings):
    """Events the old chassis parked as "unknown event type" are counted once replayed."""
    settings = fresh_settings
    sample = Sample()
    parked = [sample.registered(sample.client(), date.today()) for _ in range(5)]
    with running_hub(settings, ["stats"]) as hub:
        with hub.db("stats") as conn:
            for event in parked:
                conn.execute(
                    "INSERT INTO hub_failed_events (event_id, type, event, last_error, parked, "
                    "attempts) VALUES (%s, %s, %s, %s, true, 1)",
                    (event["id"], event["type"], Jsonb(event),
                     "unknown event type client.registered.v1"))
        result = CliRunner().invoke(main, ["events", "replay", "--all"], env=_cli_env(settings))
        assert result.exit_code == 0, result.output
        wait_for(lambda: stats_counts(hub.db("stats")).get("client.registered.v1") == (5, 0),
                 timeout=30, interval=0.2)
        with hub.db("stats") as conn:
            assert failed_events(conn) == []


def _cli_env(settings):
    """The environment of an operator's `hub` command on this hub (which runs stats alone)."""
    return {"HUB_DB_PREFIX": settings.db_prefix, "HUB_DATA_KEY": settings.data_key,
            "HUB_JWT_SECRET": settings.jwt_secret, "HUB_SERVICE_SECRET": settings.service_secret,
            "HUB_PORT_OFFSET": str(settings.port_offset), "HUB_SERVICES": "stats"}
