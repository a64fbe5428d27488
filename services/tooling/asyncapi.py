"""The hub's event contract as an AsyncAPI 2.6 document, generated from the event registry.

The document is committed under docs/events/asyncapi.json; `hub events contract --check`
(run by the test suite) fails when it is stale, and `breaking_changes()` finds changes to a
published version that would break a subscriber (a field removed or retyped, a new required
field, a narrowed enum): such a change needs a new version of the type instead.
"""
import json
from pathlib import Path

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from hub import events as hub_events
from hub.config import REPO_ROOT

CONTRACT_PATH = REPO_ROOT / "docs" / "events" / "asyncapi.json"


def _json_schema(schema_cls):
    """The schema as JSON Schema. OpenAPI 3.1's dialect is JSON Schema's own: a field that may be
    null has `"type": [..., "null"]`, which any JSON Schema validator understands (3.0 wrote
    `nullable`, which none does)."""
    plugin = MarshmallowPlugin(schema_name_resolver=lambda schema: None)
    spec = APISpec("contract", "1", "3.1.0", plugins=[plugin])
    return plugin.converter.schema2jsonschema(schema_cls)


def build_document():
    types = hub_events.load_contract()
    envelope = _json_schema(hub_events.CloudEventSchema)
    channels, messages = {}, {}
    for key, etype in types.items():
        payload = json.loads(json.dumps(envelope))
        payload["properties"]["type"] = {"type": "string", "const": key}
        data = _json_schema(etype.schema)
        data["additionalProperties"] = True      # fields may be added within a version
        payload["properties"]["data"] = data
        message_name = key.replace(".", "_")
        messages[message_name] = {
            "name": key, "title": key, "summary": etype.description,
            "contentType": "application/json",
            "x-producer": etype.producer,
            "payload": payload,
        }
        successor = next((t for t in types.values() if t.replaces is etype), None)
        if successor is not None:
            messages[message_name]["x-deprecated"] = {
                "replaced_by": successor.key,
                "published_until": successor.deprecated_until.isoformat()}
        channels[key] = {
            "description": f"Routing key `{key}` on the hub's topic exchange.",
            "subscribe": {"operationId": f"receive_{message_name}",
                          "message": {"$ref": f"#/components/messages/{message_name}"}},
            "bindings": {"amqp": {"is": "routingKey", "exchange": {
                "name": "<HUB_DB_PREFIX>.events", "type": "topic", "durable": True}}},
        }
    return {
        "asyncapi": "2.6.0",
        "info": {"title": "Shegong Hub events", "version": "1",
                 "description": "CloudEvents 1.0 (JSON) published by a county hub. Events carry "
                                "ids, codes and categories, never a name, ID number, phone or "
                                "address. Deduplicate on `id`."},
        "defaultContentType": "application/json",
        "servers": {"county-hub": {"url": "127.0.0.1:5672", "protocol": "amqp",
                                   "description": "the county hub's RabbitMQ"}},
        "channels": channels,
        "components": {"messages": messages},
    }


def render(document):
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def breaking_changes(old, new):
    """What in `new` would break a subscriber coded against `old`: a list of sentences."""
    problems = []
    old_messages = old.get("components", {}).get("messages", {})
    new_messages = new.get("components", {}).get("messages", {})
    for name, message in old_messages.items():
        if name not in new_messages:
            problems.append(f"{message['name']}: the type was removed (keep it published until "
                            "its deprecation period ends)")
            continue
        problems += _schema_breaks(message["name"], "data",
                                   message["payload"]["properties"]["data"],
                                   new_messages[name]["payload"]["properties"]["data"])
    return problems


def _types(schema):
    """The JSON types a schema allows; an older document's `nullable: true` counts as null."""
    kinds = schema.get("type")
    kinds = set(kinds) if isinstance(kinds, list) else {kinds}
    return kinds | {"null"} if schema.get("nullable") is True else kinds


def _schema_breaks(type_key, path, old, new):
    problems = []
    if _types(old) != _types(new):
        problems.append(f"{type_key}: {path} changed type {old.get('type')} -> {new.get('type')}")
    if "enum" in old and not set(old["enum"]) <= set(new.get("enum", old["enum"])):
        problems.append(f"{type_key}: {path} no longer accepts {sorted(set(old['enum']) - set(new['enum']))}")
    if "enum" in new and "enum" not in old:
        problems.append(f"{type_key}: {path} gained an enum")
    for field in set(new.get("required", [])) - set(old.get("required", [])):
        problems.append(f"{type_key}: {path}.{field} became required")
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for field, schema in old_props.items():
        if field not in new_props:
            problems.append(f"{type_key}: {path}.{field} was removed")
        else:
            problems += _schema_breaks(type_key, f"{path}.{field}", schema, new_props[field])
    if "items" in old and "items" in new:
        problems += _schema_breaks(type_key, f"{path}[]", old["items"], new["items"])
    return problems


def committed_document(path=CONTRACT_PATH):
    return json.loads(Path(path).read_text(encoding="utf-8")) if Path(path).exists() else None
