"""What resources does with other services' events: keeps its view of intake's clients
(client.*), and opens the needs a visit found (needs.identified.v1, from visits)."""
from itertools import groupby

from contracts.events import visits as visit_events
from resources import client_view, needs

PATTERNS = ("client.#", "needs.identified.#")


def on_events(tx, events):
    """The body of resources' one @handle_events method: a batch, in delivery order; each run of
    client events is applied to the view in one round trip."""
    for is_client, run in groupby(events, key=lambda e: e["type"].startswith("client.")):
        if is_client:
            client_view.apply_events(tx, list(run))
        else:
            for event in run:
                if event["type"] == visit_events.NEEDS_IDENTIFIED.key:
                    needs.open_from_visit(tx, event)
