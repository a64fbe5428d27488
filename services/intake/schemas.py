"""Intake's HTTP contract: the request and response schemas (also the source of the OpenAPI doc)."""

from marshmallow import Schema, ValidationError, fields, validate, validates

from contracts import clients as domain
from contracts import idnumber
from contracts.idnumber import ID_NUMBER
from contracts.phone import PHONE
from contracts.places import TOWNSHIP, VILLAGE
from hub.i18n import _
from hub.validators import Pattern, not_in_future


class EffectiveDateMixin(Schema):
    effective_date = fields.Date(load_default=None, validate=not_in_future,
                                 metadata={"description": "When it happened (default today); may be in the past."})


class DisabilitySchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(domain.DISABILITY_TYPES))
    grade = fields.Integer(required=True, validate=validate.Range(1, 4))


class GuardianSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 50))
    phone = fields.String(required=True, validate=PHONE)
    relation = fields.String(required=True, validate=validate.Length(1, 20))


class GuardianOutSchema(Schema):
    """A guardian as the API shows one: the phone masked, so not a phone number's pattern."""
    name = fields.String()
    phone = fields.String()
    relation = fields.String()


class ConsentSchema(Schema):
    given = fields.Boolean(required=True, metadata={"example": True})
    date = fields.Date(required=True, validate=not_in_future, metadata={"example": "2026-03-01"})
    recorded_by = fields.String(required=True, validate=validate.Length(1, 50),
                                metadata={"example": "李社工"})


CATEGORY_LIST = fields.List(
    fields.String(validate=validate.OneOf(list(domain.CATEGORIES))),
    required=True, validate=validate.Length(min=1), metadata={"example": ["solitary_elderly"]})
RISK_FLAG_LIST = fields.List(fields.String(validate=validate.OneOf(domain.RISK_FLAGS)),
                             load_default=list)


class ClientCreateSchema(EffectiveDateMixin):
    id = fields.UUID(load_default=None, allow_none=True, metadata={
        "description": "The client's id, made on a device; registering the same person under "
                       "the same id again answers the client already registered."})
    name = fields.String(required=True, validate=validate.Length(1, 50),
                         metadata={"example": "王桂英"})
    id_number = fields.String(required=True, validate=ID_NUMBER, metadata={
        "description": "18-character resident ID", "example": "341721194102030049"})
    phone = fields.String(load_default=None, allow_none=True, validate=PHONE)
    village_code = fields.String(required=True, validate=VILLAGE,
                                 metadata={"example": "341721100001"})
    categories = CATEGORY_LIST
    disability = fields.Nested(DisabilitySchema, load_default=None, allow_none=True)
    guardian = fields.Nested(GuardianSchema, load_default=None, allow_none=True)
    risk_level = fields.String(load_default="low", validate=validate.OneOf(domain.RISK_LEVELS))
    risk_flags = RISK_FLAG_LIST
    consent = fields.Nested(ConsentSchema, required=True)

    @validates("id_number")
    def check_id_number(self, value, **kwargs):
        try:
            idnumber.parse(value)
        except idnumber.InvalidIdNumber as exc:
            raise ValidationError(str(exc))

    @validates("categories")
    def unique_categories(self, value, **kwargs):
        if len(set(value)) != len(value):
            raise ValidationError(_("a category is listed twice"))


class ClientPatchSchema(EffectiveDateMixin):
    """Fields a PATCH may change; place, risk and status have their own actions."""
    name = fields.String(validate=validate.Length(1, 50))
    phone = fields.String(allow_none=True, validate=PHONE)
    categories = CATEGORY_LIST
    disability = fields.Nested(DisabilitySchema, allow_none=True)
    guardian = fields.Nested(GuardianSchema, allow_none=True)
    consent = fields.Nested(ConsentSchema)


class CloseSchema(EffectiveDateMixin):
    reason = fields.String(required=True, validate=validate.OneOf(domain.CLOSE_REASONS))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ReopenSchema(EffectiveDateMixin):
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class TransferSchema(EffectiveDateMixin):
    village_code = fields.String(required=True, validate=VILLAGE)


class RiskSchema(EffectiveDateMixin):
    risk_level = fields.String(required=True, validate=validate.OneOf(domain.RISK_LEVELS))
    risk_flags = RISK_FLAG_LIST
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))


class ClientQuerySchema(Schema):
    township_code = fields.String(validate=TOWNSHIP)
    village_code = fields.String(validate=VILLAGE)
    category = fields.String(validate=validate.OneOf(list(domain.CATEGORIES)))
    risk_level = fields.String(validate=validate.OneOf(domain.RISK_LEVELS))
    status = fields.String(validate=validate.OneOf(domain.STATUSES))
    cursor = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))
    reveal = fields.String(
        validate=Pattern(r"^(id_number|phone)(,(id_number|phone))?$",
                         error=_("id_number, phone or id_number,phone")),
        metadata={"description": "Show full ID and/or phone numbers (id_number,phone): township "
                                 "and county admins only; every such read is audited."})


class ClientSchema(Schema):
    """A client as the API shows it (ID number masked unless revealed)."""
    id = fields.UUID()
    name = fields.String()
    id_number = fields.String()
    birth_date = fields.Date()
    sex = fields.String()
    age = fields.Integer()
    age_group = fields.String()
    phone = fields.String(allow_none=True)
    county_code = fields.String()
    township_code = fields.String()
    village_code = fields.String()
    categories = fields.List(fields.String())
    disability = fields.Nested(DisabilitySchema, allow_none=True)
    guardian = fields.Nested(GuardianOutSchema, allow_none=True)
    consent = fields.Nested(ConsentSchema)
    risk_level = fields.String()
    risk_flags = fields.List(fields.String())
    status = fields.String()
    close_reason = fields.String(allow_none=True)
    registered_on = fields.Date()
    status_changed_on = fields.Date()
    recorded_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = fields.Integer()


class ClientPageSchema(Schema):
    items = fields.List(fields.Nested(ClientSchema))
    next_cursor = fields.String(allow_none=True)
