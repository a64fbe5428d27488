"""The stats service's HTTP contract: query and body schemas (also the OpenAPI document's)."""
from marshmallow import Schema, ValidationError, fields, validate, validates

from contracts.places import COUNTY, PLACE
from hub.i18n import _
from hub.validators import Pattern, UpToThisYear
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
