"""The visits service's HTTP contract: request and response schemas (also its OpenAPI document)."""

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from contracts import clients as vocabulary
from contracts.places import TOWNSHIP, VILLAGE
from hub.i18n import _
from hub.validators import not_in_future
from visits import domain

DAYS = validate.Range(1, 366)


def unique(value):
    if len(set(value)) != len(value):
        raise ValidationError(_("lists an entry twice"))


class EffectiveDateMixin(Schema):
    effective_date = fields.Date(load_default=None, validate=not_in_future, metadata={
        "description": "When it happened (default today); may lie in the past."})


class PageQuery(Schema):
    cursor = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


# -- visits ------------------------------------------------------------------------------------
class VisitQuerySchema(PageQuery):
    status = fields.String(validate=validate.OneOf(domain.STATUSES))
    kind = fields.String(validate=validate.OneOf(domain.VISIT_KINDS))
    township_code = fields.String(validate=TOWNSHIP)
    village_code = fields.String(validate=VILLAGE)
    worker_id = fields.UUID()
    client_id = fields.UUID()
    round_id = fields.UUID()
    escalation = fields.String(validate=validate.OneOf(domain.ESCALATION_LEVELS[1:]), metadata={
        "description": "Overdue visits escalated to this level (township or county)."})
    unassigned = fields.Boolean(metadata={"description": "Only visits no worker could take."})
    due_from = fields.Date()
    due_to = fields.Date()

    @validates_schema
    def range_in_order(self, data, **kwargs):
        if data.get("due_from") and data.get("due_to") and data["due_to"] < data["due_from"]:
            raise ValidationError(_("must not be before due_from"), "due_to")


class VerificationSchema(Schema):
    info_correct = fields.Boolean(required=True, metadata={
        "description": "Whether the client's registered details were found correct."})
    changes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class NeedSchema(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(domain.NEED_KINDS))
    description = fields.String(required=True, validate=validate.Length(1, 500))


class RiskAssessmentSchema(Schema):
    risk_level = fields.String(required=True, validate=validate.OneOf(vocabulary.RISK_LEVELS))
    risk_flags = fields.List(fields.String(validate=validate.OneOf(vocabulary.RISK_FLAGS)),
                             load_default=list)


class CompleteSchema(Schema):
    visited_at = fields.DateTime(required=True, validate=not_in_future, metadata={
        "description": "When the visit took place; may lie days in the past."})
    mode = fields.String(required=True, validate=validate.OneOf(domain.MODES))
    worker_id = fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "Who visited (default: the assigned worker)."})
    notes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
    verification = fields.Nested(VerificationSchema, load_default=None, allow_none=True)
    needs = fields.List(fields.Nested(NeedSchema), load_default=list)
    risk_assessment = fields.Nested(RiskAssessmentSchema, load_default=None, allow_none=True)


class UnplannedSchema(CompleteSchema):
    """A visit nobody planned: what completing one records, and whose visit it was."""
    client_id = fields.UUID(required=True)
    id = fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "The visit's id, made on the device; sending it again answers the visit "
                       "already recorded."})
    worker_id = fields.UUID(required=True, metadata={"description": "Who visited."})


class MissedSchema(EffectiveDateMixin):
    reason = fields.String(required=True, validate=validate.OneOf(domain.MISSED_REASONS))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ReassignSchema(EffectiveDateMixin):
    worker_id = fields.UUID(required=True)


class VisitSchema(Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    kind = fields.String()
    round_id = fields.UUID(allow_none=True)
    status = fields.String()
    due_on = fields.Date()
    previous_due_on = fields.Date(allow_none=True)
    worker_id = fields.UUID(allow_none=True)
    township_code = fields.String()
    village_code = fields.String()
    escalation = fields.String()
    days_late = fields.Integer()
    scheduled_reason = fields.String()
    visited_at = fields.DateTime(allow_none=True)
    visited_on = fields.Date(allow_none=True)
    mode = fields.String(allow_none=True)
    completed_by = fields.UUID(allow_none=True)
    notes = fields.String(allow_none=True)
    verification = fields.Dict(allow_none=True)
    needs = fields.List(fields.Dict(), allow_none=True)
    risk_assessment = fields.Dict(allow_none=True)
    delay_days = fields.Integer(allow_none=True)
    missed_on = fields.Date(allow_none=True)
    missed_reason = fields.String(allow_none=True)
    missed_note = fields.String(allow_none=True)
    cancelled_on = fields.Date(allow_none=True)
    cancel_reason = fields.String(allow_none=True)
    reassigned_on = fields.Date(allow_none=True)
    recorded_by = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class VisitPageSchema(Schema):
    items = fields.List(fields.Nested(VisitSchema))
    next_cursor = fields.String(allow_none=True)


class SummaryQuerySchema(Schema):
    township_code = fields.String(validate=TOWNSHIP)


class WorkerSchema(Schema):
    id = fields.UUID()
    code = fields.String()
    kind = fields.String()
    township_code = fields.String()
    weekly_capacity = fields.Integer()
    status = fields.String()
    source = fields.String()
    open_visits = fields.Integer()
    this_week = fields.Integer()


class WorkerListSchema(Schema):
    items = fields.List(fields.Nested(WorkerSchema))


# -- policy ------------------------------------------------------------------------------------
class RiskIntervalsSchema(Schema):
    critical = fields.Integer(required=True, validate=DAYS)
    high = fields.Integer(required=True, validate=DAYS)
    medium = fields.Integer(required=True, validate=DAYS)
    low = fields.Integer(required=True, validate=DAYS)


class EscalationSchema(Schema):
    township_after_days = fields.Integer(required=True, validate=validate.Range(0, 365))
    county_after_days = fields.Integer(required=True, validate=validate.Range(1, 366))


class PolicySchema(EffectiveDateMixin):
    risk_levels = fields.Nested(RiskIntervalsSchema, required=True, metadata={
        "description": "Days between visits for each risk level."})
    categories = fields.Dict(keys=fields.String(validate=validate.OneOf(list(vocabulary.CATEGORIES))),
                             values=fields.Integer(validate=DAYS), load_default=dict, metadata={
                                 "description": "At most this many days between visits for a "
                                                "client in the category; the strictest rule wins."})
    first_visit_days = fields.Dict(keys=fields.String(validate=validate.OneOf(vocabulary.RISK_LEVELS)),
                                   values=fields.Integer(validate=validate.Range(0, 366)),
                                   load_default=dict, metadata={
                                       "description": "A new client's first visit is due within "
                                                      "this many days (critical: 1)."})
    grace_days = fields.Integer(required=True, validate=validate.Range(0, 60))
    missed_retry_days = fields.Integer(required=True, validate=validate.Range(1, 90))
    escalation = fields.Nested(EscalationSchema, required=True)


class PolicyOutSchema(Schema):
    county_code = fields.String()
    risk_levels = fields.Dict()
    categories = fields.Dict()
    first_visit_days = fields.Dict()
    grace_days = fields.Integer()
    missed_retry_days = fields.Integer()
    escalation = fields.Dict()
    version = fields.Integer()
    effective_date = fields.Date()
    updated_by = fields.String()
    updated_at = fields.DateTime()
    rescheduled = fields.Integer(metadata={"description": "Open visits re-dated by this change."})


# -- verification rounds -----------------------------------------------------------------------------
class RoundCreateSchema(EffectiveDateMixin):
    title = fields.String(required=True, validate=validate.Length(1, 100))
    categories = fields.List(fields.String(validate=validate.OneOf(list(vocabulary.CATEGORIES))),
                             required=True, validate=[validate.Length(min=1), unique])
    deadline = fields.Date(required=True)
    township_codes = fields.List(fields.String(validate=TOWNSHIP), load_default=None,
                                 allow_none=True, validate=unique, metadata={
                                     "description": "Stations in the round (default: all)."})


class RoundCloseSchema(EffectiveDateMixin):
    pass


class RoundQuerySchema(PageQuery):
    status = fields.String(validate=validate.OneOf(["open", "closed"]))


class ProgressSchema(Schema):
    planned = fields.Integer()
    done = fields.Integer()
    missed = fields.Integer()
    cancelled = fields.Integer()
    open = fields.Integer()
    overdue = fields.Integer()
    info_changed = fields.Integer()
    percent_done = fields.Float()


class TownshipProgressSchema(ProgressSchema):
    township_code = fields.String()


class RoundSchema(Schema):
    id = fields.UUID()
    title = fields.String()
    categories = fields.List(fields.String())
    township_codes = fields.List(fields.String())
    opened_on = fields.Date()
    deadline = fields.Date()
    status = fields.String()
    closed_on = fields.Date(allow_none=True)
    opened_by = fields.String()
    closed_by = fields.String(allow_none=True)
    progress = fields.Nested(ProgressSchema)
    by_township = fields.List(fields.Nested(TownshipProgressSchema))


class RoundPageSchema(Schema):
    items = fields.List(fields.Nested(RoundSchema))
    next_cursor = fields.String(allow_none=True)


# -- group activities ---------------------------------------------------------------------------------
def headcounts(choices):
    return fields.Dict(keys=fields.String(validate=validate.OneOf(choices)),
                       values=fields.Integer(strict=True, validate=validate.Range(0, 100_000)),
                       load_default=dict)


class AttendeesSchema(Schema):
    """Attendees who are not listed clients (a free clinic's, a talk's): how many, and by age
    group and sex where known."""
    total = fields.Integer(strict=True, required=True, validate=validate.Range(0, 100_000))
    by_age_group = headcounts(vocabulary.AGE_GROUPS)
    by_sex = headcounts(vocabulary.SEXES)

    @validates_schema
    def parts_within_total(self, data, **kwargs):
        errors = {name: [_("the parts add up to {sum}, more than the total {total}",
                           sum=sum(data[name].values()), total=data["total"])]
                  for name in ("by_age_group", "by_sex")
                  if sum(data.get(name, {}).values()) > data["total"]}
        if errors:
            raise ValidationError(errors)


class ActivityCreateSchema(Schema):
    station = fields.String(required=True, validate=TOWNSHIP, metadata={
        "description": "The township code of the station that held it.", "example": "341721100"})
    kind = fields.String(required=True, validate=validate.OneOf(domain.ACTIVITY_KINDS), metadata={
        "description": "group_work 小组活动, theme_activity 主题活动, free_clinic 义诊, "
                       "lecture 讲座, other."})
    title = fields.String(required=True, validate=validate.Length(1, 100))
    held_on = fields.Date(required=True, validate=not_in_future)
    participants = fields.List(fields.UUID(), load_default=list, validate=unique, metadata={
        "description": "Client ids; each counts one person-time (人次)."})
    attendees = fields.Nested(AttendeesSchema, load_default=None, allow_none=True, metadata={
        "description": "Other attendees, not registered clients: a headcount, each one "
                       "person-time, by age group and sex where known.",
        "example": {"total": 40, "by_age_group": {"elderly": 25, "child": 5},
                    "by_sex": {"female": 22, "male": 15}}})
    workers = fields.List(fields.UUID(), load_default=list, validate=unique)
    volunteers = fields.List(fields.UUID(), load_default=list, validate=unique)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))

    @validates_schema
    def someone_attended(self, data, **kwargs):
        if not data.get("participants") and not (data.get("attendees") or {}).get("total"):
            raise ValidationError({"participants": [
                _("list at least one client, or give a headcount of other attendees")]})


class ActivityQuerySchema(PageQuery):
    station = fields.String(validate=TOWNSHIP)
    kind = fields.String(validate=validate.OneOf(domain.ACTIVITY_KINDS))
    held_from = fields.Date()
    held_to = fields.Date()


class ActivitySchema(Schema):
    id = fields.UUID()
    station = fields.String()
    kind = fields.String()
    title = fields.String()
    held_on = fields.Date()
    participants = fields.List(fields.UUID())
    attendees = fields.Nested(AttendeesSchema, allow_none=True)
    workers = fields.List(fields.UUID())
    volunteers = fields.List(fields.UUID())
    note = fields.String(allow_none=True)
    person_times = fields.Integer(metadata={"description": "participants and other attendees"})
    person_times_by_category = fields.Dict()
    recorded_by = fields.String()
    recorded_at = fields.DateTime()


class ActivityPageSchema(Schema):
    items = fields.List(fields.Nested(ActivitySchema))
    next_cursor = fields.String(allow_none=True)


class SweepResultSchema(Schema):
    today = fields.Date()
    became_due = fields.Integer()
    became_overdue = fields.Integer()
    escalated_to_township = fields.Integer()
    escalated_to_county = fields.Integer()
    assigned = fields.Integer()
    seconds = fields.Float()
