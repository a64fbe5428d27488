"""A county's places: the YAML file a hub is configured with, loaded and checked.

Besides the places it names the stations the hub's register starts with (stats seeds them once,
by these codes): the county hub station (`county.station_opened_on`, else the earliest township
station's date; its code the county's code), each township's station (`station_opened_on`; its
code the township's), each village's room (`room_opened_on`; its code the village's) and the
volunteer service points listed under `service_points` (each with a code of its own).
"""
from dataclasses import dataclass, field
from datetime import date

import yaml
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hub.validators import Pattern


class VillageSchema(Schema):
    code = fields.String(required=True, validate=Pattern(r"^[0-9]{12}$"))
    name = fields.String(required=True)
    population = fields.Integer(load_default=0, validate=validate.Range(min=0))
    room_opened_on = fields.Date(load_default=None, allow_none=True)    # its 社工室, if any


class TownshipSchema(Schema):
    code = fields.String(required=True, validate=Pattern(r"^[0-9]{9}$"))
    name = fields.String(required=True)
    population = fields.Integer(load_default=0, validate=validate.Range(min=0))
    station_opened_on = fields.Date(load_default=None, allow_none=True)
    villages = fields.List(fields.Nested(VillageSchema), load_default=list)


class CountyInfoSchema(Schema):
    code = fields.String(required=True, validate=Pattern(r"^[0-9]{6}$"))
    name = fields.String(required=True)
    population = fields.Integer(load_default=0, validate=validate.Range(min=0))
    station_opened_on = fields.Date(load_default=None, allow_none=True)  # the 县级社工总站


class ServicePointSchema(Schema):
    """A volunteer service point (志愿服务站点) the register starts with."""
    code = fields.String(required=True, validate=Pattern(r"^[0-9A-Za-z][0-9A-Za-z_-]{0,31}$"))
    name = fields.String(required=True)
    place = fields.String(required=True, validate=Pattern(r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$"))
    opened_on = fields.Date(required=True)
    parent = fields.String(load_default=None, allow_none=True)


class CountyFileSchema(Schema):
    county = fields.Nested(CountyInfoSchema, required=True)
    townships = fields.List(fields.Nested(TownshipSchema), required=True,
                            validate=validate.Length(min=1))
    service_points = fields.List(fields.Nested(ServicePointSchema), load_default=list)

    @validates_schema
    def codes_nest(self, data, **kwargs):
        county = data["county"]["code"]
        errors = {}
        for i, town in enumerate(data["townships"]):
            if not town["code"].startswith(county):
                errors[f"townships.{i}.code"] = [f"must start with the county code {county}"]
            for j, village in enumerate(town["villages"]):
                if not village["code"].startswith(town["code"]):
                    errors[f"townships.{i}.villages.{j}.code"] = [
                        f"must start with its township code {town['code']}"]
        errors.update(station_errors(data))
        if errors:
            raise ValidationError(errors)


def station_errors(data):
    """The stations the file opens: a village room under its township's station; each service
    point at one of the file's places, under a station the file opens (or none), with a code
    of its own."""
    county = data["county"]["code"]
    places = {county} | {t["code"] for t in data["townships"]} | {
        v["code"] for t in data["townships"] for v in t["villages"]}
    towns = {t["code"] for t in data["townships"] if t["station_opened_on"]}
    stations = towns | {v["code"] for t in data["townships"] for v in t["villages"]
                        if v["room_opened_on"]}
    if towns or data["county"]["station_opened_on"]:
        stations.add(county)
    points = [p["code"] for p in data["service_points"]]
    errors = {}
    for i, town in enumerate(data["townships"]):
        for j, village in enumerate(town["villages"]):
            if village["room_opened_on"] and not town["station_opened_on"]:
                errors[f"townships.{i}.villages.{j}.room_opened_on"] = [
                    "a village room belongs to its township's station: give the township's "
                    "station_opened_on too"]
    for i, point in enumerate(data["service_points"]):
        if point["place"] not in places:
            errors[f"service_points.{i}.place"] = [
                "must be the county, one of its townships or one of its listed villages"]
        if point["code"] in stations or points.index(point["code"]) != i:
            errors[f"service_points.{i}.code"] = ["is another station's code"]
        if point["parent"] is not None and point["parent"] not in stations:
            errors[f"service_points.{i}.parent"] = [
                "must be the code of a station this file opens: the county's, a township's or "
                "a village's code"]
    return errors


@dataclass(frozen=True)
class Township:
    code: str
    name: str
    population: int
    station_opened_on: date | None
    villages: dict = field(default_factory=dict)   # code -> name
    rooms: dict = field(default_factory=dict)      # village code -> its room's opening date


@dataclass(frozen=True)
class ServicePoint:
    code: str
    name: str
    place: str
    opened_on: date
    parent: str | None = None


@dataclass(frozen=True)
class County:
    code: str
    name: str
    population: int
    townships: dict   # code -> Township
    station_opened_on: date | None = None     # the county hub station's (县级社工总站)
    service_points: tuple = ()                # ServicePoint, as listed

    def township_of(self, village_code):
        """The township a village code belongs to, or None when it is not in this county."""
        town = self.townships.get(village_code[:9]) if village_code else None
        if town is not None and village_code in town.villages:
            return town
        return None

    def has_township(self, code):
        return code in self.townships


class CountyConfigError(ValueError):
    pass


def load_county(path):
    """Read and check a county YAML file; raises CountyConfigError naming the bad keys."""
    try:
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except OSError as exc:
        raise CountyConfigError(f"cannot read county config {path}: {exc.strerror}") from exc
    try:
        data = CountyFileSchema().load(raw or {})
    except ValidationError as exc:
        raise CountyConfigError(f"county config {path} is invalid: {exc.messages}") from exc
    townships = {
        t["code"]: Township(t["code"], t["name"], t["population"], t["station_opened_on"],
                            {v["code"]: v["name"] for v in t["villages"]},
                            {v["code"]: v["room_opened_on"] for v in t["villages"]
                             if v["room_opened_on"]})
        for t in data["townships"]
    }
    info = data["county"]
    opened = [t.station_opened_on for t in townships.values() if t.station_opened_on]
    return County(info["code"], info["name"], info["population"], townships,
                  info["station_opened_on"] or (min(opened) if opened else None),
                  tuple(ServicePoint(**p) for p in data["service_points"]))
