"""A test-only consumer service: records every client event it takes, and fails on request.

`probe_received` has no unique key on purpose: a duplicate that got past the inbox would show
up there as a second row.
"""
from hub.http import api
from hub.inbox import handle_events
from hub.service import HubService


class ProbeService(HubService):
    name = "probe"

    @handle_events("client.#")
    def on_event(self, tx, event):
        # counted outside the handler's transaction, which a failure rolls back
        failing = self.db.query("UPDATE probe_fail SET remaining = remaining - 1 "
                                "WHERE subject = %s AND remaining > 0 RETURNING remaining",
                                (event["subject"],), commit=True)
        tx.execute("INSERT INTO probe_received (event_id, type, subject) VALUES (%s, %s, %s)",
                   (event["id"], event["type"], event["subject"]))
        if failing:
            raise RuntimeError(f"probe told to fail ({failing[0]['remaining']} more)")

    @api("GET", "/probe/sleep", public=True, transaction=False)
    def sleep(self, call):
        self.db.query("SELECT pg_sleep(0.3)")
        return {"slept": 0.3}
