"""The events stats publishes: station ratings, sign-offs, the county's place profile and the
station network (stations opened, changed and closed).

They carry codes, years, dates and counts only. A county hub's stats service publishes them so
that the provincial aggregator (fed by the county's events) learns ratings, frozen years, each
county's townships and populations, and its network of stations and volunteer service points.
A station's name and its staff are not in them: the province counts stations, by code.
"""
from marshmallow import Schema, fields, validate

from contracts.places import COUNTY, PLACE, TOWNSHIP
from hub.events import register
from hub.i18n import _
from hub.validators import Pattern

RATINGS = {"excellent": "优秀", "good": "良好", "qualified": "合格", "unqualified": "不合格"}
STATION = Pattern(r"^[0-9]{6}([0-9]{3})?$",
                  error=_("must be a county (6) or township (9) code"))
# the station network: 县级社工总站, 乡镇社工站, 村（社区）社工室 and 志愿服务站点
STATION_TIERS = {"county": "县级社工总站", "township": "乡镇社工站", "village": "村（社区）社工室",
                 "service_point": "志愿服务站点"}
STATION_CODE = Pattern(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,31}$",
                       error=_("must be 1-32 letters, digits, - or _, starting with a letter or "
                               "digit"))


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
    villages = fields.Integer(load_default=0, validate=validate.Range(min=0), metadata={
        "description": "how many villages (村/社区) the county file lists in it: the share of "
                       "them with a room (社工室) is counted against it"})


class CountyProfileData(Schema):
    county_code = fields.String(required=True, validate=COUNTY)
    county_name = fields.String(required=True)
    population = fields.Integer(required=True)
    townships = fields.List(fields.Nested(ProfileTownship), required=True)
    effective_date = fields.Date(required=True)


class StationData(Schema):
    """A station as it is after the change: codes, tier, dates and the number of its staff."""
    station_code = fields.String(required=True, validate=STATION_CODE)
    county_code = fields.String(required=True, validate=COUNTY)
    tier = fields.String(required=True, validate=validate.OneOf(list(STATION_TIERS)))
    parent_code = fields.String(required=True, allow_none=True, validate=STATION_CODE)
    place_code = fields.String(required=True, validate=PLACE)
    opened_on = fields.Date(required=True)
    closed_on = fields.Date(required=True, allow_none=True)
    opening = fields.Integer(required=True, validate=validate.Range(min=1), metadata={
        "description": "1 for the station's first opening, 2 once it has closed and opened "
                       "again, …: the figures keep each opening's dates"})
    staff_count = fields.Integer(required=True, validate=validate.Range(min=0))
    effective_date = fields.Date(required=True)


STATION_RATED = register("station.rated", 1, StationRatedData, "stats",
                         "A station (township, or the county hub station) was rated for a year.")
SIGNED_OFF = register("stats.signed_off", 1, SignedOffData, "stats",
                      "A county admin approved a year's figures; later events for it are "
                      "kept as pending corrections.")
COUNTY_PROFILE = register("stats.county_profile", 1, CountyProfileData, "stats",
                          "The county's townships, populations and station opening dates "
                          "(published when the hub's configuration changes).")
STATION_OPENED = register("station.opened", 1, StationData, "stats",
                          "A station (county, township, village room) or a volunteer service "
                          "point opened, or opened again after it closed (`opening` counts).")
STATION_CHANGED = register("station.changed", 1, StationData, "stats",
                           "A station's parent, staff or dates changed (a correction of an "
                           "opening or closing date too).")
STATION_CLOSED = register("station.closed", 1, StationData, "stats",
                          "A station or volunteer service point closed on `closed_on`.")
