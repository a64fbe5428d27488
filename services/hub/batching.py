"""Work that arrives together runs together: many items, one transaction, one commit.

- A Batcher (group commit) takes items from any number of callers, and one green thread at a
  time runs what has gathered through `run_batch(items) -> outcomes` (one outcome per item, in
  order: a value, or an exception for that caller to raise). Each caller waits for its own
  outcome. Used by routes declared `@api(..., batch=True)` (hub.http).
- QueueBatches reads a queue in batches (hub.inbox for every service's events, and the
  province's ingestion): the next batch is read while one is committed, and each batch is
  acknowledged only after its commit.
"""
import logging
import queue
import socket
import threading
import time

import eventlet
from eventlet.event import Event
from eventlet.queue import Empty, LightQueue

from hub import metrics

log = logging.getLogger(__name__)


class Batcher:
    def __init__(self, run_batch, service, work, max_batch=200):
        self.run_batch = run_batch
        self.size = metrics.BATCH_SIZE.labels(service, work)
        self.max_batch = max_batch
        self.waiting = LightQueue()
        self.draining = False

    def submit(self, item):
        done = Event()
        self.waiting.put((item, done))
        if not self.draining:
            self.draining = True
            eventlet.spawn_n(self._drain)
        outcome = done.wait()
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def _drain(self):
        try:
            while True:
                eventlet.sleep(0)       # let the callers woken with this one hand in theirs
                batch = []
                while len(batch) < self.max_batch:
                    try:
                        batch.append(self.waiting.get_nowait())
                    except Empty:
                        break
                if not batch:
                    return
                self.size.observe(len(batch))
                try:
                    outcomes = self.run_batch([item for item, _ in batch])
                except BaseException as exc:    # the batch as a whole failed: everyone hears it
                    outcomes = [exc] * len(batch)
                for (_, done), outcome in zip(batch, outcomes):
                    done.send(outcome)
        finally:
            self.draining = False


class QueueBatches:
    """Consumes one queue in batches, two stages overlapping: while a batch is committed (the
    `commit` stage: one batch at a time, in delivery order, in a thread of its own — a green
    thread under eventlet), the next is read from the broker and `prepare`d. Each batch is
    acknowledged, with one multiple `basic.ack`, only after its commit returned. If a commit
    raises, the connection is closed: every unacknowledged delivery goes back to the queue, and
    `run()` connects again after a pause.

    `connect()` returns an open py-amqp connection (the stack's client, used through its public
    API only); `prepare([(body, properties)])` returns what `commit(prepared)` takes. A batch is
    handed over when it holds `batch_size` deliveries, or when the committing stage is free and
    its first delivery has waited `batch_wait` seconds: under load batches are full, when quiet
    a delivery is committed within that wait. `prefetch` deliveries stay in flight, so that the
    broker keeps sending while a batch is committed.
    """

    IDLE_WAIT = 1.0             # seconds a quiet consumer waits for a delivery at a time
    YIELD_EVERY = 256           # deliveries read between two chances for the commit stage to run

    def __init__(self, connect, queue, prepare, commit, *, batch_size, prefetch, batch_wait,
                 sleep=time.sleep, name="consumer"):
        self.connect = connect
        self.queue = queue
        self.prepare = prepare
        self.commit = commit
        self.batch_size = batch_size
        self.prefetch = prefetch
        self.batch_wait = batch_wait
        self.sleep = sleep
        self.name = name

    def run(self, stopping):
        """Consume until stopping() is true; connect again with backoff when the broker or a
        commit fails."""
        backoff = 1.0
        while not stopping():
            try:
                self.consume(stopping)
                backoff = 1.0
            except Exception as exc:
                log.warning("%s interrupted (%s); retrying in %.0fs", self.name, exc, backoff)
                self.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    def consume(self, stopping, until_idle=False, limit=None):
        """Read, prepare and hand batches to the commit stage; acknowledge what it committed.
        Returns the number of deliveries committed. `until_idle` returns once the queue stays
        empty a while, `limit` once that many are committed (benchmarks, tests)."""
        conn = self.connect()
        stage = _CommitStage(self.commit, self.name)
        handled, first_at = 0, None
        try:
            channel = conn.channel()
            channel.basic_qos(0, self.prefetch, False)
            pending = []
            channel.basic_consume(self.queue, callback=pending.append)
            while not stopping() and (limit is None or handled < limit):
                quiet = not pending and stage.idle()
                got = self._drain(conn, pending, self.IDLE_WAIT if quiet else 0.01)
                handled += stage.ack_committed(channel)
                if pending and first_at is None:
                    first_at = time.monotonic()
                full = len(pending) >= self.batch_size
                due = pending and stage.idle() and (
                    time.monotonic() - first_at >= self.batch_wait or not got)
                if full or due:
                    batch, pending[:] = pending[:self.batch_size], pending[self.batch_size:]
                    first_at = time.monotonic() if pending else None
                    stage.put(self.prepare([(m.body, m.properties) for m in batch]),
                              batch[-1].delivery_tag, len(batch))
                elif quiet and not got and until_idle:
                    break
            stage.finish()
            handled += stage.ack_committed(channel)
            return handled
        finally:
            stage.stop()
            try:
                conn.close()
            except Exception:      # already gone
                pass

    def _drain(self, conn, pending, timeout):
        """Read deliveries until the batch is full, `timeout` passes with nothing more, or
        batch_wait is over; returns whether anything arrived."""
        before = len(pending)
        until = time.monotonic() + max(timeout, self.batch_wait)
        next_yield = before + self.YIELD_EVERY
        conn.heartbeat_tick()
        while len(pending) < self.batch_size and time.monotonic() < until:
            try:
                conn.drain_events(timeout=timeout)
            except socket.timeout:
                break
            if len(pending) >= next_yield:
                next_yield += self.YIELD_EVERY
                conn.heartbeat_tick()
                time.sleep(0)
            if timeout > 0.01:          # something came after a quiet spell: the rest quickly
                timeout, until = 0.01, min(until, time.monotonic() + self.batch_wait)
        return len(pending) > before


class _CommitStage:
    """Commits prepared batches in order, one at a time, in its own thread; reports which
    delivery tags may be acknowledged."""

    def __init__(self, commit, name):
        self.commit = commit
        self.todo = queue.Queue(maxsize=1)
        self.done = queue.Queue()
        self.error = None
        self.busy = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._loop, name=f"{name}-commit", daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stopped:
            try:
                item = self.todo.get(timeout=0.5)
            except queue.Empty:
                continue
            prepared, tag, size = item
            try:
                self.commit(prepared)
                self.done.put((tag, size))
            except BaseException as exc:           # the reader raises it and reconnects
                self.error = exc
                return
            finally:
                self.busy -= 1

    def _check(self):
        if self.error is not None:
            raise self.error

    def put(self, prepared, tag, size):
        self._check()
        self.busy += 1
        while True:
            try:
                self.todo.put((prepared, tag, size), timeout=0.5)
                return
            except queue.Full:
                self._check()

    def ack_committed(self, channel):
        """Acknowledge everything committed so far (one multiple ack); returns how many."""
        self._check()
        last, count = None, 0
        while True:
            try:
                tag, size = self.done.get_nowait()
            except queue.Empty:
                break
            last, count = tag, count + size
        if last is not None:
            channel.basic_ack(last, multiple=True)
        return count

    def idle(self):
        self._check()
        return self.busy == 0 and self.done.empty()

    def finish(self):
        """Wait for the batches handed over so far to be committed."""
        while self.busy:
            self._check()
            time.sleep(0.01)

    def stop(self):
        self.stopped = True
