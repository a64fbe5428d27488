"""The stats service's HTTP contract: query and body schemas (also the OpenAPI document's)."""
from marshmallow import Schema, ValidationError, fields, validate, validates

from contracts.events.stats import STATION_CODE, STATION_TIERS
from contracts.places import COUNTY, PLACE, TOWNSHIP
from hub.i18n import _
from hub.validators import Pattern, UpToThisYear, not_in_future
from stats import domain

CODE = fields.String(required=True, validate=PLACE, metadata={"example": "341721"})
A_YEAR = UpToThisYear(2000)         # the first year the hub keeps figures of
PERIOD = Pattern(r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$",
                 error=_("must be a year (2023), a month (2023-05) or a day (2023-05-14)"))


class StatsQuerySchema(Schema):
    level = fields.String(required=True, validate=validate.OneOf(domain.LEVELS))
    code = CODE
    period = fields.String(required=True, validate=PERIOD, metadata={
        "description": "2023, 2023-05 or 2023-05-14", "example": "2024"})
    breakdown = fields.String(load_default=None, validate=validate.OneOf(["category", "group"]))

    @validates("period")
    def check_period(self, value, **kwargs):
        try:
            domain.parse_period(value)
        except ValueError as exc:
            raise ValidationError(str(exc))


class AnnualQuerySchema(Schema):
    year = fields.Integer(required=True, validate=A_YEAR, metadata={"example": 2024})
    code = CODE
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv", "xlsx"]))


class SignoffSchema(Schema):
    year = fields.Integer(required=True, validate=A_YEAR, metadata={"example": 2024})
    code = fields.String(required=True, validate=COUNTY, metadata={"example": "341721"})


class RatingSchema(Schema):
    year = fields.Integer(required=True, validate=A_YEAR, metadata={"example": 2024})
    rating = fields.String(required=True, validate=validate.OneOf(
        list(domain.RATINGS), error=_("must be one of excellent (优秀), good (良好), "
                                       "qualified (合格), unqualified (不合格)")))


class RatingOutSchema(Schema):
    station_code = fields.String()
    year = fields.Integer()
    rating = fields.String()
    rating_label = fields.String()
    rated_at = fields.DateTime()


class SignoffOutSchema(Schema):
    county_code = fields.String()
    year = fields.Integer()
    signed_by = fields.String()
    signed_at = fields.DateTime()


# -- the station network ---------------------------------------------------------------------
def tier_field(**kwargs):
    return fields.String(validate=validate.OneOf(
        list(STATION_TIERS), error=_("must be one of county (县级社工总站), township (乡镇社工站), "
                                     "village (村（社区）社工室), service_point (志愿服务站点)")),
        metadata={"example": "township"}, **kwargs)


def staff_field(**kwargs):
    return fields.List(fields.UUID(), validate=validate.Length(max=500), metadata={
        "description": "the ids of the workers assigned (workers registered in resources)"},
        **kwargs)


def code_field(**kwargs):
    return fields.String(validate=STATION_CODE, metadata={"example": "341721100"}, **kwargs)


class StationCreateSchema(Schema):
    code = code_field(required=True)
    name = fields.String(required=True, validate=validate.Length(1, 100),
                         metadata={"example": "尧渡镇社工站"})
    tier = tier_field(required=True)
    parent_code = code_field(load_default=None, allow_none=True)
    place_code = fields.String(required=True, validate=PLACE, metadata={
        "description": "where it stands: the county (6 digits), a township (9), a village (12)",
        "example": "341721100"})
    opened_on = fields.Date(required=True, validate=not_in_future)
    closed_on = fields.Date(load_default=None, allow_none=True, validate=not_in_future)
    staff = staff_field(load_default=list)


class StationChangeSchema(Schema):
    """Only the fields given change. Closing: closed_on. Opening again: closed_on null with an
    opened_on on or after the day it closed."""
    name = fields.String(validate=validate.Length(1, 100))
    parent_code = code_field(allow_none=True)
    staff = staff_field()
    opened_on = fields.Date(validate=not_in_future)
    closed_on = fields.Date(allow_none=True, validate=not_in_future)


class StationSchema(Schema):
    code = fields.String()
    name = fields.String()
    tier = fields.String()
    tier_label = fields.String()
    parent_code = fields.String(allow_none=True)
    place_code = fields.String()
    township_code = fields.String(allow_none=True)
    opened_on = fields.Date()
    closed_on = fields.Date(allow_none=True)
    open = fields.Boolean()
    opening = fields.Integer()
    staff = fields.List(fields.String())
    staff_count = fields.Integer()
    changed_at = fields.DateTime()


class StationQuerySchema(Schema):
    tier = tier_field()
    parent_code = code_field()
    place_code = fields.String(validate=PLACE, metadata={
        "description": "stations at this place or inside it"})
    township_code = fields.String(validate=TOWNSHIP)
    open_on = fields.Date(metadata={"description": "stations open on this day"})
    cursor = fields.String()
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


StationPageSchema = Schema.from_dict({"items": fields.List(fields.Nested(StationSchema)),
                                      "next_cursor": fields.String(allow_none=True)},
                                     name="StationPage")
