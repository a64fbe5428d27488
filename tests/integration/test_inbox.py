"""The hub's one implementation of idempotent consumption — a queue read in batches
(hub.batching.QueueBatches) and each batch taken exactly once (hub.inbox.EventProcessor.take) —
against the real broker and database: each event's effect happens once whatever the broker does:
copies of an event in one batch and across batches, a connection the broker closes in
mid-stream, messages of 1 MiB (a body over many frames), frames split across socket reads at
every place (through a proxy that passes the broker's bytes on in small pieces), an idle
connection kept alive by heartbeats, TLS (through a TLS-terminating proxy), an event that fails
on its own.

Every test runs with both transports the hub has: py-amqp's own (every service's consumer) and
the province ingestion's read-ahead transport (stats.amqp_reader, which reaches into py-amqp's
internals: this is its conformance test against the real broker).
"""
import datetime
import ipaddress
import json
import random
import ssl
import uuid

import eventlet
import kombu
import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hub.batching import QueueBatches
from hub.broker_admin import BrokerAdmin
from hub.db import Database
from hub.inbox import EventProcessor
from hub.migrate import migrate
from stats import amqp_reader
from support.hub import cleanup_hub, test_settings, wait_for

TRANSPORTS = ["py-amqp", "read-ahead"]


@pytest.fixture(params=TRANSPORTS)
def world(request):
    settings = test_settings(prefix=f"inb{uuid.uuid4().hex[:6]}")
    migrate(settings, "stats")                  # any service's database has the inbox tables
    database = Database(settings, "stats", max_size=4, dsn=settings.database_dsn("stats"))
    with database.transaction() as tx:
        tx.execute("CREATE TABLE inbox_effects (event_id uuid NOT NULL, size int NOT NULL)")
    queue = f"{settings.db_prefix}.inbox-test"
    with kombu.Connection(settings.amqp_uri) as conn:
        kombu.Queue(queue, durable=True, queue_arguments={"x-queue-type": "quorum"})(
            conn.default_channel).declare()
    yield settings, database, queue, request.param
    database.close()
    with kombu.Connection(settings.amqp_uri) as conn:
        kombu.Queue(queue)(conn.default_channel).delete()
    cleanup_hub(settings)


def event(pad=0, fail=False):
    """A CloudEvent of a type of this test's own (the processor here checks no contract)."""
    return {"specversion": "1.0", "id": str(uuid.uuid4()), "type": "inbox.test.v1",
            "source": "/hub/341721/test", "time": "2026-01-05T00:00:00Z",
            "data": {"pad": "x" * pad, "fail": fail}}


def publish(settings, queue, events):
    with kombu.Connection(settings.amqp_uri) as conn:
        producer = conn.Producer()
        for e in events:
            producer.publish(json.dumps(e), exchange="", routing_key=queue, delivery_mode=2,
                             content_type="application/json")


def apply(tx, events):
    if any(e["data"]["fail"] for e in events):
        raise ValueError("this event cannot be applied")
    tx.execute("INSERT INTO inbox_effects SELECT * FROM unnest(%s::uuid[], %s::int[])",
               ([e["id"] for e in events], [len(e["data"]["pad"]) for e in events]))


class Consumer:
    """A consumer as a service runs one, in a green thread; counts its connections."""

    def __init__(self, settings, database, queue, transport, heartbeat=60, batch_size=50,
                 uri=None, tls=None):
        self.name = f"inbox-test {uuid.uuid4().hex[:8]}"
        self.connects = 0
        self.stopping = False
        self.taken = []
        processor = EventProcessor(database, "inbox-test", max_attempts=1, base_delay=1,
                                   validate=False)

        def connected():
            self.connects += 1
            return amqp_reader.connect(uri or settings.amqp_uri, transport == "read-ahead",
                                       ssl=tls, heartbeat=heartbeat, name=self.name)

        def commit(events):
            self.taken.append(processor.take(events, apply))
        self.batches = QueueBatches(
            connected, queue, lambda messages: [json.loads(body) for body, _ in messages],
            commit, batch_size=batch_size, prefetch=4 * batch_size, batch_wait=0.02,
            sleep=eventlet.sleep, name=self.name)

    def __enter__(self):
        self.thread = eventlet.spawn(self.batches.run, lambda: self.stopping)
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.wait()


class Proxy:
    """A TCP proxy on 127.0.0.1 to the broker, in green threads. `pieces`: it passes the
    broker's bytes on in pieces of 1 to `pieces` bytes, letting the client read after each
    (frames split across reads at every place); `tls` (certificate, key): the client speaks
    TLS to it, the broker plain AMQP."""

    def __init__(self, pieces=None, tls=None):
        self.pieces = pieces
        self.tls = tls
        self.server = eventlet.listen(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.thread = eventlet.spawn(self._serve)

    def _serve(self):
        while True:
            client, _ = self.server.accept()
            if self.tls:
                client = eventlet.wrap_ssl(client, certfile=self.tls[0], keyfile=self.tls[1],
                                           server_side=True)
            broker = eventlet.connect(("127.0.0.1", 5672))
            eventlet.spawn(self._pipe, client, broker, None)
            eventlet.spawn(self._pipe, broker, client, self.pieces)

    @staticmethod
    def _pipe(source, target, pieces):
        sizes = random.Random(7)
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if not pieces:
                    target.sendall(data)
                    continue
                at = 0
                while at < len(data):
                    step = sizes.randint(1, pieces)
                    target.sendall(data[at:at + step])
                    at += step
                    eventlet.sleep(0)           # the client reads what has come so far
        except (OSError, EOFError):             # the other side closed
            pass
        finally:
            for sock in (source, target):
                sock.close()

    def close(self):
        self.thread.kill()
        self.server.close()


def self_signed(directory):
    """A certificate for 127.0.0.1 and its key, as files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_file), str(key_file)


def effects(settings):
    with psycopg.connect(settings.database_dsn("stats")) as conn:
        return conn.execute("SELECT count(*), count(DISTINCT event_id), min(size), max(size) "
                            "FROM inbox_effects").fetchone()


def queue_settled(settings, queue):
    """Nothing left in the queue, and nothing delivered but unacknowledged."""
    with kombu.Connection(settings.amqp_uri) as conn:
        _, ready, consumers = conn.default_channel.queue_declare(queue, passive=True)
    info = BrokerAdmin.from_amqp_uri(settings.amqp_uri).queue(queue) or {}
    return ready == 0 and info.get("messages_unacknowledged", 0) == 0


def test_copies_in_a_batch_and_across_batches_count_once(world):
    settings, database, queue, transport = world
    events = [event() for _ in range(300)]
    copies = events[:40] + events[100:110]          # again later, and twice in a row
    publish(settings, queue, events[:100] + events[100:110] + copies + events[110:])
    with Consumer(settings, database, queue, transport):
        wait_for(lambda: effects(settings)[0] >= 300, timeout=60)
        wait_for(lambda: queue_settled(settings, queue), timeout=30)
    assert effects(settings)[:2] == (300, 300)
    with database.transaction() as tx:
        assert tx.one("SELECT count(*) AS n FROM hub_inbox")["n"] == 300


def test_a_connection_closed_by_the_broker_loses_nothing_and_counts_nothing_twice(world):
    settings, database, queue, transport = world
    events = [event(pad=200) for _ in range(3000)]
    publish(settings, queue, events)
    admin = BrokerAdmin.from_amqp_uri(settings.amqp_uri)
    with Consumer(settings, database, queue, transport, batch_size=100) as consumer:
        wait_for(lambda: effects(settings)[0] > 0, timeout=60)

        def ours():
            return [c["name"] for c in admin.connections()
                    if c.get("client_properties", {}).get("connection_name") == consumer.name]
        for name in wait_for(ours, timeout=30):     # the management API lists it a little late
            admin.close_connection(name, "test: the broker drops the consumer")
        wait_for(lambda: consumer.connects >= 2, timeout=60)
        later = [event(pad=200) for _ in range(1000)]
        publish(settings, queue, later)
        wait_for(lambda: effects(settings)[0] >= 4000, timeout=120)
        wait_for(lambda: queue_settled(settings, queue), timeout=30)
    assert effects(settings)[:2] == (4000, 4000)


def test_messages_of_one_mebibyte_arrive_whole(world):
    settings, database, queue, transport = world
    big = [event(pad=1 << 20) for _ in range(6)]
    publish(settings, queue, big + [event(pad=10)])
    with Consumer(settings, database, queue, transport):
        wait_for(lambda: effects(settings)[0] >= 7, timeout=60)
    assert effects(settings) == (7, 7, 10, 1 << 20)


def test_heartbeats_keep_an_idle_connection(world):
    settings, database, queue, transport = world
    with Consumer(settings, database, queue, transport, heartbeat=4) as consumer:
        eventlet.sleep(10)                          # more than two heartbeat intervals, idle
        publish(settings, queue, [event()])
        wait_for(lambda: effects(settings)[0] == 1, timeout=30)
        assert consumer.connects == 1


def test_an_event_that_fails_on_its_own_holds_back_no_other(world):
    settings, database, queue, transport = world
    good = [event() for _ in range(20)]
    bad = event(fail=True)
    publish(settings, queue, good[:10] + [bad] + good[10:])
    with Consumer(settings, database, queue, transport) as consumer:
        wait_for(lambda: effects(settings)[0] >= 20, timeout=60)
        wait_for(lambda: queue_settled(settings, queue), timeout=30)
    assert effects(settings)[:2] == (20, 20)
    assert sum(c["failed"] for c in consumer.taken) == 1
    with database.transaction() as tx:           # kept (parked: one attempt allowed) with its data
        row = tx.one("SELECT parked, event FROM hub_failed_events")
    assert row["parked"] and row["event"]["id"] == bad["id"]


def test_frames_split_across_reads_anywhere(world):
    settings, database, queue, transport = world
    proxy = Proxy(pieces=300)
    try:
        events = [event(pad=random.Random(i).randint(0, 5000)) for i in range(400)]
        events += [event(pad=1 << 20), event(pad=131072 - 8)]     # many frames; one just full
        publish(settings, queue, events)
        uri = f"amqp://guest:guest@127.0.0.1:{proxy.port}//"
        with Consumer(settings, database, queue, transport, uri=uri):
            wait_for(lambda: effects(settings)[0] >= len(events), timeout=120)
            wait_for(lambda: queue_settled(settings, queue), timeout=30)
    finally:
        proxy.close()
    with psycopg.connect(settings.database_dsn("stats")) as conn:
        sizes = dict(conn.execute("SELECT event_id::text, size FROM inbox_effects").fetchall())
    assert sizes == {e["id"]: len(e["data"]["pad"]) for e in events}


def test_tls(world, tmp_path):
    settings, database, queue, transport = world
    cert, key = self_signed(tmp_path)
    proxy = Proxy(tls=(cert, key))
    try:
        events = [event(pad=100) for _ in range(200)] + [event(pad=1 << 20)]
        publish(settings, queue, events)
        uri = f"amqps://guest:guest@127.0.0.1:{proxy.port}//"
        tls = {"ca_certs": cert, "cert_reqs": ssl.CERT_REQUIRED}
        with Consumer(settings, database, queue, transport, uri=uri, tls=tls):
            wait_for(lambda: effects(settings)[0] >= len(events), timeout=60)
            wait_for(lambda: queue_settled(settings, queue), timeout=30)
    finally:
        proxy.close()
    assert effects(settings) == (201, 201, 100, 1 << 20)
