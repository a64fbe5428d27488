"""Group commit: work handed in by many green threads at the same moment runs together.

A Batcher takes items from any number of callers, and one green thread at a time runs what has
gathered through `run_batch(items) -> outcomes` (one outcome per item, in order: a value, or an
exception for that caller to raise). Each caller waits for its own outcome. Used by the event
consumers (hub.inbox) and by routes declared `@api(..., batch=True)` (hub.http): many items,
one transaction, one commit.
"""
import eventlet
from eventlet.event import Event
from eventlet.queue import Empty, LightQueue

from hub import metrics


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
