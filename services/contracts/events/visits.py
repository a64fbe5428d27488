"""The events visits publishes: ids, codes, categories, dates and counts; no personal details.

Free text (notes, need descriptions, verification changes) stays in the visits database and its
API. Most of these events are built in SQL from a visit's row (services/visits/outbox.py); the
tests check every event the service writes against its schema here.
"""
from marshmallow import Schema, fields, validate

from contracts import clients as vocabulary
from contracts.places import TOWNSHIP, VILLAGE
from hub.events import register

VISIT_KINDS = ("routine", "verification")
OPEN_STATUSES = ("scheduled", "due", "overdue")
STATUSES = OPEN_STATUSES + ("done", "missed", "cancelled")
MODES = ("home", "phone", "station", "other")
NEED_KINDS = ("money", "goods", "service", "referral")
MISSED_REASONS = ("not_home", "refused", "unreachable", "hospitalised", "away", "other")
CANCEL_REASONS = ("client_closed", "round_closed")
SCHEDULE_REASONS = ("registered", "completed", "missed", "risk_changed", "categories_changed",
                    "policy_changed", "reopened", "transferred", "reassigned", "verification_round")
ESCALATION_LEVELS = ("none", "township", "county")     # stored as their index
# 小组活动, 主题活动, 义诊, 讲座
ACTIVITY_KINDS = ("group_work", "theme_activity", "free_clinic", "lecture", "other")
CATEGORY_LIST = fields.List(fields.String(validate=validate.OneOf(list(vocabulary.CATEGORIES))),
                            required=True)


class VisitData(Schema):
    visit_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(VISIT_KINDS))
    round_id = fields.UUID(required=True, allow_none=True)
    township_code = fields.String(required=True, validate=TOWNSHIP)
    village_code = fields.String(required=True, validate=VILLAGE)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    due_on = fields.Date(required=True)
    worker_id = fields.UUID(required=True, allow_none=True)


class VisitScheduledData(VisitData):
    reason = fields.String(required=True, validate=validate.OneOf(SCHEDULE_REASONS))
    previous_due_on = fields.Date(required=True, allow_none=True)


class VisitCompletedData(VisitData):
    visited_on = fields.Date(required=True)
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
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
    reason = fields.String(required=True, validate=validate.OneOf(MISSED_REASONS))


class VisitCancelledData(VisitData):
    cancelled_on = fields.Date(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(CANCEL_REASONS))


class VisitOverdueData(VisitData):
    days_overdue = fields.Integer(required=True)


class VisitEscalatedData(VisitOverdueData):
    level = fields.String(required=True, validate=validate.OneOf(ESCALATION_LEVELS[1:]))


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
    kind = fields.String(required=True, validate=validate.OneOf(NEED_KINDS))


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


class Attendees(Schema):
    """People at an activity who are not listed clients: a headcount, by age group and sex where
    known (the parts never exceed the total); no one's identity."""
    total = fields.Integer(required=True, validate=validate.Range(min=0))
    by_age_group = fields.Dict(keys=fields.String(validate=validate.OneOf(vocabulary.AGE_GROUPS)),
                               values=fields.Integer(validate=validate.Range(min=0)),
                               required=True)
    by_sex = fields.Dict(keys=fields.String(validate=validate.OneOf(vocabulary.SEXES)),
                         values=fields.Integer(validate=validate.Range(min=0)), required=True)


class ActivityHeldData(Schema):
    activity_id = fields.UUID(required=True)
    township_code = fields.String(required=True, validate=TOWNSHIP)
    kind = fields.String(required=True, validate=validate.OneOf(ACTIVITY_KINDS))
    held_on = fields.Date(required=True)
    person_times = fields.Integer(required=True)
    person_times_by_category = fields.Dict(keys=fields.String(), values=fields.Integer(),
                                           required=True)
    participants = fields.List(fields.Nested(Participant), required=True)
    worker_ids = fields.List(fields.UUID(), required=True)
    volunteer_ids = fields.List(fields.UUID(), required=True)
    attendees = fields.Nested(Attendees, allow_none=True, load_default=None)  # older: absent


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
                          "A group activity was held; each participant is one person-time, and "
                          "so is each of the other attendees counted (person_times has both).")
ROUND_OPENED = _register("verification.round_opened", RoundOpenedData,
                         "A verification round (对象核查) was opened with a deadline.")
ROUND_CLOSED = _register("verification.round_closed", RoundClosedData,
                         "A verification round was closed, with its final progress.")
