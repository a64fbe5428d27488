"""The station console's offline sync: a batch of operations a device queued, applied in order.

Each operation is sent, as the device would have sent it online, to the single-call route of
the service that owns it (`KINDS`), with the caller's token and the Idempotency-Key
`sync:<device_id>:<op_id>`: the services' own rules, access and idempotency (hub/http.py)
decide it, and a repeated operation gets its first answer back (`Idempotent-Replayed`), so the
same batch sent twice changes nothing. Each answer becomes one result (`outcome`): applied,
already_applied, rejected (the service's field errors) or conflict (the current state: a client
whose ID number is registered already, a visit closed meanwhile). One operation refused leaves
the others as they are. A visit operation on a client registered earlier in the same batch
waits (briefly) for visits to hear of that client (`CLIENT_WAIT_SECONDS`).
"""
import json
import time
from dataclasses import dataclass

import eventlet
from marshmallow import Schema, fields, validate

from hub.validators import Pattern, is_uuid

MAX_OPERATIONS = 500
CLIENT_WAIT_SECONDS = 15.0


@dataclass(frozen=True)
class Kind:
    """An operation kind: the path segment whose owner takes it, and its route's path (from
    the operation's data, which may name the record acted on: `visit_id`)."""
    segment: str
    path: str
    target: str | None = None       # the data field naming the record in the path

    def request(self, data):
        """(path, body) of the single call the operation stands for; a field error if the
        record it acts on is not named."""
        if self.target is None:
            return self.path, data
        body = {k: v for k, v in data.items() if k != self.target}
        return self.path.format(**{self.target: data.get(self.target)}), body


KINDS = {
    "client.register": Kind("clients", "/api/v1/clients"),
    "visit.record": Kind("visits", "/api/v1/visits"),
    "visit.complete": Kind("visits", "/api/v1/visits/{visit_id}/complete", "visit_id"),
    "visit.miss": Kind("visits", "/api/v1/visits/{visit_id}/missed", "visit_id"),
}
VISIT_KINDS = ("visit.record", "visit.complete", "visit.miss")


class OperationSchema(Schema):
    op_id = fields.UUID(required=True, metadata={
        "description": "Made on the device, once per operation; sent again, the operation "
                       "answers already_applied."})
    kind = fields.String(required=True, validate=validate.OneOf(list(KINDS)))
    data = fields.Dict(required=True, metadata={
        "description": "The body of the matching single call (visit.complete and visit.miss "
                       "also name visit_id)."})


class SyncSchema(Schema):
    device_id = fields.String(required=True, validate=Pattern(
        r"^[A-Za-z0-9._-]{1,64}$", error="1 to 64 letters, digits, '.', '_' or '-'"))
    operations = fields.List(fields.Nested(OperationSchema), required=True,
                             validate=validate.Length(1, MAX_OPERATIONS))


class ResultSchema(Schema):
    op_id = fields.UUID()
    status = fields.String(metadata={"description": "applied, already_applied, rejected or "
                                                    "conflict"})
    id = fields.UUID(allow_none=True, metadata={"description": "The record it created or acted on."})
    error = fields.Dict(allow_none=True, metadata={"description": "The hub's error (code, "
                                                   "message, fields) when not applied."})
    existing_client_id = fields.UUID(metadata={"description": "A registration's conflict: the "
                                                              "client with that ID number."})


class SyncResultSchema(Schema):
    results = fields.List(fields.Nested(ResultSchema))


def idempotency_key(device_id, op_id):
    return f"sync:{device_id}:{op_id}"


def outcome(op, status, headers, body):
    """One operation's result from its service's answer (status, headers, parsed body)."""
    result = {"op_id": str(op["op_id"]), "status": None, "id": None, "error": None}
    error = body.get("error") if isinstance(body, dict) else None
    if 200 <= status < 300:
        replayed = headers.get("Idempotent-Replayed") == "true"
        result.update(status="already_applied" if replayed else "applied", id=body.get("id"))
    elif status == 409 and "Idempotency-Key" in (error or {}).get("fields", {}):
        # the op_id was used before for another operation: the device's mistake
        result.update(status="rejected", error={**error, "fields": {
            "op_id": ["already used by another operation of this device"]}})
    elif status == 409:
        result.update(status="conflict", error=error)
        if (error or {}).get("existing_client_id"):
            result["existing_client_id"] = error["existing_client_id"]
    else:
        result.update(status="rejected", error=error or {
            "code": "rejected", "message": f"The service answered {status}.", "fields": {}})
    return result


def rejected(op, fields_):
    """An operation refused before it was sent (its data lacks what names its record)."""
    return {"op_id": str(op["op_id"]), "status": "rejected", "id": None, "error": {
        "code": "validation_failed", "message": "Some fields are not valid.", "fields": fields_}}


def waits_for_client(op, result, registered):
    """Whether the operation was refused only because visits has not yet heard of a client
    registered earlier in this batch (its client.registered event is on its way)."""
    return (op["kind"] in VISIT_KINDS and result["status"] == "rejected"
            and str(op["data"].get("client_id")) in registered
            and "client_id" in (result["error"] or {}).get("fields", {}))


def apply(batch, send):
    """Apply the batch's operations in order; `send(kind, path, body, idempotency_key)` makes
    one single call and returns (status, headers, body). Returns the results, in order."""
    results, registered = [], set()
    for op in batch["operations"]:
        kind = KINDS[op["kind"]]
        if kind.target and not is_uuid(op["data"].get(kind.target)):
            results.append(rejected(op, {kind.target: ["a visit's id (UUID) is required"]}))
            continue
        path, body = kind.request(op["data"])
        key = idempotency_key(batch["device_id"], op["op_id"])
        deadline = time.monotonic() + CLIENT_WAIT_SECONDS
        pause = 0.02
        while True:
            result = outcome(op, *send(kind, path, body, key))
            if not waits_for_client(op, result, registered) or time.monotonic() > deadline:
                break
            eventlet.sleep(pause)
            pause = min(pause * 2, 0.5)
        if op["kind"] == "client.register" and result["id"]:
            registered.add(str(result["id"]))
        results.append(result)
    return results


def parse(data):
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None
