"""What resources does with other services' events: keeps its view of intake's clients
(client.*), and opens the needs a visit found (needs.identified.v1, from visits)."""
from contracts.events import visits as visit_events
from resources import client_view, needs

PATTERNS = ("client.#", "needs.identified.#")


def on_event(tx, event):
    """The body of resources' one @handle_events method (dispatch by type)."""
    if event["type"].startswith("client."):
        client_view.apply_event(tx, event)
    elif event["type"] == visit_events.NEEDS_IDENTIFIED.key:
        needs.open_from_visit(tx, event)
