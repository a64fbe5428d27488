"""The events visits publishes: ids, codes, categories, dates and counts; no personal details.

Events about a visit are built in SQL from its row (`v`, a visits row, and `c`, the client's
view), so a sweep can raise 10^5 of them in one statement (see visits/outbox.py); each such
type's data expression sits next to its schema here, and the tests check every event the
service writes against its schema. Free text (notes, need descriptions, verification changes)
stays in the visits database and its API.
"""
from dataclasses import dataclass

from marshmallow import Schema, fields, validate

from hub.events import EventType, register
from intake import domain as vocabulary
from visits import domain

TOWNSHIP = validate.Regexp(r"^\d{9}$")
VILLAGE = validate.Regexp(r"^\d{12}$")
CATEGORY_LIST = fields.List(fields.String(validate=validate.OneOf(list(vocabulary.CATEGORIES))),
                            required=True)


class VisitData(Schema):
    visit_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(domain.VISIT_KINDS))
    round_id = fields.UUID(required=True, allow_none=True)
    township_code = fields.String(required=True, validate=TOWNSHIP)
    village_code = fields.String(required=True, validate=VILLAGE)
    status = fields.String(required=True, validate=validate.OneOf(domain.STATUSES))
    due_on = fields.Date(required=True)
    worker_id = fields.UUID(required=True, allow_none=True)


class VisitScheduledData(VisitData):
    reason = fields.String(required=True, validate=validate.OneOf(domain.SCHEDULE_REASONS))
    previous_due_on = fields.Date(required=True, allow_none=True)


class VisitCompletedData(VisitData):
    visited_on = fields.Date(required=True)
    mode = fields.String(required=True, validate=validate.OneOf(domain.MODES))
    completed_by = fields.UUID(required=True)
    delay_days = fields.Integer(required=True)
    categories = CATEGORY_LIST
    age_group = fields.String(required=True)
    info_correct = fields.Boolean(required=True, allow_none=True)
    needs_count = fields.Integer(required=True)
    assessed_risk_level = fields.String(required=True, allow_none=True,
                                        validate=validate.OneOf(vocabulary.RISK_LEVELS))


class VisitMissedData(VisitData):
    missed_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(domain.MISSED_REASONS))


class VisitCancelledData(VisitData):
    cancelled_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(domain.CANCEL_REASONS))


class VisitOverdueData(VisitData):
    days_overdue = fields.Integer(required=True)


class VisitEscalatedData(VisitOverdueData):
    level = fields.String(required=True, validate=validate.OneOf(domain.ESCALATION_LEVELS[1:]))


class RiskAssessedData(Schema):
    visit_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    township_code = fields.String(required=True, validate=TOWNSHIP)
    risk_level = fields.String(required=True, validate=validate.OneOf(vocabulary.RISK_LEVELS))
    risk_flags = fields.List(fields.String(validate=validate.OneOf(vocabulary.RISK_FLAGS)),
                             required=True)
    previous_risk_level = fields.String(required=True,
                                        validate=validate.OneOf(vocabulary.RISK_LEVELS))
    assessed_on = fields.Date(required=True)


class IdentifiedNeed(Schema):
    need_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(domain.NEED_KINDS))


class NeedsIdentifiedData(Schema):
    visit_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    township_code = fields.String(required=True, validate=TOWNSHIP)
    village_code = fields.String(required=True, validate=VILLAGE)
    categories = CATEGORY_LIST
    identified_on = fields.Date(required=True)
    needs = fields.List(fields.Nested(IdentifiedNeed), required=True)


class Participant(Schema):
    client_id = fields.UUID(required=True)
    categories = CATEGORY_LIST
    age_group = fields.String(required=True)


class ActivityHeldData(Schema):
    activity_id = fields.UUID(required=True)
    township_code = fields.String(required=True, validate=TOWNSHIP)
    kind = fields.String(required=True, validate=validate.OneOf(domain.ACTIVITY_KINDS))
    held_on = fields.Date(required=True)
    person_times = fields.Integer(required=True)
    person_times_by_category = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                           required=True)
    participants = fields.List(fields.Nested(Participant), required=True)
    worker_ids = fields.List(fields.UUID(), required=True)
    volunteer_ids = fields.List(fields.UUID(), required=True)


class RoundOpenedData(Schema):
    round_id = fields.UUID(required=True)
    categories = CATEGORY_LIST
    township_codes = fields.List(fields.String(validate=TOWNSHIP), required=True)
    opened_on = fields.Date(required=True)
    deadline = fields.Date(required=True)
    visits_planned = fields.Integer(required=True)


class RoundClosedData(Schema):
    round_id = fields.UUID(required=True)
    closed_on = fields.Date(required=True)
    planned = fields.Integer(required=True)
    done = fields.Integer(required=True)
    missed = fields.Integer(required=True)
    cancelled = fields.Integer(required=True)
    info_changed = fields.Integer(required=True)


def _register(name, schema, description):
    return register(name, 1, schema, "visits", description)


SCHEDULED = _register("visit.scheduled", VisitScheduledData,
                      "A visit was planned, or its due date, station or worker changed.")
COMPLETED = _register("visit.completed", VisitCompletedData,
                      "A visit took place (one person-time), with the client's categories then.")
MISSED = _register("visit.missed", VisitMissedData, "A visit was attempted but did not happen.")
CANCELLED = _register("visit.cancelled", VisitCancelledData,
                      "An open visit was cancelled (the case closed, or its round closed).")
OVERDUE = _register("visit.overdue", VisitOverdueData,
                    "A visit is past its due date and the grace period.")
ESCALATED = _register("visit.escalated", VisitEscalatedData,
                      "An overdue visit was escalated to the township admin or the county.")
RISK_ASSESSED = _register("visit.risk_assessed", RiskAssessedData,
                          "A visit assessed the client's risk differently; intake records it.")
NEEDS_IDENTIFIED = _register("needs.identified", NeedsIdentifiedData,
                             "A visit found needs (money, goods, service, referral) of a client.")
ACTIVITY_HELD = _register("activity.held", ActivityHeldData,
                          "A group activity was held; each participant is one person-time.")
ROUND_OPENED = _register("verification.round_opened", RoundOpenedData,
                         "A verification round (对象核查) was opened with a deadline.")
ROUND_CLOSED = _register("verification.round_closed", RoundClosedData,
                         "A verification round was closed, with its final progress.")


# -- events built in SQL from a visit row -----------------------------------------------------------
@dataclass(frozen=True)
class RowEvent:
    """An event type whose data is one SQL expression over `v` (a visit) and `c` (its client)."""
    etype: EventType
    data_sql: str
    joins_client: bool = False


LEVELS_SQL = ", ".join(f"'{level}'" for level in domain.ESCALATION_LEVELS)
VISIT_FIELDS = """'visit_id', v.id, 'client_id', v.client_id, 'kind', v.kind,
    'round_id', v.round_id, 'township_code', v.township_code, 'village_code', v.village_code,
    'status', v.status, 'due_on', v.due_on, 'worker_id', v.worker_id"""


def visit_data(extra):
    """A visit event's data: the visit's fields and `extra` ones, built in one call (a second
    object joined with || costs a fifth more when 10^5 events are built)."""
    return f"jsonb_build_object({VISIT_FIELDS},\n        {extra})"


ROW_EVENTS = {
    SCHEDULED.key: RowEvent(SCHEDULED, visit_data(
        "'reason', v.scheduled_reason, 'previous_due_on', v.previous_due_on")),
    COMPLETED.key: RowEvent(COMPLETED, visit_data("""'visited_on', v.visited_on, 'mode', v.mode,
        'completed_by', v.completed_by, 'delay_days', v.delay_days, 'categories', c.categories,
        'age_group', c.age_group, 'info_correct', (v.verification ->> 'info_correct')::boolean,
        'needs_count', coalesce(jsonb_array_length(v.needs), 0),
        'assessed_risk_level', v.risk_assessment ->> 'risk_level'"""), joins_client=True),
    MISSED.key: RowEvent(MISSED, visit_data("'missed_on', v.missed_on, 'reason', v.missed_reason")),
    CANCELLED.key: RowEvent(CANCELLED, visit_data(
        "'cancelled_on', v.cancelled_on, 'reason', v.cancel_reason")),
    OVERDUE.key: RowEvent(OVERDUE, visit_data("'days_overdue', %(today)s::date - v.due_on")),
    ESCALATED.key: RowEvent(ESCALATED, visit_data(
        "'days_overdue', %(today)s::date - v.due_on, 'level', (ARRAY[" + LEVELS_SQL
        + "])[v.escalation_level + 1]")),
    RISK_ASSESSED.key: RowEvent(RISK_ASSESSED, """jsonb_build_object(
        'visit_id', v.id, 'client_id', v.client_id, 'township_code', v.township_code,
        'risk_level', v.risk_assessment ->> 'risk_level',
        'risk_flags', v.risk_assessment -> 'risk_flags',
        'previous_risk_level', c.risk_level, 'assessed_on', v.visited_on)""", joins_client=True),
    NEEDS_IDENTIFIED.key: RowEvent(NEEDS_IDENTIFIED, """jsonb_build_object(
        'visit_id', v.id, 'client_id', v.client_id, 'township_code', v.township_code,
        'village_code', v.village_code, 'categories', c.categories, 'identified_on', v.visited_on,
        'needs', (SELECT jsonb_agg(jsonb_build_object('need_id', n ->> 'need_id',
                                                      'kind', n ->> 'kind'))
                  FROM jsonb_array_elements(v.needs) n))""", joins_client=True),
}
