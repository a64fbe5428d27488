"""The generated OpenAPI document: valid (checked by openapi-spec-validator and by Schemathesis'
own loading), and stating the rules the API enforces, so a client or a fuzzer can send data that
reaches the handlers."""
import re
from datetime import date

import pytest
import schemathesis
from openapi_spec_validator import validate

from contracts.idnumber import ID_NUMBER, make
from contracts.phone import PHONE
from contracts.places import VILLAGE
from hub.manifest import data_services, manifest
from hub.openapi import build_spec


@pytest.fixture(scope="module")
def spec():
    return build_spec([manifest(s).service_class() for s in data_services()])


def schema(spec, name):
    return spec["components"]["schemas"][name]["properties"]


def test_the_document_is_valid_openapi(spec):
    validate(spec)
    schemathesis.openapi.from_dict(spec).validate()     # raises on an invalid schema


def test_decimal_bounds_are_numbers_and_exclusive_bounds_are_kept(spec):
    hours = schema(spec, "ResourcesHours")["hours"]
    assert hours["maximum"] == 24 and hours["minimum"] == 0 and hours["exclusiveMinimum"] is True
    assert hours["multipleOf"] == 0.01


def test_codes_and_id_numbers_have_their_patterns(spec):
    client = schema(spec, "IntakeClientCreate")
    id_number = re.compile(client["id_number"]["pattern"])
    assert id_number.fullmatch("34172119410203004X")
    assert not id_number.fullmatch("34172119410203004x")
    assert client["village_code"]["pattern"] == "^[0-9]{12}$"
    assert schema(spec, "ResourcesWorkerCreate")["township_code"]["pattern"] == "^[0-9]{9}$"
    assert schema(spec, "StatsSignoff")["code"]["pattern"] == "^[0-9]{6}$"
    assert "solitary_elderly" in client["categories"]["items"]["enum"]
    assert client["risk_level"]["enum"] == ["low", "medium", "high", "critical"]
    assert "goals_met" in schema(spec, "IntakeClose")["reason"]["enum"]


def test_a_dict_states_the_keys_it_takes(spec):
    categories = schema(spec, "VisitsPolicy")["categories"]
    assert categories["additionalProperties"] is False
    assert categories["properties"]["solitary_elderly"]["maximum"] == 366


def test_a_nullable_nested_object_is_null_or_that_object(spec):
    disability = schema(spec, "IntakeClientCreate")["disability"]["anyOf"]
    assert {"$ref": "#/components/schemas/IntakeDisability"} in disability
    assert {"type": "object", "nullable": True, "enum": [None]} in disability


def test_ids_in_paths_are_uuids_and_each_201_links_to_its_record(spec):
    close = spec["paths"]["/api/v1/clients/{client_id}/close"]["post"]["parameters"]
    assert {"in": "path", "name": "client_id", "required": True,
            "schema": {"type": "string", "format": "uuid"}} in close
    links = spec["paths"]["/api/v1/clients"]["post"]["responses"]["201"]["links"]
    assert links["intake_get_client"] == {"operationId": "intake_get_client",
                                          "parameters": {"client_id": "$response.body#/id"}}
    assert "intake_close_client" in links
    for path in ("/api/v1/donations", "/api/v1/projects", "/api/v1/referrals", "/api/v1/workers"):
        assert spec["paths"][path]["post"]["responses"]["201"]["links"], path


def test_patterns_mean_the_same_in_python_and_in_json_schema():
    """Whole value, ASCII digits: Python's `$` takes a final newline, its `\\d` Arabic digits."""
    for validator, good in ((VILLAGE, "341721100001"), (PHONE, "13900001111"),
                            (ID_NUMBER, make("341721", date(1941, 2, 3), 4))):
        assert validator(good) == good
        for bad in (good + "\n", "٣" + good[1:]):
            with pytest.raises(Exception):
                validator(bad)
