"""What visits does with the events it takes: intake's client.* (keep its view, then plan, re-date,
cancel, move) and resources' worker.* (visits.workers).

An event about a client visits has not heard of yet (visits deployed after intake had clients,
or events handled out of order) starts the client's plan from the event's snapshot, so every
client event leads to a plan, once.
"""
import logging

from contracts.events import intake as client_events
from visits import client_view, plans, workers
from visits import policy as policies

log = logging.getLogger(__name__)

PATTERNS = ("client.#", workers.PATTERN)


def on_events(tx, today, events):
    """A batch of events, in delivery order: each run of registrations is planned at once
    (plans.start takes lists); any other event is handled on its own, in its place."""
    policy = policies.load(tx)
    registered = []
    for event in events:
        if event["type"] == client_events.REGISTERED.key:
            registered.append(client_view.snapshot(event))
            continue
        if registered:
            plans.start(tx, policy, today, registered)
            registered = []
        if event["type"].startswith("worker."):
            workers.on_worker_event(tx, policy, today, event)
        else:
            on_client_event(tx, today, event)
    if registered:
        plans.start(tx, policy, today, registered)


def on_client_event(tx, today, event):
    kind = event["type"]
    snap = client_view.snapshot(event)
    policy = policies.load(tx)
    before = client_view.find(tx, snap.client_id, for_update=True)
    if before is None or kind == client_events.REGISTERED.key:
        plans.start(tx, policy, today, [snap])      # idempotent: one plan per client
        if kind == client_events.REGISTERED.key:
            return "planned"
        # a first-heard-of client: the plan may also have just been made by a concurrent
        # registration with the older risk, so the change itself is applied as well
    elif before["as_of"] > snap.as_of:
        log.info("skipping stale %s for client %s", event["type"], snap.client_id)
        return "stale"
    else:
        client_view.upsert(tx, [snap])
    on = snap.effective_date
    if kind == client_events.RISK_CHANGED.key:
        plans.reschedule(tx, policy, today, on, "risk_changed", [snap.client_id], risk_changed=True)
    elif (kind == client_events.UPDATED.key
          and "categories" in event["data"].get("changed_fields", ())):
        plans.reschedule(tx, policy, today, on, "categories_changed", [snap.client_id])
    elif kind == client_events.CLOSED.key:
        plans.close(tx, snap.client_id, on)
    elif kind == client_events.REOPENED.key:
        plans.reopen(tx, policy, today, snap.client_id, on)
    elif kind == client_events.TRANSFERRED.key:
        plans.transfer(tx, policy, today, snap.client_id)
    return kind
