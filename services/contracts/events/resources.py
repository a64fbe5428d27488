"""The events resources publishes.

Published data carries ids, codes, categories, age group and band, amounts and dates; never a
name, ID number, phone, contact or address, and no free text (notes stay in this service).
"""
from marshmallow import Schema, fields, validate

from contracts import clients
from contracts.places import TOWNSHIP
from hub.events import register

PROVIDER_KINDS = ("individual", "enterprise", "social_organisation", "community_group",
                  "institution")
# 五社联动: community, social workers, social organisations, social resources, self-governance
FIVE_SOCIETY = ("community", "social_worker", "social_organisation", "social_resource",
                "self_governance")
DONATION_KINDS = ("money", "goods")
NEED_KINDS = ("money", "goods", "service", "referral")
REFERRAL_KINDS = ("nursing_home", "medical_care", "minimum_living_allowance", "temporary_relief",
                  "schooling", "legal_aid")
REFERRAL_STATUSES = ("referred", "accepted", "completed", "declined")
CERTIFICATE_LEVELS = ("assistant", "intermediate", "senior")   # 助理社会工作师, 社会工作师, 高级
WORKER_STATUSES = ("active", "left")
HOLDER_STATUSES = ("holding", "left")      # a certificate holder working in the area, or gone
EMPLOYER_KINDS = ("station", "organisation", "other")  # 社工站, 社会组织, 其他
VOLUNTEER_ACTIVITIES = ("visit", "activity", "training", "other")
REVERSAL_REASONS = ("wrong_client", "wrong_amount", "duplicate", "not_delivered", "other")
CATEGORY_LIST = fields.List(fields.String(validate=validate.OneOf(list(clients.CATEGORIES))),
                            required=True)
AGE_GROUP = fields.String(required=True, validate=validate.OneOf(clients.AGE_GROUPS))


def _township(required=True):
    return fields.String(required=required, allow_none=not required, validate=TOWNSHIP)


class ClientSnapshot(Schema):
    """Who a client was when they were served: what statistics count 人次 by."""
    client_id = fields.UUID(required=True)
    township_code = _township()
    categories = CATEGORY_LIST
    age_group = AGE_GROUP
    age_band = fields.String(required=True)


class ProviderRegisteredData(Schema):
    provider_id = fields.UUID(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(PROVIDER_KINDS))
    five_society = fields.String(required=True, validate=validate.OneOf(FIVE_SOCIETY))
    township_code = _township(required=False)
    effective_date = fields.Date(required=True)


class DonationReceivedData(Schema):
    donation_id = fields.UUID(required=True)
    provider_id = fields.UUID(required=True)
    provider_kind = fields.String(required=True, validate=validate.OneOf(PROVIDER_KINDS))
    five_society = fields.String(required=True, validate=validate.OneOf(FIVE_SOCIETY))
    kind = fields.String(required=True, validate=validate.OneOf(DONATION_KINDS))
    amount_fen = fields.Integer(required=True, allow_none=True)
    item = fields.String(required=True, allow_none=True)
    unit = fields.String(required=True, allow_none=True)
    quantity = fields.Integer(required=True, allow_none=True)
    value_fen = fields.Integer(required=True)
    township_code = _township(required=False)
    earmark_category = fields.String(required=True, allow_none=True)
    earmark_township_code = _township(required=False)
    earmarked_for_client = fields.Boolean(required=True)
    effective_date = fields.Date(required=True)


class AllocationData(ClientSnapshot):
    allocation_id = fields.UUID(required=True)
    donation_id = fields.UUID(required=True)
    provider_id = fields.UUID(required=True)
    need_id = fields.UUID(required=True, allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf(DONATION_KINDS))
    amount_fen = fields.Integer(required=True, allow_none=True)
    item = fields.String(required=True, allow_none=True)
    quantity = fields.Integer(required=True, allow_none=True)
    value_fen = fields.Integer(required=True)
    allocated_on = fields.Date(required=True)
    effective_date = fields.Date(required=True)


class AllocationReversedData(AllocationData):
    reason = fields.String(required=True, validate=validate.OneOf(REVERSAL_REASONS))


class NeedData(ClientSnapshot):
    need_id = fields.UUID(required=True)
    visit_id = fields.UUID(required=True, allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf(NEED_KINDS))
    effective_date = fields.Date(required=True)


class NeedMetData(NeedData):
    allocation_id = fields.UUID(required=True, allow_none=True)
    referral_id = fields.UUID(required=True, allow_none=True)
    opened_on = fields.Date(required=True)


class WorkerData(Schema):
    worker_id = fields.UUID(required=True)
    township_code = _township(required=False)
    certificate_level = fields.String(required=True, allow_none=True,
                                      validate=validate.OneOf(CERTIFICATE_LEVELS))
    certified_year = fields.Integer(required=True, allow_none=True)
    weekly_capacity = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(WORKER_STATUSES))
    effective_date = fields.Date(required=True)


class WorkerCertifiedData(WorkerData):
    previous_level = fields.String(required=True, allow_none=True)


class LevelPassed(Schema):
    level = fields.String(required=True, validate=validate.OneOf(CERTIFICATE_LEVELS))
    passed_year = fields.Integer(required=True)


class HolderPlace(Schema):
    """Where a certificate holder works from a day on: a township, the county level (no
    township), or away from the area (status left)."""
    since = fields.Date(required=True, allow_none=True)     # None: from their first certificate
    township_code = _township(required=False)               # None: the county level
    status = fields.String(required=True, validate=validate.OneOf(HOLDER_STATUSES))


class HolderTimeline(Schema):
    """All statistics need to count a holder in any year: the certificates passed and where
    they worked since; a change carries the timeline before it too, so each event's share is
    the difference between the two, whatever order events arrive in."""
    levels = fields.List(fields.Nested(LevelPassed), required=True)
    places = fields.List(fields.Nested(HolderPlace), required=True)


class CertificateData(Schema):
    holder_id = fields.UUID(required=True)
    township_code = _township(required=False)
    level = fields.String(required=True, validate=validate.OneOf(CERTIFICATE_LEVELS))
    passed_year = fields.Integer(required=True)
    employer_kind = fields.String(required=True, allow_none=True,
                                  validate=validate.OneOf(EMPLOYER_KINDS))
    status = fields.String(required=True, validate=validate.OneOf(HOLDER_STATUSES))
    timeline = fields.Nested(HolderTimeline, required=True)
    effective_date = fields.Date(required=True)


class CertificateChangedData(CertificateData):
    changed_fields = fields.List(fields.String(), required=True)
    previous_timeline = fields.Nested(HolderTimeline, required=True)


class VolunteerRegisteredData(Schema):
    volunteer_id = fields.UUID(required=True)
    township_code = _township(required=False)
    sex = fields.String(required=True, validate=validate.OneOf(clients.SEXES))
    age_band = fields.String(required=True)
    effective_date = fields.Date(required=True)


class VolunteerHoursData(Schema):
    volunteer_id = fields.UUID(required=True)
    township_code = _township(required=False)
    minutes = fields.Integer(required=True, validate=validate.Range(min=1))
    activity = fields.String(required=True, validate=validate.OneOf(VOLUNTEER_ACTIVITIES))
    visit_id = fields.UUID(required=True, allow_none=True)
    effective_date = fields.Date(required=True)


class ReferralData(ClientSnapshot):
    referral_id = fields.UUID(required=True)
    provider_id = fields.UUID(required=True)
    need_id = fields.UUID(required=True, allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf(REFERRAL_KINDS))
    status = fields.String(required=True, validate=validate.OneOf(REFERRAL_STATUSES))
    effective_date = fields.Date(required=True)


class ReferralStatusChangedData(ReferralData):
    previous_status = fields.String(required=True,
                                    validate=validate.OneOf(REFERRAL_STATUSES))


class ProjectCreatedData(Schema):
    project_id = fields.UUID(required=True)
    budget_fen = fields.Integer(required=True)
    provider_ids = fields.List(fields.UUID(), required=True)
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    township_codes = fields.List(fields.String(validate=TOWNSHIP), required=True)
    beneficiary_categories = fields.List(fields.String(), required=True)
    planned_beneficiaries = fields.Integer(required=True)
    effective_date = fields.Date(required=True)


def _register(name, schema, description):
    return register(name, 1, schema, "resources", description)


PROVIDER_REGISTERED = _register("provider.registered", ProviderRegisteredData,
                                "A donor or partner (五社) was registered.")
DONATION_RECEIVED = _register("donation.received", DonationReceivedData,
                              "Money (fen) or goods were received from a provider.")
ALLOCATION_MADE = _register("allocation.made", AllocationData,
                            "Part of a donation was given to a client (one 人次), with the "
                            "client's categories and age band at that moment.")
ALLOCATION_REVERSED = _register("allocation.reversed", AllocationReversedData,
                                "A mistaken allocation was reversed; its amount went back.")
NEED_OPENED = _register("need.opened", NeedData, "A client's need was recorded as open.")
NEED_REOPENED = _register("need.reopened", NeedData,
                          "A need was open again because the allocation that met it was reversed.")
NEED_MET = _register("need.met", NeedMetData, "A need was met by an allocation or a referral.")
WORKER_REGISTERED = _register("worker.registered", WorkerData, "A social worker joined a station.")
WORKER_CERTIFIED = _register("worker.certified", WorkerCertifiedData,
                             "A social worker obtained a (higher) certificate.")
WORKER_LEFT = _register("worker.left", WorkerData, "A social worker left.")
CERTIFICATE_RECORDED = _register(
    "certificate.recorded", CertificateData,
    "A holder of the social work certificate (社会工作者职业水平证书) working in the county was "
    "recorded in the roster: level, year passed, township; never a name or certificate number.")
CERTIFICATE_CHANGED = _register(
    "certificate.changed", CertificateChangedData,
    "A certificate holder's record changed: a higher level passed, a correction, another "
    "township, or they left the area (or came back); with the timeline before the change.")
VOLUNTEER_REGISTERED = _register("volunteer.registered", VolunteerRegisteredData,
                                 "A real-name volunteer was registered at a station.")
VOLUNTEER_HOURS_LOGGED = _register("volunteer.hours_logged", VolunteerHoursData,
                                   "A volunteer's hours for an activity or visit were logged.")
REFERRAL_CREATED = _register("referral.created", ReferralData,
                             "A client was referred to a partner institution.")
REFERRAL_STATUS_CHANGED = _register("referral.status_changed", ReferralStatusChangedData,
                                    "A referral was accepted, completed or declined.")
PROJECT_CREATED = _register("project.created", ProjectCreatedData,
                            "A public-benefit project (公益创投项目) was created.")
