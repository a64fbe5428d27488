"""Idempotent event consumers: `@handle_events("client.registered.v1", ...)` on a service method.

Each delivery is processed in one transaction that also records its event id in the inbox, so a
redelivered event changes nothing. A failing handler's event is kept in hub_failed_events and
retried with exponential backoff; after the last attempt it is parked for an operator
(`hub events parked`, `hub events replay`).

The consumer loads the hub's whole event contract (hub.events.load_contract) before it takes its
first message, so an event of a type the service subscribes to never meets an empty registry.
An event of a type the contract truly does not know (a newer producer's, during an upgrade)
follows the consumer's `unknown=` policy: "ignore" hands it to the handler unchecked (stats counts
it as ignored); "retry" (the default) keeps it for retry with backoff, never parked, until a
process that knows the type takes it. Only once the event is safely recorded is the
message acknowledged; if even that is impossible (database down) it goes back to the queue.
A database that is unavailable (connection errors, pool exhausted) counts as no attempt: the
message simply goes back to the queue after a pause.

Deliveries that arrive together (up to the broker's prefetch) are processed together, in one
transaction with one inbox insert (hub.batching): a commit per batch, not per event. If a
handler fails inside a batch, the batch is undone and its events are processed one at a time,
each with its own transaction and retry bookkeeping, so one bad event delays the others by one
round and holds back nothing. Each message is still acknowledged only after its commit.
"""
import functools
import logging
import traceback
import uuid

import amqp
import eventlet
from psycopg.types.json import Jsonb
from nameko.messaging import Consumer

from hub import metrics, topology
from hub.batching import Batcher
from hub.db import UNAVAILABLE, database_of
from hub.events import EventContractError, UnknownEventType, check_event, load_contract

log = logging.getLogger(__name__)

RETRY_POLL_SECONDS = 1.0
UNKNOWN_TYPE_MAX_DELAY = 300        # seconds between tries of an event of an unknown type
UNKNOWN_POLICIES = ("retry", "ignore")


class EventConsumer(Consumer):
    """Consumes the service's own queue, bound to the event types its handler takes.

    A service has one such entrypoint; it also retries the service's failed events when due.
    """

    def __init__(self, patterns, **kwargs):
        self.patterns = list(patterns)
        super().__init__(queue=None, requeue_on_error=True, **kwargs)

    def setup(self):
        settings = self.container.config["HUB_SETTINGS"]
        others = [ep for ep in self.container.entrypoints
                  if isinstance(ep, EventConsumer) and ep is not self]
        if others:
            raise TypeError(f"{self.container.service_name} has more than one @handle_events "
                            "method; give it one that dispatches by event type")
        load_contract()     # before the first delivery: a backlog must not meet a partial registry
        self.queue = topology.service_queue(settings, self.container.service_name, self.patterns)
        super().setup()

    def start(self):
        self.stopping = False
        super().start()
        self.container.spawn_managed_thread(self._retry_due_events)

    def stop(self):
        self.stopping = True        # the sweep ends before the database it uses is closed
        super().stop()

    def handle_message_processed(self, message, result=None, exc_info=None):
        """Acknowledge (or requeue) a processed delivery. If the broker dropped the connection
        meanwhile, the broker delivers the message again and the inbox knows it: the failed ack
        must not escape, as it does from nameko's own (found by tests/chaos: an ack written to
        a reset socket killed the whole service container, leaving a process that answered
        nothing)."""
        try:
            super().handle_message_processed(message, result, exc_info)
        except (OSError, amqp.exceptions.AMQPError) as exc:
            log.warning("could not acknowledge a delivery (%s); the broker will deliver it "
                        "again", exc)

    def _retry_due_events(self):
        processor = EventProcessor.for_service(database_of(self.container),
                                               self.container.service_name)
        while True:
            eventlet.sleep(RETRY_POLL_SECONDS)
            if self.stopping:
                return
            try:
                for event in processor.claim_due_retries():
                    self.container.spawn_worker(self, (event,), {})
                metrics.PARKED_EVENTS.labels(self.container.service_name).set(
                    processor.parked_count())
            except Exception as exc:  # database away: try again on the next round
                log.warning("retry sweep failed: %s", exc)


class EventProcessor:
    """Runs one event through a handler with inbox, retry and parking bookkeeping."""

    def __init__(self, database, service, max_attempts, base_delay, unknown="retry"):
        self.database = database
        self.service = service
        self.max_attempts = max_attempts
        self.base_delay = base_delay
        self.unknown = unknown

    @classmethod
    def for_service(cls, database, service, unknown="retry"):
        """A processor with the hub's retry settings."""
        settings = database.settings
        return cls(database, service, settings.retry_attempts, settings.retry_base_seconds,
                   unknown)

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

    def process_batch(self, calls):
        """Run [(handler, event)] in one transaction (a handler takes `(tx, events)`); a list of
        outcomes (or exceptions, for the callers to raise). A failing handler sends the batch
        through `process` one by one."""
        outcomes = [None] * len(calls)
        todo = []
        for i, (handler, event) in enumerate(calls):
            if self._valid(event):
                todo.append(i)
            else:
                outcomes[i] = "invalid"
        if not todo:
            return outcomes
        try:
            with self.database.transaction() as tx:
                ids = [calls[i][1]["id"] for i in todo]
                fresh = {str(r["event_id"]) for r in tx.all(
                    "INSERT INTO hub_inbox (event_id, type) SELECT * FROM unnest(%s::uuid[], "
                    "%s::text[]) ON CONFLICT DO NOTHING RETURNING event_id",
                    (ids, [_type_of(calls[i][1]) for i in todo]))}
                tx.execute("DELETE FROM hub_failed_events WHERE event_id = ANY(%s::uuid[])", (ids,))
                new = []
                for i in todo:
                    key = _id_key(calls[i][1]["id"])
                    if key in fresh:
                        fresh.discard(key)      # a second copy in this batch is a duplicate
                        new.append(i)
                        outcomes[i] = "processed"
                    else:
                        outcomes[i] = "duplicate"
                if new:
                    handler = calls[todo[0]][0]     # one service method: any caller's will do
                    handler(tx, [calls[i][1] for i in new])
        except UNAVAILABLE as exc:
            log.warning("database unavailable for %d event(s) (%s); returning them to the queue",
                        len(todo), exc)
            eventlet.sleep(1)
            for i in todo:
                outcomes[i] = exc
            return outcomes
        except Exception as exc:
            log.info("a handler failed in a batch of %d (%s); processing them one by one",
                     len(todo), exc)
            for i in todo:
                try:
                    outcomes[i] = self.process(*calls[i], checked=True)
                except Exception as one:
                    outcomes[i] = one
            return outcomes
        for i in todo:
            counter = (metrics.EVENTS_CONSUMED if outcomes[i] == "processed"
                       else metrics.EVENTS_DUPLICATE)
            counter.labels(self.service, _type_of(calls[i][1])).inc()
        return outcomes

    def process(self, handler, event, checked=False):
        type_key = _type_of(event)
        if not checked and not self._valid(event):
            return "invalid"
        try:
            with self.database.transaction() as tx:
                fresh = tx.one("INSERT INTO hub_inbox (event_id, type) VALUES (%s, %s) "
                               "ON CONFLICT DO NOTHING RETURNING event_id",
                               (event["id"], type_key))
                if fresh is None:
                    metrics.EVENTS_DUPLICATE.labels(self.service, type_key).inc()
                    tx.execute("DELETE FROM hub_failed_events WHERE event_id = %s", (event["id"],))
                    return "duplicate"
                handler(tx, [event])
                tx.execute("DELETE FROM hub_failed_events WHERE event_id = %s", (event["id"],))
        except UNAVAILABLE as exc:
            # the database is away or overloaded: not the handler's fault, so no attempt is
            # counted; the message goes back to the queue after a pause
            log.warning("database unavailable for %s %s (%s); returning it to the queue",
                        type_key, event["id"], exc)
            eventlet.sleep(1)
            raise
        except Exception as exc:
            log.warning("handler for %s %s failed: %s", type_key, event["id"], exc)
            self._record_failure(event, type_key, "".join(
                traceback.format_exception_only(type(exc), exc)).strip())
            return "failed"
        metrics.EVENTS_CONSUMED.labels(self.service, type_key).inc()
        return "processed"

    def _record_failure(self, event, type_key, error, park=False, retry_forever=False):
        """Keep the failed event for retry (or parked; never, with retry_forever, when the
        delay between tries stops growing at UNKNOWN_TYPE_MAX_DELAY); raise if it cannot be
        kept."""
        event_id = event.get("id") if isinstance(event, dict) else None
        if not event_id:
            log.error("dropping a message that is not an event at all: %r", str(event)[:200])
            return
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


def _id_key(event_id):
    """An event id as PostgreSQL's uuid type gives it back (lower case, with hyphens)."""
    try:
        return str(uuid.UUID(str(event_id)))
    except ValueError:
        return str(event_id)


def _type_of(event):
    return event.get("type", "?") if isinstance(event, dict) else "?"


def _batcher(service, unknown):
    """The service's one batcher of deliveries (kept on its Database: one per process)."""
    database = service.db
    if "events" not in database.batchers:
        processor = EventProcessor.for_service(database, service.name, unknown)
        database.batchers["events"] = Batcher(processor.process_batch, service.name, "events")
    return database.batchers["events"]


def handle_events(*patterns, batch=False, unknown="retry"):
    """Decorate a service method `fn(self, tx, event)` as an idempotent consumer of those types;
    with batch=True it is `fn(self, tx, events)` and takes the new events of a batch at once
    (in delivery order; a list of one when a failed batch is done again one by one).
    `unknown` is what becomes of an event of a type the contract does not know: "retry" (kept
    and tried again, never parked) or "ignore" (given to the handler, which must skip it)."""
    if unknown not in UNKNOWN_POLICIES:
        raise ValueError(f"unknown= takes one of {UNKNOWN_POLICIES}, not {unknown!r}")

    def decorator(fn):
        @functools.wraps(fn)
        def worker(service, event):
            if batch:
                handler = functools.partial(fn, service)
            else:
                def handler(tx, events):
                    for one in events:
                        fn(service, tx, one)
            return _batcher(service, unknown).submit((handler, event))
        worker.hub_event_patterns = patterns
        return EventConsumer.decorator(patterns)(worker)
    return decorator
