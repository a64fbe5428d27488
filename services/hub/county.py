"""A county's places: the YAML file a hub is configured with, loaded and checked."""
from dataclasses import dataclass, field
from datetime import date

import yaml
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hub.validators import Pattern


class VillageSchema(Schema):
    code = fields.String(required=True, validate=Pattern(r"^[0-9]{12}$"))
    name = fields.String(required=True)
    population = fields.Integer(load_default=0, validate=validate.Range(min=0))


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


class CountyFileSchema(Schema):
    county = fields.Nested(CountyInfoSchema, required=True)
    townships = fields.List(fields.Nested(TownshipSchema), required=True,
                            validate=validate.Length(min=1))

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
        if errors:
            raise ValidationError(errors)


@dataclass(frozen=True)
class Township:
    code: str
    name: str
    population: int
    station_opened_on: date | None
    villages: dict = field(default_factory=dict)   # code -> name


@dataclass(frozen=True)
class County:
    code: str
    name: str
    population: int
    townships: dict   # code -> Township

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
                            {v["code"]: v["name"] for v in t["villages"]})
        for t in data["townships"]
    }
    info = data["county"]
    return County(info["code"], info["name"], info["population"], townships)
