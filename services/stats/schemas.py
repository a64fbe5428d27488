"""The stats service's HTTP contract: query and body schemas (also the OpenAPI document's)."""
from datetime import date

from marshmallow import Schema, ValidationError, fields, validate, validates

from stats import domain

CODE = fields.String(required=True, validate=validate.Regexp(
    r"^(\d{6}|\d{9}|\d{12})$", error="must be a place code of 6, 9 or 12 digits"))


def a_year(value):
    if not 2000 <= value <= date.today().year:
        raise ValidationError(f"must be between 2000 and {date.today().year}")


class StatsQuerySchema(Schema):
    level = fields.String(required=True, validate=validate.OneOf(domain.LEVELS))
    code = CODE
    period = fields.String(required=True, metadata={"description": "2023, 2023-05 or 2023-05-14"})
    breakdown = fields.String(load_default=None, validate=validate.OneOf(["category", "group"]))

    @validates("period")
    def check_period(self, value, **kwargs):
        try:
            domain.parse_period(value)
        except ValueError as exc:
            raise ValidationError(str(exc))


class AnnualQuerySchema(Schema):
    year = fields.Integer(required=True, validate=a_year)
    code = CODE
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv", "xlsx"]))


class SignoffSchema(Schema):
    year = fields.Integer(required=True, validate=a_year)
    code = fields.String(required=True, validate=validate.Regexp(r"^\d{6}$",
                                                                 error="must be the county code"))


class RatingSchema(Schema):
    year = fields.Integer(required=True, validate=a_year)
    rating = fields.String(required=True, validate=validate.OneOf(
        list(domain.RATINGS), error="must be one of excellent (优秀), good (良好), "
                                     "qualified (合格), unqualified (不合格)"))


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
