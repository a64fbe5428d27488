"""CloudEvents 1.0 envelopes and the registry of event types with their data schemas.

Each service declares the events it publishes with `register(...)`; the schema is checked when
an event is made (publish) and when one is received. Types carry a version: `client.registered.v1`.

A breaking change is a new version registered with `replaces=` (the old type), `downgrade=` (new
data -> old data) and `deprecated_until=` (a date): until then every new-version event is
published together with its old-version twin, so subscribers coded against the old version keep
working while they move (`make_events`).
"""
import importlib
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import cached_property

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields

SPEC_VERSION = "1.0"

# Field names that must never appear in event data: personal details stay in their service.
PERSONAL_FIELDS = frozenset({
    "name", "id_number", "phone", "address", "guardian", "guardian_name", "guardian_phone",
    "contact", "birth_date", "notes", "certificate_number",
})


@dataclass(frozen=True)
class EventType:
    name: str          # "client.registered"
    version: int       # 1
    schema: type       # marshmallow Schema class of the data
    producer: str      # the service that publishes it
    description: str
    replaces: "EventType | None" = None     # the older version still published beside this one
    downgrade: object = None                # this version's data -> the older version's data
    deprecated_until: date | None = None    # the last day the older version is published

    @cached_property
    def validator(self):
        """One schema instance, reused: building one per event costs more than checking it."""
        return self.schema()

    @property
    def key(self):
        return f"{self.name}.v{self.version}"


REGISTRY: dict[str, EventType] = {}


class EventContractError(ValueError):
    """An event does not match its published contract."""


class UnknownEventType(EventContractError):
    """An event of a type this process does not know: a newer producer's, not a broken one."""


def load_contract():
    """Import the module of event types each service's manifest names, so the registry holds
    every type the hub publishes; the registry, sorted by type. A consumer calls it before it
    takes its first message: what a process knows of the contract must not depend on which
    modules it happened to import."""
    from hub.manifest import manifests
    for manifest in manifests().values():
        if manifest.events:
            importlib.import_module(manifest.events)
    return dict(sorted(REGISTRY.items()))


def register(name, version, schema, producer, description="", *, replaces=None,
             downgrade=None, deprecated_until=None):
    leaked = PERSONAL_FIELDS & set(schema().fields)
    if leaked:
        raise EventContractError(f"{name} schema carries personal fields: {sorted(leaked)}")
    if replaces is not None and (replaces.name != name or replaces.version >= version
                                 or downgrade is None or deprecated_until is None):
        raise EventContractError(f"{name}.v{version} replaces an older version of {name}: give "
                                 "it with downgrade= and deprecated_until=")
    etype = EventType(name, version, schema, producer, description, replaces, downgrade,
                      deprecated_until)
    REGISTRY[etype.key] = etype
    return etype


def make_events(type_key, source, subject, data, *, time=None, today=None):
    """The event, and the twins of the older versions it replaces that are still published."""
    events = [make_event(type_key, source, subject, data, time=time)]
    etype, today = REGISTRY[type_key], today or date.today()
    while etype.replaces is not None and today <= etype.deprecated_until:
        data = etype.downgrade(data)
        etype = etype.replaces
        events.append(make_event(etype.key, source, subject, data, time=time))
    return events


class CloudEventSchema(Schema):
    """The envelope every hub event has (CloudEvents 1.0, JSON format)."""
    specversion = fields.String(required=True)
    id = fields.UUID(required=True)
    source = fields.String(required=True)
    type = fields.String(required=True)
    time = fields.String(required=True)
    subject = fields.String(required=True)
    datacontenttype = fields.String(required=True)
    data = fields.Dict(required=True)


ENVELOPE = CloudEventSchema()
ENVELOPE_TEXTS = ("specversion", "source", "type", "time", "subject", "datacontenttype")
CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def check_data(type_key, data, *, strict=True):
    """Check event data against its type's schema.

    Publishing is strict (an unknown field is a bug); receiving ignores fields it does not
    know, so a producer may add a field to a version without breaking older consumers.
    """
    etype = REGISTRY.get(type_key)
    if etype is None:
        raise UnknownEventType(f"unknown event type {type_key}")
    try:
        etype.validator.load(data, unknown=RAISE if strict else EXCLUDE)
    except ValidationError as exc:
        raise EventContractError(f"{type_key} data does not match its schema: {exc.messages}")


def make_event(type_key, source, subject, data, *, time=None, event_id=None):
    check_data(type_key, data)
    return {
        "specversion": SPEC_VERSION,
        "id": event_id or str(uuid.uuid4()),
        "source": source,
        "type": type_key,
        "time": (time or datetime.now(timezone.utc)).isoformat(),
        "subject": subject,
        "datacontenttype": "application/json",
        "data": data,
    }


def plain_envelope(event):
    """Whether the envelope is what nearly every one is: texts, a canonical UUID id, a dict of
    data and our specversion; then the envelope schema has nothing to say (and, an event at a
    time, it would cost as much again as the data's check)."""
    return (isinstance(event, dict) and isinstance(event.get("data"), dict)
            and all(isinstance(event.get(k), str) for k in ENVELOPE_TEXTS)
            and isinstance(event.get("id"), str) and CANONICAL_UUID.fullmatch(event["id"])
            and event["specversion"] == SPEC_VERSION)


def check_event(event):
    """Validate a received envelope and its data; raises EventContractError."""
    if not plain_envelope(event):
        errors = ENVELOPE.validate(event) if isinstance(event, dict) else {"_": "not an object"}
        if errors:
            raise EventContractError(f"not a CloudEvent: {errors}")
        if event["specversion"] != SPEC_VERSION:
            raise EventContractError(f"unsupported specversion {event['specversion']}")
    check_data(event["type"], event["data"], strict=False)
