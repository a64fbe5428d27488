"""The outbox relay: publishes committed events in commit order, with publisher confirms, in batches.

Writers never wait for each other: each just inserts its events. The relay takes the unpublished
rows it can see (committed ones only), publishes them, and after the broker confirms numbers them
(`published_seq`) in the order it published them: the order their commits became visible. A row
whose transaction commits late is simply picked up by a later batch, never skipped; one client's
events keep their order because changes to one client are serialised by its row lock.

Exactly one relay of a service works at a time (it holds the relay row's lock); others wait.
If the broker is down the events stay in the outbox and the backlog drains on its return. A crash
between publishing and recording republishes a batch: consumers' inboxes make that harmless.
"""
import json
import logging
import time

import amqp

from hub import metrics, topology

log = logging.getLogger(__name__)


class PublishNotConfirmed(Exception):
    pass


class ConfirmingPublisher:
    """A channel in confirm mode that publishes a batch and waits for the broker's acks."""

    def __init__(self, settings, confirm_timeout=10, *, declare_topology=True, service=None):
        self.settings = settings
        self.service = service          # connect as this service's own user (None: the admin)
        self.confirm_timeout = confirm_timeout
        self.declare_topology = declare_topology
        self.connection = None
        self.channel = None

    def connect(self):
        if self.channel is not None:
            return
        self.connection = self.settings.broker_connection(self.service, connect_timeout=5)
        self.connection.ensure_connection(max_retries=1)
        if self.declare_topology:
            topology.declare(self.settings, self.connection.default_channel)
        channel = self.connection.connection.channel()
        channel.confirm_select()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        self.channel = channel
        self.sent = 0
        self.acked_upto = 0
        self.nacked = False

    def _on_ack(self, delivery_tag, multiple):
        self.acked_upto = max(self.acked_upto, delivery_tag)

    def _on_nack(self, delivery_tag, multiple):
        self.nacked = True

    def close(self):
        if self.connection is not None:
            try:
                self.connection.release()
            except Exception:  # the connection is already gone
                pass
        self.connection = self.channel = None

    def publish_batch(self, events, queue=None):
        """Publish to the hub's exchange by type, or with `queue` straight into that one queue
        (through the default exchange; `hub subscriber replay` does)."""
        self.connect()
        exchange, route = (self.settings.exchange, None) if queue is None else ("", queue)
        try:
            for event in events:
                message = amqp.Message(
                    json.dumps(event, ensure_ascii=False),
                    content_type="application/json", content_encoding="utf-8",
                    delivery_mode=2, message_id=event["id"], type=event["type"],
                    application_headers={"ce_type": event["type"], "ce_source": event["source"]})
                self.channel.basic_publish(message, exchange=exchange,
                                           routing_key=route or event["type"])
                self.sent += 1
            while self.acked_upto < self.sent and not self.nacked:
                self.connection.connection.drain_events(timeout=self.confirm_timeout)
            if self.nacked:
                raise PublishNotConfirmed("the broker refused (nacked) a published event")
        except Exception:
            self.close()
            raise


class OutboxRelay:
    def __init__(self, settings, database, service):
        self.settings = settings
        self.database = database
        self.service = service
        self.publisher = ConfirmingPublisher(settings, service=service)
        self._backlog_checked = 0.0

    def relay_once(self):
        """Publish the next batch; returns how many events were confirmed (0 if none or busy)."""
        with self.database.pool.connection() as conn:
            state = conn.execute(
                "SELECT published_seq FROM hub_relay WHERE id = 1 FOR UPDATE SKIP LOCKED"
            ).fetchone()
            if state is None:                      # another instance is relaying
                conn.rollback()
                self.update_backlog()              # keep this instance's gauge true anyway
                return 0
            rows = conn.execute(
                "SELECT position, event FROM hub_outbox WHERE published_seq IS NULL "
                "ORDER BY position LIMIT %s", (self.settings.relay_batch,)).fetchall()
            if not rows:
                conn.rollback()
                self.update_backlog()
                return 0
            events = [r["event"] for r in rows]
            self.publisher.publish_batch(events)
            conn.execute(
                "UPDATE hub_outbox SET published_seq = %s + u.ord, published_at = now() "
                "FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(pos, ord) WHERE position = u.pos",
                (state["published_seq"], [r["position"] for r in rows]))
            conn.execute("UPDATE hub_relay SET published_seq = %s, published_at = now() "
                         "WHERE id = 1", (state["published_seq"] + len(rows),))
            conn.commit()
        for event in events:
            metrics.EVENTS_PUBLISHED.labels(self.service, event["type"]).inc()
        self.update_backlog()
        return len(events)

    def update_backlog(self, every_seconds=1.0):
        """Refresh the backlog gauge, at most once a second (it is a count over the outbox)."""
        now = time.monotonic()
        if now - self._backlog_checked < every_seconds:
            return
        self._backlog_checked = now
        row = self.database.query(
            "SELECT count(*) AS n FROM hub_outbox WHERE published_seq IS NULL")[0]
        metrics.OUTBOX_BACKLOG.labels(self.service).set(row["n"])

    def close(self):
        self.publisher.close()
