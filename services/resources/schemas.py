"""The resources HTTP contract: request and response schemas (also the source of the OpenAPI doc).

Money is always integer fen. Each write takes an optional date that may be in the past (never
in the future), defaulting to today: `effective_date`, which donations, allocations and
volunteers also call by their own names `received_on`, `allocated_on` and `registered_on`.
"""
from functools import lru_cache

from marshmallow import (
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from contracts import idnumber
from contracts.idnumber import ID_NUMBER
from contracts.phone import PHONE
from contracts.places import TOWNSHIP
from hub.i18n import _
from hub.validators import Pattern, UpToThisYear, hundredths, not_in_future
from resources import domain

MAX_FEN = 10 ** 13          # 1,000 亿 yuan: far beyond any county's donation


def effective(description="When it happened (default today); may be in the past."):
    return fields.Date(load_default=None, validate=not_in_future,
                       metadata={"description": description})


def township(description="9-digit township code; none for the county hub station"):
    return fields.String(load_default=None, allow_none=True, validate=TOWNSHIP,
                         metadata={"description": description, "example": "341721100"})


def one_of(choices, **kwargs):
    return fields.String(validate=validate.OneOf(choices), **kwargs)


def fen(**kwargs):
    return fields.Integer(strict=True, validate=validate.Range(1, MAX_FEN), **kwargs)


@lru_cache(maxsize=None)
def page_of(item):
    """The response of a list route: a page of `item`s and the cursor of the next page."""
    name = item.__name__.replace("Schema", "Page")
    return Schema.from_dict({"items": fields.List(fields.Nested(item)),
                             "next_cursor": fields.String(allow_none=True)}, name=name)


class DatedAs(Schema):
    """A write whose effective date has its own name (received_on, …): `effective_date`, the
    name every other write uses, is accepted for it too."""
    date_field = None

    @pre_load
    def effective_date_alias(self, data, **kwargs):
        if isinstance(data, dict) and "effective_date" in data:
            data = dict(data)
            alias = data.pop("effective_date")
            if data.setdefault(self.date_field, alias) != alias:
                raise ValidationError(_("give {field} or effective_date, not both",
                                        field=self.date_field),
                                      "effective_date")
        return data


class PageQuery(Schema):
    cursor = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


# -- providers ------------------------------------------------------------------------------------
class ProviderCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 100))
    kind = one_of(domain.PROVIDER_KINDS, required=True)
    five_society = one_of(domain.FIVE_SOCIETY, required=True,
                          metadata={"description": "五社 category"})
    contact = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    township_code = township()
    services = fields.List(one_of(domain.REFERRAL_KINDS), load_default=list,
                           metadata={"description": "referral kinds this partner takes"})
    effective_date = effective()


class ProviderSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    kind = fields.String()
    five_society = fields.String()
    contact = fields.String(allow_none=True)
    township_code = fields.String(allow_none=True)
    services = fields.List(fields.String())
    registered_on = fields.Date()
    recorded_at = fields.DateTime()


class ProviderQuerySchema(PageQuery):
    kind = one_of(domain.PROVIDER_KINDS)
    five_society = one_of(domain.FIVE_SOCIETY)
    township_code = fields.String(validate=TOWNSHIP)


# -- donations ------------------------------------------------------------------------------------
class EarmarkSchema(Schema):
    category = one_of(list(domain.CATEGORIES), load_default=None, allow_none=True)
    township_code = township("only for clients of this township")
    client_id = fields.UUID(load_default=None, allow_none=True)


GOODS_FIELDS = ("item", "unit", "quantity", "value_fen")


class DonationCreateSchema(DatedAs):
    date_field = "received_on"
    provider_id = fields.UUID(required=True)
    kind = one_of(domain.DONATION_KINDS, required=True)
    amount_fen = fen(load_default=None, allow_none=True, metadata={"description": "money only"})
    item = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 100))
    unit = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 20))
    quantity = fields.Integer(strict=True, load_default=None, allow_none=True,
                              validate=validate.Range(1, 10 ** 9))
    value_fen = fields.Integer(strict=True, load_default=None, allow_none=True,
                               validate=validate.Range(0, MAX_FEN),
                               metadata={"description": "estimated value of the goods"})
    received_on = effective("When the station received it (default today).")
    township_code = township("the station that received it; none for the county hub")
    earmark = fields.Nested(EarmarkSchema, load_default=None, allow_none=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))

    @validates_schema
    def fields_of_kind(self, data, **kwargs):
        errors = {}
        if data.get("kind") == "money":
            if data.get("amount_fen") is None:
                errors["amount_fen"] = [_("required for a money donation")]
            for f in GOODS_FIELDS:
                if data.get(f) is not None:
                    errors[f] = [_("only for a goods donation")]
        elif data.get("kind") == "goods":
            if data.get("amount_fen") is not None:
                errors["amount_fen"] = [_("only for a money donation (goods have value_fen)")]
            for f in GOODS_FIELDS:
                if data.get(f) is None:
                    errors[f] = [_("required for a goods donation")]
        if errors:
            raise ValidationError(errors)


class DonationSchema(Schema):
    id = fields.UUID()
    provider_id = fields.UUID()
    kind = fields.String()
    amount_fen = fields.Integer(allow_none=True)
    item = fields.String(allow_none=True)
    unit = fields.String(allow_none=True)
    quantity = fields.Integer(allow_none=True)
    value_fen = fields.Integer()
    received_on = fields.Date()
    township_code = fields.String(allow_none=True)
    earmark = fields.Nested(EarmarkSchema)
    remaining_fen = fields.Integer(metadata={"description": "money left, or value of goods left"})
    remaining_quantity = fields.Integer(allow_none=True)
    note = fields.String(allow_none=True)
    recorded_at = fields.DateTime()


class DonationQuerySchema(PageQuery):
    provider_id = fields.UUID()
    kind = one_of(domain.DONATION_KINDS)
    township_code = fields.String(validate=TOWNSHIP)
    available = fields.Boolean(metadata={"description": "only donations with something left"})


# -- allocations ----------------------------------------------------------------------------------
class AllocationCreateSchema(DatedAs):
    date_field = "allocated_on"
    donation_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    amount_fen = fen(load_default=None, allow_none=True,
                     metadata={"description": "for a money donation"})
    quantity = fields.Integer(strict=True, load_default=None, allow_none=True,
                              validate=validate.Range(1, 10 ** 9),
                              metadata={"description": "for a goods donation"})
    allocated_on = effective("When the client received it (default today).")
    need_id = fields.UUID(load_default=None, allow_none=True,
                          metadata={"description": "the open need this meets"})
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))

    @validates_schema
    def amount_or_quantity(self, data, **kwargs):
        given = [f for f in ("amount_fen", "quantity") if data.get(f) is not None]
        if not given:
            raise ValidationError({"amount_fen": [_("amount_fen (money) or quantity (goods) "
                                                    "is required")]})
        if len(given) == 2:
            raise ValidationError({"quantity": [_("give amount_fen or quantity, not both")]})


class AllocationSchema(Schema):
    id = fields.UUID()
    donation_id = fields.UUID()
    client_id = fields.UUID()
    need_id = fields.UUID(allow_none=True)
    kind = fields.String()
    amount_fen = fields.Integer(allow_none=True)
    quantity = fields.Integer(allow_none=True)
    value_fen = fields.Integer()
    allocated_on = fields.Date()
    township_code = fields.String()
    categories = fields.List(fields.String())
    age_group = fields.String()
    age_band = fields.String()
    status = fields.String()
    reversed_on = fields.Date(allow_none=True)
    reversal_reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    donation_remaining_fen = fields.Integer(metadata={"description": "after this allocation"})
    donation_remaining_quantity = fields.Integer(allow_none=True)
    recorded_at = fields.DateTime()


class AllocationQuerySchema(PageQuery):
    donation_id = fields.UUID()
    client_id = fields.UUID()
    status = one_of(("active", "reversed"))


class ReverseSchema(Schema):
    reason = one_of(domain.REVERSAL_REASONS, required=True)
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    effective_date = effective()


# -- needs ----------------------------------------------------------------------------------------
class NeedCreateSchema(Schema):
    client_id = fields.UUID(required=True)
    kind = one_of(domain.NEED_KINDS, required=True)
    description = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=500))
    effective_date = effective()


class NeedSchema(Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    visit_id = fields.UUID(allow_none=True)
    kind = fields.String()
    description = fields.String(allow_none=True)
    township_code = fields.String()
    source = fields.String()
    status = fields.String()
    opened_on = fields.Date()
    met_on = fields.Date(allow_none=True)
    met_by_allocation_id = fields.UUID(allow_none=True)
    met_by_referral_id = fields.UUID(allow_none=True)
    suggested_donations = fields.List(fields.Nested(DonationSchema),
                                      metadata={"description": "only on GET of one open need"})


class NeedQuerySchema(PageQuery):
    client_id = fields.UUID()
    status = one_of(domain.NEED_STATUSES)
    kind = one_of(domain.NEED_KINDS)
    township_code = fields.String(validate=TOWNSHIP)


# -- certificate numbers (of workers and of the roster of holders) --------------------------------
CERTIFICATE_NUMBER = Pattern(r"^[0-9A-Za-z][0-9A-Za-z-]{3,39}$",
                             error=_("must be 4 to 40 letters, digits or hyphens"))
LEVELS_TEXT = "assistant 助理社会工作师, intermediate 社会工作师, senior 高级社会工作师"


def certificate_number(value):
    """A certificate number as compared: without spaces, in capitals."""
    return "".join(str(value).split()).upper()


class PlainCertificateNumber(Schema):
    """Gives certificate_number as compared."""

    @post_load
    def plain_number(self, data, **kwargs):
        if data.get("certificate_number"):
            data["certificate_number"] = certificate_number(data["certificate_number"])
        return data


# -- workers --------------------------------------------------------------------------------------
class WorkerCreateSchema(PlainCertificateNumber):
    name = fields.String(required=True, validate=validate.Length(1, 50))
    staff_code = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 40),
                               metadata={"description": "the county's own staff number, if any"})
    township_code = township()
    certificate_level = one_of(domain.CERTIFICATE_LEVELS, load_default=None, allow_none=True)
    certified_year = fields.Integer(strict=True, load_default=None, allow_none=True,
                                    validate=UpToThisYear(domain.FIRST_CERTIFICATE_YEAR))
    certificate_number = fields.String(load_default=None, allow_none=True,
                                       validate=CERTIFICATE_NUMBER, metadata={
        "description": "the certificate's number: the worker is then on the roster of "
                       "certificate holders (/certificates), counted once, there"})
    weekly_capacity = fields.Integer(strict=True, required=True, validate=validate.Range(0, 100),
                                     metadata={"description": "visits a week"})
    effective_date = effective("When the worker joined (default today).")


class WorkerSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    staff_code = fields.String(allow_none=True)
    township_code = fields.String(allow_none=True)
    certificate_level = fields.String(allow_none=True)
    certified_year = fields.Integer(allow_none=True)
    certificate_number = fields.String(allow_none=True)
    weekly_capacity = fields.Integer()
    status = fields.String()
    joined_on = fields.Date()
    left_on = fields.Date(allow_none=True)
    recorded_at = fields.DateTime()


class WorkerQuerySchema(PageQuery):
    township_code = fields.String(validate=TOWNSHIP)
    certificate_level = one_of(domain.CERTIFICATE_LEVELS)
    status = one_of(domain.WORKER_STATUSES)


class CertifySchema(PlainCertificateNumber):
    certificate_level = one_of(domain.CERTIFICATE_LEVELS, required=True)
    certified_year = fields.Integer(strict=True, required=True,
                                    validate=UpToThisYear(domain.FIRST_CERTIFICATE_YEAR))
    certificate_number = fields.String(load_default=None, allow_none=True,
                                       validate=CERTIFICATE_NUMBER, metadata={
        "description": "the new certificate's number, if not given before"})
    effective_date = effective()


class LeaveSchema(Schema):
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    effective_date = effective()


# -- certificate holders --------------------------------------------------------------------------
class CertificateChangeSchema(Schema):
    """A change to a holder: only the fields given change (PATCH)."""
    name = fields.String(validate=validate.Length(1, 50))
    level = one_of(domain.CERTIFICATE_LEVELS, metadata={
        "description": f"the highest level held: {LEVELS_TEXT}; a new level needs passed_year"})
    passed_year = fields.Integer(strict=True, validate=UpToThisYear(domain.FIRST_CERTIFICATE_YEAR),
                                 metadata={"description": "the year that level was passed"})
    township_code = fields.String(allow_none=True, validate=TOWNSHIP, metadata={
        "description": "the township they work in; null: the county level"})
    employer_kind = one_of(domain.EMPLOYER_KINDS, allow_none=True, metadata={
        "description": "station 社工站, organisation 社会组织, other"})
    status = one_of(domain.HOLDER_STATUSES, metadata={
        "description": "holding: working in the county; left: left the area"})
    effective_date = fields.Date(validate=not_in_future, metadata={
        "description": "when they moved, left or came back (default today)"})


class CertificateCreateSchema(CertificateChangeSchema, PlainCertificateNumber):
    """A holder as the roster lists them; also each row of `hub import certificates`."""
    certificate_number = fields.String(required=True, validate=CERTIFICATE_NUMBER, metadata={
        "description": "the certificate's number (证书编号), the roster's key; never published",
        "example": "2023440100123"})
    name = fields.String(required=True, validate=validate.Length(1, 50))
    level = one_of(domain.CERTIFICATE_LEVELS, required=True,
                   metadata={"description": LEVELS_TEXT})
    passed_year = fields.Integer(strict=True, required=True,
                                 validate=UpToThisYear(domain.FIRST_CERTIFICATE_YEAR))


class CertificateHolderSchema(Schema):
    id = fields.UUID()
    certificate_number = fields.String()
    name = fields.String()
    level = fields.String()
    passed_year = fields.Integer()
    first_passed_year = fields.Integer(metadata={"description": "the year of their first "
                                                                "certificate: counted from then"})
    township_code = fields.String(allow_none=True)
    employer_kind = fields.String(allow_none=True)
    status = fields.String()
    status_since = fields.Date(allow_none=True)
    timeline = fields.Dict(metadata={"description": "levels passed and where they worked since"})
    worker_id = fields.UUID(allow_none=True)
    recorded_at = fields.DateTime()
    updated_at = fields.DateTime()


class CertificateQuerySchema(PageQuery, PlainCertificateNumber):
    township_code = fields.String(validate=TOWNSHIP)
    level = one_of(domain.CERTIFICATE_LEVELS)
    status = one_of(domain.HOLDER_STATUSES)
    employer_kind = one_of(domain.EMPLOYER_KINDS)
    certificate_number = fields.String()


# -- volunteers -----------------------------------------------------------------------------------
class VolunteerCreateSchema(DatedAs):
    date_field = "registered_on"
    name = fields.String(required=True, validate=validate.Length(1, 50))
    id_number = fields.String(required=True, validate=ID_NUMBER, metadata={
        "description": "18-character resident ID", "example": "341721199005170210"})
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    township_code = township()
    registered_on = effective("When the volunteer registered (default today).")

    @validates("id_number")
    def check_id_number(self, value, **kwargs):
        try:
            idnumber.parse(value)
        except idnumber.InvalidIdNumber as exc:
            raise ValidationError(str(exc))


class VolunteerSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    id_number = fields.String(metadata={"description": "always masked"})
    sex = fields.String()
    age_band = fields.String()
    phone = fields.String(allow_none=True)
    township_code = fields.String(allow_none=True)
    registered_on = fields.Date()
    hours_logged = fields.Float()
    recorded_at = fields.DateTime()


class VolunteerQuerySchema(PageQuery):
    township_code = fields.String(validate=TOWNSHIP)


class HoursSchema(Schema):
    hours = fields.Decimal(required=True, as_string=False, metadata={"multipleOf": 0.01},
                           validate=[validate.Range(0, 24, min_inclusive=False), hundredths])
    activity = one_of(domain.VOLUNTEER_ACTIVITIES, required=True)
    visit_id = fields.UUID(load_default=None, allow_none=True)
    effective_date = effective("The day of the activity or visit (default today).")

    @validates_schema
    def visit_needs_id(self, data, **kwargs):
        if data.get("activity") == "visit" and data.get("visit_id") is None:
            raise ValidationError({"visit_id": [_("required when activity is visit")]})


class HoursEntrySchema(Schema):
    id = fields.UUID()
    volunteer_id = fields.UUID()
    hours = fields.Float()
    activity = fields.String()
    visit_id = fields.UUID(allow_none=True)
    served_on = fields.Date()
    volunteer_hours_logged = fields.Float()


# -- referrals ------------------------------------------------------------------------------------
class ReferralCreateSchema(Schema):
    client_id = fields.UUID(required=True)
    provider_id = fields.UUID(required=True, metadata={"description": "the partner institution"})
    kind = one_of(domain.REFERRAL_KINDS, required=True)
    need_id = fields.UUID(load_default=None, allow_none=True,
                          metadata={"description": "the open need this referral is for"})
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    effective_date = effective("When the client was referred (default today).")


class ReferralStatusSchema(Schema):
    status = one_of(("accepted", "completed", "declined"), required=True)
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    effective_date = effective()


class ReferralSchema(Schema):
    id = fields.UUID()
    client_id = fields.UUID()
    provider_id = fields.UUID()
    need_id = fields.UUID(allow_none=True)
    kind = fields.String()
    status = fields.String()
    township_code = fields.String()
    referred_on = fields.Date()
    accepted_on = fields.Date(allow_none=True)
    completed_on = fields.Date(allow_none=True)
    declined_on = fields.Date(allow_none=True)
    decline_reason = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    recorded_at = fields.DateTime()


class ReferralQuerySchema(PageQuery):
    client_id = fields.UUID()
    provider_id = fields.UUID()
    status = one_of(domain.REFERRAL_STATUSES)
    kind = one_of(domain.REFERRAL_KINDS)


# -- projects -------------------------------------------------------------------------------------
class ProjectCreateSchema(Schema):
    title = fields.String(required=True, validate=validate.Length(1, 200))
    budget_fen = fields.Integer(strict=True, required=True, validate=validate.Range(0, MAX_FEN))
    provider_ids = fields.List(fields.UUID(), required=True, validate=validate.Length(min=1))
    starts_on = fields.Date(required=True)
    ends_on = fields.Date(required=True)
    township_codes = fields.List(fields.String(validate=TOWNSHIP), load_default=list)
    beneficiary_categories = fields.List(one_of(list(domain.CATEGORIES)), load_default=list)
    planned_beneficiaries = fields.Integer(strict=True, load_default=0,
                                           validate=validate.Range(0, 10 ** 7))
    description = fields.String(load_default=None, allow_none=True,
                                validate=validate.Length(max=2000))
    effective_date = effective()

    @validates_schema
    def period(self, data, **kwargs):
        if data.get("starts_on") and data.get("ends_on") and data["ends_on"] < data["starts_on"]:
            raise ValidationError({"ends_on": [_("is before starts_on")]})


class ProjectSchema(Schema):
    id = fields.UUID()
    title = fields.String()
    budget_fen = fields.Integer()
    provider_ids = fields.List(fields.UUID())
    starts_on = fields.Date()
    ends_on = fields.Date()
    township_codes = fields.List(fields.String())
    beneficiary_categories = fields.List(fields.String())
    planned_beneficiaries = fields.Integer()
    description = fields.String(allow_none=True)
    created_on = fields.Date()
    recorded_at = fields.DateTime()


class ProjectQuerySchema(PageQuery):
    provider_id = fields.UUID()
    township_code = fields.String(validate=TOWNSHIP)
