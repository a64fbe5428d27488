"""A test-only consumer service: records every client event it takes, and fails on request.

`probe_received` has no unique key on purpose: a duplicate that got past the inbox would show
up there as a second row. Tests make the handler fail by putting a count in FAILURES (the
probe runs in the test's own process); a handler must not take a second database connection
while its transaction holds one, or a burst of deliveries could exhaust the pool.
"""
from hub.http import api
from hub.inbox import handle_events
from hub.service import HubService

FAILURES = {}   # subject -> how many more times the handler fails for it


class ProbeService(HubService):
    name = "probe"

    @handle_events("client.#")
    def on_event(self, tx, event):
        tx.execute("INSERT INTO probe_received (event_id, type, subject) VALUES (%s, %s, %s)",
                   (event["id"], event["type"], event["subject"]))
        remaining = FAILURES.get(event["subject"], 0)
        if remaining:
            FAILURES[event["subject"]] = remaining - 1
            raise RuntimeError(f"probe told to fail ({remaining - 1} more)")

    @api("GET", "/probe/sleep", public=True, transaction=False)
    def sleep(self, call):
        self.db.query("SELECT pg_sleep(0.3)")
        return {"slept": 0.3}
