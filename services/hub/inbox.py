"""Idempotent event consumption, once for the whole hub: every service's `@handle_events(...)`
consumer, and the province's ingestion (stats.ingest), take their events through EventProcessor.

A service's queue is read in batches (hub.batching.QueueBatches: up to HUB_INBOX_BATCH
deliveries, HUB_INBOX_PREFETCH in flight; the next batch is read while one is committed). A
batch is processed in one transaction that also records its event ids (the inbox, `hub_inbox`),
so a redelivered event — or a second copy in the same batch — changes nothing; only after the
commit is the batch acknowledged, with one multiple ack. If the database is unavailable the
connection is dropped and every unacknowledged delivery goes back to the queue.

If a handler fails inside a batch, the batch is undone and its events are processed one at a
time, each with its own transaction, so one bad event holds back nothing. A failing event is kept
in hub_failed_events and retried with exponential backoff; after the last attempt it is parked
for an operator (`hub events parked`, `hub events replay`). Events that do not match their schema
are parked at once.

The consumer loads the hub's whole event contract (hub.events.load_contract) before it takes its
first message, so an event of a type the service subscribes to never meets an empty registry.
An event of a type the contract truly does not know (a newer producer's, during an upgrade)
follows the consumer's `unknown=` policy: "ignore" hands it to the handler unchecked (stats counts
it as ignored); "retry" (the default) keeps it for retry with backoff, never parked, until a
process that knows the type takes it.

Every service's consumer also takes the chassis' own events (CHASSIS_EVENTS): accounts'
tokens.revoked, recorded in the service's hub_token_revocations in the same transaction as its
inbox entry, so a logged-out or disabled user's tokens are refused by every service.
"""
import functools
import json
import logging
import traceback
import uuid
from collections import Counter

import amqp
import eventlet
import kombu
from eventlet.event import Event
from nameko.extensions import Entrypoint
from psycopg.types.json import Jsonb

from hub import auth, metrics, topology
from hub.batching import QueueBatches
from hub.db import UNAVAILABLE, database_of
from hub.events import (
    CANONICAL_UUID,
    EventContractError,
    UnknownEventType,
    check_event,
    load_contract,
)

log = logging.getLogger(__name__)

RETRY_POLL_SECONDS = 1.0
UNKNOWN_TYPE_MAX_DELAY = 300        # seconds between tries of an event of an unknown type
UNKNOWN_POLICIES = ("retry", "ignore")
# deliveries per batch, in flight, and how long a batch waits to fill (nameko config keys)
BATCH, PREFETCH, BATCH_WAIT = 500, 1500, 0.02
STOP_WAIT_SECONDS = 30              # a stopping consumer finishes the batch it is committing
HEARTBEAT_SECONDS = 60


def connect(amqp_uri, ssl=None, heartbeat=HEARTBEAT_SECONDS, name=None,
            connection_class=amqp.Connection):
    """An open py-amqp connection to a kombu-style URI (amqp://user:pass@host:port/vhost);
    `ssl`: TLS options (Settings.amqp_ssl_options) for an amqps:// broker; `name`: the
    connection's name in the broker's management UI. Its user calls `heartbeat_tick()`
    (QueueBatches does)."""
    info = kombu.Connection(amqp_uri, ssl=ssl or False).info()
    conn = connection_class(host=f"{info['hostname']}:{info['port']}", userid=info["userid"],
                            password=info["password"], virtual_host=info["virtual_host"] or "/",
                            connect_timeout=5, heartbeat=heartbeat,
                            ssl=info["ssl"] or amqp_uri.startswith("amqps://"),
                            client_properties={"connection_name": name} if name else None)
    conn.connect()
    return conn


class EventProcessor:
    """Takes batches of events exactly once, with the inbox, retry and parking bookkeeping.

    `take(events, apply)` is the one path: the ids are recorded and the new events applied in
    one transaction. What records the ids (`record`) and what becomes of an event that fails on
    its own (`set_aside`) are the chassis' (hub_inbox; hub_failed_events, retried and parked)
    unless a consumer brings its own: the province records the events in its archive
    (stats_received) and refuses an event it cannot store.
    """

    def __init__(self, database, service, max_attempts, base_delay, unknown="retry",
                 validate=True, isolatable=Exception):
        self.database = database
        self.service = service
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.unknown = unknown
        self.validate = validate            # check each event against the contract first
        self.isolatable = isolatable        # errors of an event, not of the database being away
        self.size = metrics.BATCH_SIZE.labels(service, "events")

    @classmethod
    def for_service(cls, database, service, unknown="retry", **options):
        """A processor with the hub's retry settings."""
        settings = database.settings
        return cls(database, service, settings.retry_attempts, settings.retry_base_seconds,
                   unknown, **options)

    # -- the one path --------------------------------------------------------------------------
    def take(self, events, apply, *, record=None, extra=None, set_aside=None):
        """Process a batch of events exactly once; returns Counter(processed=, duplicate=,
        invalid=, failed=).

        In one transaction: `record(tx, events)` records the ids and returns those it had
        already (default: hub_inbox), `apply(tx, new_events)` does the handler's work on the
        new ones (in delivery order), `extra(tx)` (if given) the batch's own bookkeeping. If that
        fails with an error of the events (`isolatable`), it is undone and the events are taken
        one at a time, each in its own transaction; one that still fails goes to
        `set_aside(event, exc)` (default: kept for retry, parked after the last attempt); `extra`
        then runs in a transaction of its own. Raises if the database is unavailable: nothing of
        the batch is kept, and the caller gives the deliveries back to the queue.
        """
        record = record or self.record_in_inbox
        set_aside = set_aside or self.keep_for_retry
        self.size.observe(len(events))
        outcome, todo, seen = Counter(), [], set()
        for event in events:
            if self.validate and not self._valid(event):
                outcome["invalid"] += 1
                continue
            key = id_key(event["id"])
            if key in seen:                     # a second copy in this batch is a duplicate
                outcome["duplicate"] += 1
                self._counted(metrics.EVENTS_DUPLICATE, [event])
                continue
            seen.add(key)
            todo.append(event)
        try:
            with self.database.transaction() as tx:
                new, old = self._record_and_apply(tx, todo, apply, record)
                if extra is not None:
                    extra(tx)
        except UNAVAILABLE:
            raise
        except self.isolatable as exc:
            log.info("a handler failed in a batch of %d (%s); processing them one by one",
                     len(todo), type(exc).__name__)
            for event in todo:
                outcome[self._take_one(event, apply, record, set_aside)] += 1
            if extra is not None:
                with self.database.transaction() as tx:
                    extra(tx)
            return outcome
        self._counted(metrics.EVENTS_CONSUMED, new)
        self._counted(metrics.EVENTS_DUPLICATE, old)
        outcome.update(processed=len(new), duplicate=len(old))
        return outcome

    def _take_one(self, event, apply, record, set_aside):
        try:
            with self.database.transaction() as tx:
                new, old = self._record_and_apply(tx, [event], apply, record)
        except UNAVAILABLE:
            raise
        except self.isolatable as exc:
            log.warning("handler for %s %s failed: %s", _type_of(event), event["id"],
                        type(exc).__name__)
            set_aside(event, exc)
            return "failed"
        self._counted(metrics.EVENTS_CONSUMED, new)
        self._counted(metrics.EVENTS_DUPLICATE, old)
        return "processed" if new else "duplicate"

    @staticmethod
    def _record_and_apply(tx, events, apply, record):
        known = record(tx, events) if events else ()
        if known:
            new = [e for e in events if id_key(e["id"]) not in known]
            old = [e for e in events if id_key(e["id"]) in known]
        else:
            new, old = events, []
        if new:
            apply(tx, new)
        return new, old

    def _counted(self, counter, events):
        if events:
            for type_key, n in Counter(_type_of(e) for e in events).items():
                counter.labels(self.service, type_key).inc(n)

    # -- the chassis' inbox and failed events ---------------------------------------------------
    @staticmethod
    def record_in_inbox(tx, events):
        """Record the events' ids in hub_inbox, clear their failures; the ids it had already."""
        ids = [e["id"] for e in events]
        fresh = {str(r["event_id"]) for r in tx.all(
            "INSERT INTO hub_inbox (event_id, type) SELECT * FROM unnest(%s::uuid[], "
            "%s::text[]) ON CONFLICT DO NOTHING RETURNING event_id",
            (ids, [_type_of(e) for e in events]))}
        tx.execute("DELETE FROM hub_failed_events WHERE event_id = ANY(%s::uuid[])", (ids,))
        return {id_key(i) for i in ids} - fresh

    def keep_for_retry(self, event, exc):
        self._record_failure(event, _type_of(event), "".join(
            traceback.format_exception_only(type(exc), exc)).strip())

    def _valid(self, event):
        """Whether the event goes to the handler: an invalid one is parked at once; one of an
        unknown type is the handler's (policy "ignore") or kept for a later retry ("retry")."""
        try:
            check_event(event)
            return True
        except UnknownEventType as exc:
            if self.unknown == "ignore":
                return True
            log.warning("event %s: %s; kept for retry until a process that knows it takes it",
                        event["id"], exc)
            self._record_failure(event, _type_of(event), str(exc), retry_forever=True)
            return False
        except EventContractError as exc:
            log.warning("parking invalid event %s: %s",
                        event.get("id") if isinstance(event, dict) else "?", exc)
            self._record_failure(event, _type_of(event), str(exc), park=True)
            return False

    def _record_failure(self, event, type_key, error, park=False, retry_forever=False):
        """Keep the failed event for retry (or parked; never, with retry_forever, when the
        delay between tries stops growing at UNKNOWN_TYPE_MAX_DELAY); raise if it cannot be
        kept."""
        event_id = event.get("id") if isinstance(event, dict) else None
        if not event_id:
            log.error("dropping a message that is not an event at all: %r", str(event)[:200])
            return
        if not CANONICAL_UUID.fullmatch(id_key(event_id)):     # kept, under an id of its own
            event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"hub:not-a-uuid:{event_id}"))
        try:
            with self.database.transaction() as tx:
                row = tx.one(
                    """INSERT INTO hub_failed_events (event_id, type, event, last_error, parked,
                                                      next_attempt_at)
                       VALUES (%(id)s, %(type)s, %(event)s, %(error)s, %(park)s,
                               now() + make_interval(secs => %(delay)s))
                       ON CONFLICT (event_id) DO UPDATE SET
                           attempts = hub_failed_events.attempts + 1,
                           last_error = EXCLUDED.last_error,
                           last_failed_at = now(),
                           parked = NOT %(forever)s AND (EXCLUDED.parked
                                    OR hub_failed_events.attempts + 1 >= %(max)s),
                           next_attempt_at = now() + make_interval(secs => least(
                               %(delay)s * power(2, hub_failed_events.attempts), %(cap)s))
                       RETURNING attempts, parked""",
                    {"id": event_id, "type": type_key, "event": Jsonb(event), "error": error[:2000],
                     "park": not retry_forever and (park or self.max_attempts <= 1),
                     "delay": self.base_delay, "max": self.max_attempts,
                     "forever": retry_forever,
                     "cap": UNKNOWN_TYPE_MAX_DELAY if retry_forever else 1e9})
        except Exception:
            log.exception("cannot record failed event %s; returning it to the queue", event_id)
            eventlet.sleep(1)  # back off before the broker redelivers it
            raise
        metrics.EVENTS_FAILED.labels(self.service, type_key).inc()
        if row["parked"]:
            metrics.EVENTS_PARKED.labels(self.service, type_key).inc()
            log.error("event %s (%s) parked after %s attempt(s)", event_id, type_key, row["attempts"])

    def claim_due_retries(self, limit=50):
        """Take failed events whose next attempt is due (pushing it ahead so no one else does)."""
        rows = self.database.query(
            """UPDATE hub_failed_events SET next_attempt_at = now() + interval '5 minutes'
               WHERE event_id IN (SELECT event_id FROM hub_failed_events
                                  WHERE NOT parked AND next_attempt_at <= now()
                                  ORDER BY next_attempt_at LIMIT %s FOR UPDATE SKIP LOCKED)
               RETURNING event""", (limit,), commit=True)
        return [r["event"] for r in rows]

    def parked_count(self):
        return self.database.query(
            "SELECT count(*) AS n FROM hub_failed_events WHERE parked")[0]["n"]


class EventConsumer(Entrypoint):
    """Consumes the service's own queue, bound to the event types its handler takes, in
    batches: each batch is one nameko worker, which runs it through EventProcessor.take.

    A service has one such entrypoint; it also retries the service's failed events when due.
    """

    def __init__(self, patterns, unknown="retry", **kwargs):
        self.patterns = list(patterns)
        self.unknown = unknown
        super().__init__(**kwargs)

    def setup(self):
        settings = self.container.config["HUB_SETTINGS"]
        others = [ep for ep in self.container.entrypoints
                  if isinstance(ep, EventConsumer) and ep is not self]
        if others:
            raise TypeError(f"{self.container.service_name} has more than one @handle_events "
                            "method; give it one that dispatches by event type")
        load_contract()     # before the first delivery: a backlog must not meet a partial registry
        self.queue = topology.service_queue(settings, self.container.service_name, self.patterns)
        config = self.container.config
        self.batches = QueueBatches(
            self._connect, self.queue.name, self._decode, self._commit,
            batch_size=int(config.get("HUB_INBOX_BATCH", BATCH)),
            prefetch=int(config.get("HUB_INBOX_PREFETCH", PREFETCH)),
            batch_wait=float(config.get("HUB_INBOX_BATCH_WAIT", BATCH_WAIT)),
            sleep=eventlet.sleep, name=f"{self.container.service_name} events")

    def start(self):
        self.stopping = False
        self.consuming = Event()
        self.container.spawn_managed_thread(self._consume)
        self.container.spawn_managed_thread(self._retry_due_events)

    def stop(self):
        """Stop taking deliveries; the batch being committed is finished and acknowledged."""
        self.stopping = True        # the sweep ends before the database it uses is closed
        with eventlet.Timeout(STOP_WAIT_SECONDS, False):
            self.consuming.wait()

    def kill(self):
        self.stopping = True

    def _consume(self):
        try:
            self.batches.run(lambda: self.stopping)
        finally:
            self.consuming.send()

    def _connect(self):
        """The service's own broker user; its queue (with bindings) declared first."""
        uri, ssl = self.container.config["AMQP_URI"], self.container.config.get("AMQP_SSL")
        with kombu.Connection(uri, ssl=ssl or False, connect_timeout=5) as conn:
            self.queue(conn.default_channel).declare()
        return connect(uri, ssl, name=f"{self.container.service_name} events")

    @staticmethod
    def _decode(messages):
        events = []
        for body, _ in messages:
            try:
                events.append(json.loads(body))
            except ValueError:
                log.error("dropping a message that is not JSON (%d bytes)", len(body))
        return events

    def _commit(self, events):
        """Run a batch in a worker of the service (its dependencies injected) and wait for it;
        raises what the worker raised."""
        done = Event()

        def handle_result(worker_ctx, result, exc_info):
            done.send(exc_info)
            return result, exc_info
        self.container.spawn_worker(self, (events,), {}, handle_result=handle_result)
        exc_info = done.wait()
        if exc_info is not None:
            raise exc_info[1]

    def _retry_due_events(self):
        processor = _processor(database_of(self.container), self.container.service_name,
                               self.unknown)
        while True:
            eventlet.sleep(RETRY_POLL_SECONDS)
            if self.stopping:
                return
            try:
                due = processor.claim_due_retries()
                if due:
                    self._commit(due)
                metrics.PARKED_EVENTS.labels(self.container.service_name).set(
                    processor.parked_count())
            except Exception as exc:  # database away: try again on the next round
                log.warning("retry sweep failed: %s", exc)


def id_key(event_id):
    """An event id as PostgreSQL's uuid type gives it back (lower case, with hyphens)."""
    if isinstance(event_id, str) and CANONICAL_UUID.fullmatch(event_id):
        return event_id
    try:
        return str(uuid.UUID(str(event_id)))
    except ValueError:
        return str(event_id)


def _type_of(event):
    return event.get("type", "?") if isinstance(event, dict) else "?"


def _processor(database, service, unknown):
    """The service's one processor of events (kept on its Database: one per process)."""
    if "events" not in database.batchers:
        database.batchers["events"] = EventProcessor.for_service(database, service, unknown)
    return database.batchers["events"]


# events every service's consumer takes besides its own, and what the chassis does with them
CHASSIS_EVENTS = {auth.REVOCATION_EVENT: auth.record_revocation}


def handle_events(*patterns, batch=False, unknown="retry"):
    """Decorate a service method `fn(self, tx, event)` as an idempotent consumer of those types;
    with batch=True it is `fn(self, tx, events)` and takes the new events of a batch at once
    (in delivery order; a list of one when a failed batch is done again one by one).
    `unknown` is what becomes of an event of a type the contract does not know: "retry" (kept
    and tried again, never parked) or "ignore" (given to the handler, which must skip it).

    The decorated method becomes the entrypoint's worker: nameko calls it with a list of
    events (a batch of deliveries, or failed events due for retry)."""
    if unknown not in UNKNOWN_POLICIES:
        raise ValueError(f"unknown= takes one of {UNKNOWN_POLICIES}, not {unknown!r}")

    patterns = (*patterns, *CHASSIS_EVENTS)

    def decorator(fn):
        @functools.wraps(fn)
        def worker(service, events):
            if batch:
                own = functools.partial(fn, service)
            else:
                def own(tx, events):
                    for one in events:
                        fn(service, tx, one)

            def handler(tx, events):
                rest = []
                for event in events:
                    chassis = CHASSIS_EVENTS.get(event.get("type"))
                    if chassis:
                        chassis(tx, event)
                    else:
                        rest.append(event)
                if rest:
                    own(tx, rest)
            return _processor(service.db, service.name, unknown).take(events, handler)
        worker.hub_event_patterns = patterns
        return EventConsumer.decorator(patterns, unknown=unknown)(worker)
    return decorator
