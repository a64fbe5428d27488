"""What intake does with other services' events: a risk assessed on a visit is recorded here.

Intake owns each client's risk (one source of truth). visits publishes visit.risk_assessed.v1
when a visit finds a risk that differs from the client's; intake records it with its own
change_risk use case (history row and client.risk_changed event included). An assessment older
than a risk change intake already has is ignored, as is one for a closed or unknown client.
"""
import logging
from datetime import date

from contracts.events import visits as visit_events
from hub import audit
from hub.errors import Conflict, NotFound
from intake import registry

log = logging.getLogger(__name__)

PATTERNS = (visit_events.RISK_ASSESSED.key,)


def on_event(tx, event):
    """The body of intake's one @handle_events method (dispatch by type)."""
    if event["type"] == visit_events.RISK_ASSESSED.key:
        return risk_assessed(tx, event["data"])
    return "ignored"


def risk_assessed(tx, data):
    assessed_on = date.fromisoformat(str(data["assessed_on"]))
    newer = tx.one("""SELECT 1 FROM client_history WHERE client_id = %s AND action = 'risk_changed'
                      AND effective_date > %s LIMIT 1""", (data["client_id"], assessed_on))
    if newer:
        log.info("visit %s assessed client %s's risk before a later change; not applied",
                 data["visit_id"], data["client_id"])
        return "superseded"
    try:
        registry.change_risk(tx, data["client_id"], {
            "risk_level": data["risk_level"], "risk_flags": list(data["risk_flags"]),
            "effective_date": assessed_on, "reason": f"assessed on visit {data['visit_id']}"},
            f"visit/{data['visit_id']}")
    except (Conflict, NotFound) as exc:
        log.info("risk assessed on visit %s not applied: %s", data["visit_id"], exc)
        return "not_applied"
    audit.append(tx, [audit.Entry(f"visit/{data['visit_id']}", "service:visits", "client.change",
                                  f"client/{data['client_id']}", "event",
                                  {"event": visit_events.RISK_ASSESSED.key,
                                   "fields": ["risk_flags", "risk_level"]})])
    return "applied"
