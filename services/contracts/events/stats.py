"""The events stats publishes: station ratings, sign-offs and the county's place profile.

They carry codes, years and counts only. A county hub's stats service publishes them so that
the provincial aggregator (fed by the county's events) learns ratings, frozen years and each
county's townships, populations and station opening dates.
"""
from marshmallow import Schema, fields, validate

from contracts.places import COUNTY, TOWNSHIP
from hub.events import register
from hub.i18n import _
from hub.validators import Pattern

RATINGS = {"excellent": "优秀", "good": "良好", "qualified": "合格", "unqualified": "不合格"}
STATION = Pattern(r"^[0-9]{6}([0-9]{3})?$",
                  error=_("must be a county (6) or township (9) code"))


class StationRatedData(Schema):
    station_code = fields.String(required=True, validate=STATION)
    county_code = fields.String(required=True, validate=COUNTY)
    year = fields.Integer(required=True)
    rating = fields.String(required=True, validate=validate.OneOf(list(RATINGS)))
    effective_date = fields.Date(required=True)


class SignedOffData(Schema):
    county_code = fields.String(required=True, validate=COUNTY)
    year = fields.Integer(required=True)
    effective_date = fields.Date(required=True)


class ProfileTownship(Schema):
    township_code = fields.String(required=True, validate=TOWNSHIP)
    township_name = fields.String(required=True)
    population = fields.Integer(required=True)
    station_opened_on = fields.Date(required=True, allow_none=True)


class CountyProfileData(Schema):
    county_code = fields.String(required=True, validate=COUNTY)
    county_name = fields.String(required=True)
    population = fields.Integer(required=True)
    townships = fields.List(fields.Nested(ProfileTownship), required=True)
    effective_date = fields.Date(required=True)


STATION_RATED = register("station.rated", 1, StationRatedData, "stats",
                         "A station (township, or the county hub station) was rated for a year.")
SIGNED_OFF = register("stats.signed_off", 1, SignedOffData, "stats",
                      "A county admin approved a year's figures; later events for it are "
                      "kept as pending corrections.")
COUNTY_PROFILE = register("stats.county_profile", 1, CountyProfileData, "stats",
                          "The county's townships, populations and station opening dates "
                          "(published when the hub's configuration changes).")
