"""Set-based events: one outbox row per visit row, built in SQL inside the statement that changes them.

`tx.emit` builds and validates each event in Python (~25 µs each); a sweep over 10^6 visits or
planning 10^5 clients raises 10^5 events, so visit events are built in SQL instead, as the same
CloudEvents envelope, and inserted into the chassis outbox (hub_outbox) in the transaction that
changes the rows. The relay publishes outbox rows in the order their commits become visible,
so writers need no lock. Each type's data expression is in visits/events.py; the tests check
every event the service writes against its registered schema.
"""
from datetime import datetime, timezone

from hub.events import SPEC_VERSION
from visits.events import ROW_EVENTS


def insert_sql(rows, *kinds):
    """SQL inserting events for the rows of `rows` (a table or data-changing CTE, aliased v):
    `kinds` are (event key, condition over v) pairs; each row gets the events whose condition
    it meets, in the order given (so a visit's visit.scheduled precedes its visit.overdue).

    Usable on its own or as a member of a WITH; it needs the named parameters of `params(tx)`.
    """
    parts = []
    for rank, (event_key, where) in enumerate(kinds):
        row_event = ROW_EVENTS[event_key]
        join = (" JOIN visit_clients c ON c.client_id = v.client_id"
                if row_event.joins_client else "")
        parts.append(f"""SELECT v.seq, {rank} AS rank, '{event_key}' AS type,
                                'visit/' || v.id AS subject, {row_event.data_sql} AS data
                         FROM {rows}{join} WHERE {where}""")
    return f"""INSERT INTO hub_outbox (event_id, type, subject, event)
        SELECT e.id, e.type, e.subject, jsonb_build_object(
            'specversion', '{SPEC_VERSION}', 'id', e.id, 'source', %(event_source)s::text,
            'type', e.type, 'time', %(event_time)s::text, 'subject', e.subject,
            'datacontenttype', 'application/json', 'data', e.data)
        FROM (SELECT gen_random_uuid() AS id, x.* FROM ({" UNION ALL ".join(parts)}) x) e
        ORDER BY e.seq, e.rank"""


def params(tx):
    """The parameters insert_sql needs: this service as the source, and the time now."""
    return {"event_source": tx.source, "event_time": datetime.now(timezone.utc).isoformat()}


def emit_for(tx, where, where_params, *event_keys):
    """Emit events of each of `event_keys`, in that order, for each visit matching `where`."""
    tx.execute(insert_sql("visits v", *((key, where) for key in event_keys)),
               {**params(tx), **where_params})
