"""Benchmark: how fast a county hub's consumers take in a burst of events, beside the raw
consume-and-ack rate of the same broker measured in the same run.

A burst of N client.registered events (as a bulk import makes) is published to a hub whose
visits, resources and stats services run as real processes (`hub serve`); the clock runs until
each service's inbox holds all N. Each consumer does its real work (visits plans and schedules
a visit, resources keeps its client view, stats counts the figures), with the chassis'
guarantees (inbox dedupe in the same transaction, ack after commit). Baseline: a plain kombu
consumer on the same broker that only acknowledges (prefetch 32, one ack per message).

    BENCH_EVENTS (default 5000)
"""
import os
import time
import uuid

import kombu
import psycopg

from hub.events import make_event
from hub.migrate import migrate
from hub.relay import ConfirmingPublisher
from support.hub import cleanup_hub, declare_topology, test_settings, wait_for
from support.processes import served

EVENTS = int(os.environ.get("BENCH_EVENTS", "5000"))
CONSUMERS = ("visits", "resources", "stats")


def client_events(county, n):
    towns = list(county.townships.values())
    for i in range(n):
        town = towns[i % len(towns)]
        cid = str(uuid.uuid4())
        yield make_event("client.registered.v1", f"/hub/{county.code}/intake", f"client/{cid}", {
            "client_id": cid, "county_code": county.code, "township_code": town.code,
            "village_code": next(iter(town.villages)), "categories": ["solitary_elderly"],
            "age_group": "elderly", "age_band": "70-79", "sex": "female",
            "risk_level": "medium", "risk_flags": [], "status": "active",
            "effective_date": "2026-01-05"})


def publish(settings, events, queue=None):
    """Publish as the outbox relay does (persistent, batches of 500 with publisher confirms):
    the broker has every one when this returns."""
    publisher = ConfirmingPublisher(settings, declare_topology=False)
    try:
        for i in range(0, len(events), 500):
            publisher.publish_batch(events[i:i + 500], queue=queue)
    finally:
        publisher.close()


def raw_consume_rate(settings, events):
    """Publish the same events to a fresh queue, then consume and ack them: messages/s."""
    name = f"{settings.db_prefix}.raw"
    with kombu.Connection(settings.amqp_uri) as conn:
        queue = kombu.Queue(name, durable=True, queue_arguments={"x-queue-type": "quorum"})
        queue(conn.default_channel).declare()
        publish(settings, events, queue=name)
        seen = [0]

        def on_message(body, message):
            message.ack()
            seen[0] += 1
        with conn.Consumer(queue, callbacks=[on_message], prefetch_count=32):
            started = time.perf_counter()
            while seen[0] < len(events):
                conn.drain_events(timeout=10)
            took = time.perf_counter() - started
        queue(conn.default_channel).delete()
    return len(events) / took


def inbox_count(settings, service):
    with psycopg.connect(settings.database_dsn(service)) as conn:
        return conn.execute("SELECT count(*) FROM hub_inbox").fetchone()[0]


def test_consumer_throughput(capsys):
    settings = test_settings(prefix=f"cons{os.getpid()}")
    try:
        for service in CONSUMERS:
            migrate(settings, service)
        declare_topology(settings, {})
        events = list(client_events(settings.county, EVENTS))
        with served(settings, list(CONSUMERS), gateway=False):
            warm = list(client_events(settings.county, 100))
            publish(settings, warm)
            for service in CONSUMERS:
                wait_for(lambda s=service: inbox_count(settings, s) >= 100, timeout=60)
            started = time.perf_counter()
            publish(settings, events)
            published = time.perf_counter() - started
            done = {}
            while len(done) < len(CONSUMERS):
                for service in CONSUMERS:
                    if service not in done and inbox_count(settings, service) >= EVENTS + 100:
                        done[service] = time.perf_counter() - started
                time.sleep(0.2)
                assert time.perf_counter() - started < 900, f"not done: {done}"
        raw = raw_consume_rate(settings, events)
        with capsys.disabled():
            print(f"\n{EVENTS} client.registered events published in {published:.1f} s "
                  f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
            for service, took in done.items():
                print(f"  {service:10} all processed after {took:6.1f} s: {EVENTS / took:7.0f} "
                      f"events/s ({EVENTS / took / raw:.3f} of raw)")
            print(f"  raw consume-and-ack, same broker, prefetch 32: {raw:7.0f} messages/s")
    finally:
        cleanup_hub(settings)
