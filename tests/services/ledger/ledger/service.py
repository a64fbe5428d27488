"""A downstream consumer (as stats is): one row per donation or allocation it counted.

Its table has no unique key on purpose: a duplicate that got past the inbox would be a row.
"""
from hub.inbox import handle_events
from hub.service import HubService

TYPES = ("donation.received.v1", "allocation.made.v1")


class LedgerService(HubService):
    name = "ledger"

    @handle_events("donation.received.#", "allocation.made.#")
    def on_event(self, tx, event):
        tx.execute("INSERT INTO ledger (event_id, type, amount_fen) VALUES (%s, %s, %s)",
                   (event["id"], event["type"], event["data"]["value_fen"]))
