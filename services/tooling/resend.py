"""Re-sending published events from the outboxes straight into one queue.

Every data service keeps the events it published (hub_outbox; `hub prune` leaves them). `resend`
publishes again those of given types since a time or after an event id, in publish order across
the services, with the relay's message properties and the same CloudEvents ids, into one queue:
a subscriber's (`hub subscriber replay`), or a service's own inbox (`hub events resend`: for a
service that has started to take a type it did not take before, or whose queue was lost). A
receiver that had an event already sees it again: services' inboxes ignore it.
"""
import heapq
import sys
import uuid
from datetime import datetime
from itertools import islice

import psycopg
from tqdm import tqdm

from hub.relay import ConfirmingPublisher
from tooling.patterns import PatternError, matching_types, parse_patterns


class ResendError(ValueError):
    """Events cannot be resent as asked; the message says why."""


def parse_since(text):
    """An ISO date or date-time; without an offset it is the machine's local time."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ResendError(f"--since: {text!r} is not a date or date-time "
                          "(2026-05-01, 2026-05-01T08:30, 2026-05-01T08:30+08:00)") from None
    return moment if moment.tzinfo else moment.astimezone()


def _event_position(settings, services, event_id):
    """(published_at, service rank, published_seq) of a published event, from its service."""
    try:
        uuid.UUID(event_id)
    except ValueError:
        raise ResendError(f"--after-event: {event_id!r} is not an event id (a UUID)") from None
    for rank, service in enumerate(services):
        with psycopg.connect(settings.database_dsn(service)) as conn:
            row = conn.execute("SELECT published_at, published_seq FROM hub_outbox "
                               "WHERE event_id = %s AND published_seq IS NOT NULL",
                               (event_id,)).fetchone()
        if row:
            return row[0], rank, row[1]
    raise ResendError(f"--after-event: no service of this hub published an event {event_id}")


def _after(rank, since=None, position=None):
    """The SQL condition (and its parameters) for one service's rows after the start."""
    if position is None:
        return "published_at >= %s", (since,)
    at, start_rank, seq = position
    if rank == start_rank:
        return "(published_at, published_seq) > (%s, %s)", (at, seq)
    return ("published_at >= %s" if rank > start_rank else "published_at > %s"), (at,)


def _published(settings, service, rank, condition, types, cursor_size=1000):
    """One service's published events of `types` after the start, in its publish order."""
    where, params = condition
    with psycopg.connect(settings.database_dsn(service)) as conn:
        with conn.cursor(name=f"replay_{service}") as cur:
            cur.itersize = cursor_size
            cur.execute(f"SELECT published_at, published_seq, event FROM hub_outbox "
                        f"WHERE published_seq IS NOT NULL AND type = ANY(%s) AND {where} "
                        f"ORDER BY published_at, published_seq", (types, *params))
            for at, seq, event in cur:
                yield (at, rank, seq), event


def _count(settings, service, condition, types):
    where, params = condition
    with psycopg.connect(settings.database_dsn(service)) as conn:
        return conn.execute(f"SELECT count(*) FROM hub_outbox WHERE published_seq IS NOT NULL "
                            f"AND type = ANY(%s) AND {where}", (types, *params)).fetchone()[0]


def resend(settings, queue, types, *, since=None, after_event=None, progress=False, batch=500):
    """Publish again into `queue` every published event of `types` since `since` (a datetime)
    or after the event `after_event`, in publish order (by the time each was published, across
    services). Returns how many; the broker confirmed each one."""
    if (since is None) == (after_event is None):
        raise ResendError("give either --since or --after-event")
    services = list(settings.data_services())
    position = _event_position(settings, services, after_event) if after_event else None
    conditions = [_after(rank, since, position) for rank in range(len(services))]
    total = sum(_count(settings, s, c, types) for s, c in zip(services, conditions))
    streams = [_published(settings, s, rank, c, types)
               for rank, (s, c) in enumerate(zip(services, conditions))]
    events = (event for _, event in heapq.merge(*streams, key=lambda item: item[0]))
    publisher = ConfirmingPublisher(settings, declare_topology=False)
    sent = 0
    with tqdm(total=total, unit="event", disable=not progress, file=sys.stderr,
              desc=f"resend to {queue}") as bar:
        try:
            while chunk := list(islice(events, batch)):
                publisher.publish_batch(chunk, queue=queue)
                sent += len(chunk)
                bar.update(len(chunk))
        finally:
            publisher.close()
    return sent


def to_service(settings, service, patterns, *, since=None, after_event=None, progress=False):
    """Resend into `service`'s inbox queue the published events of `patterns` (text, as
    `--events` takes it) that the service takes; its inbox ignores those it has had."""
    from hub import topology
    takes = topology.consumer_subscriptions().get(service)
    if service not in settings.data_services() or not takes:
        raise ResendError(f"SERVICE: {service!r} is not a service of this hub that takes events")
    try:
        wanted = matching_types(parse_patterns(patterns))
    except PatternError as exc:
        raise ResendError(str(exc)) from None
    types = [t for t in wanted if t in set(matching_types(takes))]
    if not types:
        raise ResendError(f"--events: {service} takes none of these events; it takes "
                          f"{', '.join(takes)}")
    return resend(settings, settings.queue_name(service), types, since=since,
                  after_event=after_event, progress=progress)
