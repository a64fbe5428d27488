"""The event contract: docs/events/asyncapi.json is generated from the schemas, kept current,
and no published version changes incompatibly."""
import copy

from click.testing import CliRunner

from hub import asyncapi
from hub.cli import main
from hub.events import PERSONAL_FIELDS


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
