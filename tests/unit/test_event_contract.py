"""The event contract: docs/events/asyncapi.json is generated from the schemas, kept current,
and no published version changes incompatibly."""
import copy

import pytest
from click.testing import CliRunner

from hub.events import PERSONAL_FIELDS
from tooling import asyncapi
from tooling.cli import main


def test_committed_contract_is_current_and_compatible():
    result = CliRunner().invoke(main, ["events", "contract"],
                                env={"HUB_DATA_KEY": "x", "HUB_JWT_SECRET": "x"})
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output


def test_every_event_type_is_in_the_contract_without_personal_fields():
    document = asyncapi.build_document()
    assert "client.registered.v1" in document["channels"]
    for message in document["components"]["messages"].values():
        payload = message["payload"]
        assert set(payload["required"]) >= {"specversion", "id", "source", "type", "time",
                                            "subject", "datacontenttype", "data"}
        assert not PERSONAL_FIELDS & set(payload["properties"]["data"].get("properties", {})), \
            message["name"]


def test_incompatible_changes_are_found():
    old = asyncapi.build_document()
    name = "client_closed_v1"

    def changed(edit):
        new = copy.deepcopy(old)
        edit(new["components"]["messages"][name]["payload"]["properties"]["data"])
        return asyncapi.breaking_changes(old, new)

    assert changed(lambda d: d["properties"].pop("reason"))[0].endswith("data.reason was removed")
    assert "changed type" in changed(lambda d: d["properties"]["client_id"].update(type="integer"))[0]
    assert "no longer accepts" in changed(
        lambda d: d["properties"]["reason"].update(enum=["moved"]))[0]
    assert "became required" in changed(
        lambda d: d.update(required=d.get("required", []) + ["note"]))[0]
    assert changed(lambda d: d["properties"].update(note={"type": "string"})) == []  # additive
    gone = copy.deepcopy(old)
    del gone["components"]["messages"][name]
    assert "was removed" in asyncapi.breaking_changes(old, gone)[0]


def test_a_field_that_may_be_null_is_plain_json_schema_and_not_a_break():
    """`"type": [T, "null"]` (what any JSON Schema validator reads), the same type as an older
    document's OpenAPI-style `nullable: true`; a field that becomes nullable is a change."""
    new = asyncapi.build_document()
    data = new["components"]["messages"]["visit_scheduled_v1"]["payload"]["properties"]["data"]
    assert data["properties"]["worker_id"]["type"] == ["string", "null"]
    assert '"nullable"' not in asyncapi.render(new)

    def as_nullable(schema):
        if isinstance(schema, dict):
            if isinstance(schema.get("type"), list) and "null" in schema["type"]:
                schema["type"], schema["nullable"] = schema["type"][0], True
            for value in schema.values():
                as_nullable(value)
        return schema
    assert asyncapi.breaking_changes(as_nullable(copy.deepcopy(new)), new) == []
    widened = copy.deepcopy(new)
    closed = widened["components"]["messages"]["client_closed_v1"]["payload"]["properties"]
    closed["data"]["properties"]["client_id"]["type"] = ["string", "null"]
    assert "changed type" in asyncapi.breaking_changes(new, widened)[0]


def test_a_new_version_is_published_beside_the_old_one_until_its_deprecation_ends():
    from datetime import date

    from marshmallow import Schema, fields

    from hub import events as hub_events

    class V1(Schema):
        client_id = fields.String(required=True)
        level = fields.String(required=True)

    class V2(Schema):
        client_id = fields.String(required=True)
        level = fields.Integer(required=True)       # retyped: a breaking change

    old = hub_events.register("test.versioned", 1, V1, "test")
    new = hub_events.register("test.versioned", 2, V2, "test", replaces=old,
                              downgrade=lambda d: {**d, "level": str(d["level"])},
                              deprecated_until=date(2030, 6, 30))
    try:
        during = hub_events.make_events(new.key, "/hub/x/test", "c/1", {"client_id": "1",
                                                                        "level": 3},
                                        today=date(2030, 6, 30))
        assert [(e["type"], e["data"]["level"]) for e in during] == [
            ("test.versioned.v2", 3), ("test.versioned.v1", "3")]
        after = hub_events.make_events(new.key, "/hub/x/test", "c/1", {"client_id": "1",
                                                                       "level": 3},
                                       today=date(2030, 7, 1))
        assert [e["type"] for e in after] == ["test.versioned.v2"]
        with pytest.raises(hub_events.EventContractError):
            hub_events.register("test.versioned", 3, V2, "test", replaces=new)   # no downgrade
    finally:
        hub_events.REGISTRY.pop(old.key)
        hub_events.REGISTRY.pop(new.key)
