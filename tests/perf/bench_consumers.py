"""Benchmark: how fast a county hub's consumers take in a burst of events, beside the raw
consume-and-ack rate of the same broker measured in the same run.

The hub's visits, resources and stats services run as real processes (`hub serve`) and take a
warm-up of 100 events; they are stopped, a burst of N client.registered events (as a bulk
import makes) is published and waits in their queues, and they are started again. Each
service's rate comes from its inbox: each batch's transaction records its events with the time
it started (`processed_at`), so N less the last batch's events were processed between the first
and the last batch's start: process start-up is not counted, and the rate is the consumer's,
not the publisher's (consumers that keep up with a publisher would otherwise measure it). Each
consumer does its real work (visits plans and schedules a visit, resources keeps its client
view, stats counts the figures), with the chassis' guarantees (inbox dedupe in the same
transaction, ack after commit). Baseline: a plain kombu consumer on the same broker that only
acknowledges (prefetch 32, one ack per message), in the same run.

    BENCH_EVENTS (default 20000)
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

EVENTS = int(os.environ.get("BENCH_EVENTS", "20000"))
WARM = 100
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


def burst_rate(settings, service, after):
    """Events/s of the service's batches that started after `after`: all but the last batch's
    events, over the time from the first batch's start to the last's."""
    with psycopg.connect(settings.database_dsn(service)) as conn:
        batches = conn.execute("SELECT processed_at, count(*) FROM hub_inbox WHERE processed_at "
                               "> %s GROUP BY 1 ORDER BY 1", (after,)).fetchall()
    took = (batches[-1][0] - batches[0][0]).total_seconds()
    events = sum(n for _, n in batches[:-1])
    return events / took, took, len(batches)


def test_consumer_throughput(capsys):
    settings = test_settings(prefix=f"cons{os.getpid()}")
    try:
        for service in CONSUMERS:
            migrate(settings, service)
        declare_topology(settings, {})
        events = list(client_events(settings.county, EVENTS))
        load = os.getloadavg()[0]
        with served(settings, list(CONSUMERS), gateway=False):
            publish(settings, list(client_events(settings.county, WARM)))
            for service in CONSUMERS:
                wait_for(lambda s=service: inbox_count(settings, s) >= WARM, timeout=60)
        with psycopg.connect(settings.database_dsn(CONSUMERS[0])) as conn:
            warmed = conn.execute("SELECT now()").fetchone()[0]
        publish(settings, events)               # the burst waits in the queues
        with served(settings, list(CONSUMERS), gateway=False):
            started = time.perf_counter()
            for service in CONSUMERS:
                wait_for(lambda s=service: inbox_count(settings, s) >= WARM + EVENTS,
                         timeout=900 - (time.perf_counter() - started), interval=0.2)
        raw = raw_consume_rate(settings, events)
        with capsys.disabled():
            print(f"\n{EVENTS} client.registered events waiting in each queue (load average "
                  f"{load:.1f} before, {os.getloadavg()[0]:.1f} after, on {os.cpu_count()} cores)")
            for service in CONSUMERS:
                rate, took, batches = burst_rate(settings, service, warmed)
                print(f"  {service:10} {rate:7.0f} events/s ({rate / raw:.3f} of raw; {batches} "
                      f"batches over {took:.1f} s)")
            print(f"  raw consume-and-ack, same broker, prefetch 32: {raw:7.0f} messages/s")
    finally:
        cleanup_hub(settings)
