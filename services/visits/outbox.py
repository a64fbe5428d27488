"""Set-based events: one outbox row per visit row, built in SQL inside the statement that changes them.

`tx.emit` builds and validates each event in Python (~25 µs each); a sweep over 10^6 visits or
planning 10^5 clients raises 10^5 events, so visit events are built in SQL instead, as the same
CloudEvents envelope, and inserted into the chassis outbox (hub_outbox) in the transaction that
changes the rows. The relay publishes outbox rows in the order their commits become visible,
so writers need no lock. Each type's data expression is below (ROW_EVENTS), its schema in
contracts.events.visits; the tests check every event the service writes against it.
"""
from dataclasses import dataclass
from datetime import datetime, timezone

from contracts.events import visits as events
from contracts.events.visits import ESCALATION_LEVELS
from hub.events import SPEC_VERSION, EventType


@dataclass(frozen=True)
class RowEvent:
    """An event type whose data is one SQL expression over `v` (a visit) and `c` (its client)."""
    etype: EventType
    data_sql: str
    joins_client: bool = False


LEVELS_SQL = ", ".join(f"'{level}'" for level in ESCALATION_LEVELS)
VISIT_FIELDS = """'visit_id', v.id, 'client_id', v.client_id, 'kind', v.kind,
    'round_id', v.round_id, 'township_code', v.township_code, 'village_code', v.village_code,
    'status', v.status, 'due_on', v.due_on, 'worker_id', v.worker_id"""


def visit_data(extra):
    """A visit event's data: the visit's fields and `extra` ones, built in one call (a second
    object joined with || costs a fifth more when 10^5 events are built)."""
    return f"jsonb_build_object({VISIT_FIELDS},\n        {extra})"


ROW_EVENTS = {
    events.SCHEDULED.key: RowEvent(events.SCHEDULED, visit_data(
        "'reason', v.scheduled_reason, 'previous_due_on', v.previous_due_on")),
    events.COMPLETED.key: RowEvent(events.COMPLETED, visit_data("""
        'visited_on', v.visited_on, 'mode', v.mode, 'completed_by', v.completed_by,
        'delay_days', v.delay_days, 'categories', c.categories,
        'age_group', c.age_group, 'info_correct', (v.verification ->> 'info_correct')::boolean,
        'needs_count', coalesce(jsonb_array_length(v.needs), 0),
        'assessed_risk_level', v.risk_assessment ->> 'risk_level'"""), joins_client=True),
    events.MISSED.key: RowEvent(events.MISSED, visit_data(
        "'missed_on', v.missed_on, 'reason', v.missed_reason")),
    events.CANCELLED.key: RowEvent(events.CANCELLED, visit_data(
        "'cancelled_on', v.cancelled_on, 'reason', v.cancel_reason")),
    events.OVERDUE.key: RowEvent(events.OVERDUE, visit_data(
        "'days_overdue', %(today)s::date - v.due_on")),
    events.ESCALATED.key: RowEvent(events.ESCALATED, visit_data(
        "'days_overdue', %(today)s::date - v.due_on, 'level', (ARRAY[" + LEVELS_SQL
        + "])[v.escalation_level + 1]")),
    events.RISK_ASSESSED.key: RowEvent(events.RISK_ASSESSED, """jsonb_build_object(
        'visit_id', v.id, 'client_id', v.client_id, 'township_code', v.township_code,
        'risk_level', v.risk_assessment ->> 'risk_level',
        'risk_flags', v.risk_assessment -> 'risk_flags',
        'previous_risk_level', c.risk_level, 'assessed_on', v.visited_on)""", joins_client=True),
    events.NEEDS_IDENTIFIED.key: RowEvent(events.NEEDS_IDENTIFIED, """jsonb_build_object(
        'visit_id', v.id, 'client_id', v.client_id, 'township_code', v.township_code,
        'village_code', v.village_code, 'categories', c.categories, 'identified_on', v.visited_on,
        'needs', (SELECT jsonb_agg(jsonb_build_object('need_id', n ->> 'need_id',
                                                      'kind', n ->> 'kind'))
                  FROM jsonb_array_elements(v.needs) n))""", joins_client=True),
}


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
    emit_each(tx, [(key, where) for key in event_keys], where_params)


def emit_each(tx, kinds, where_params):
    """Emit, for each visit, the events of `kinds` ((event key, condition over v) pairs) whose
    condition it meets, in that order."""
    tx.execute(insert_sql("visits v", *kinds), {**params(tx), **where_params})
