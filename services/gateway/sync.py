"""The station console's offline sync: a batch of operations a device queued, applied in order.

Each operation stands for the single call the device would have made online (`KINDS`), under
the Idempotency-Key `sync:<device_id>:<op_id>` and with the caller's token: the services' own
routes, rules, access and idempotency (hub/http.py) decide it, and a repeated operation gets its
first answer back (`Idempotent-Replayed`), so the same batch sent twice changes nothing. Each
answer becomes one result (`outcome`): applied, already_applied, rejected (the service's field
errors) or conflict (the current state: a client whose ID number is registered already, a
visit closed meanwhile). One operation refused leaves the others as they are.

The operations bound for one service go to it together, as one call of the hub's own
(hub/call_groups.py: in order, one transaction, a savepoint each), not one HTTP call each
(`schedule`). Operations of different services touch different databases, so a service's
operations may be sent before another service's that came earlier in the batch, unless two of
them name the same record (`RECORD_FIELDS`): a registration is never moved before a visit
operation on that client; two services' groups that do not depend on each other are sent at
the same time. A visit operation on a client registered earlier in the batch waits
(briefly: `CLIENT_WAIT_SECONDS`) for visits to hear of that client: visits stops the group
there (`stop_on`) and the rest is sent again after a pause.
"""
import json
import time
from collections import deque
from dataclasses import dataclass

import eventlet
from marshmallow import Schema, fields, validate

from hub.errors import Unavailable
from hub.i18n import _
from hub.validators import Pattern, is_uuid

MAX_OPERATIONS = 500
CLIENT_WAIT_SECONDS = 15.0
# operations at most in one call (one transaction) of a service: each is a savepoint, and past
# 64 subtransactions PostgreSQL slows every other session's snapshots (subxid overflow)
GROUP_CALLS = 60
GROUP_BYTES = 512 * 1024        # and their JSON at most (far below a body's limit, hub.http)
# the data fields naming a record: operations of two services naming one record keep their order
RECORD_FIELDS = ("id", "client_id", "visit_id")


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
        r"^[A-Za-z0-9._-]{1,64}$", error=_("1 to 64 letters, digits, '.', '_' or '-'")))
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
            "op_id": [_("already used by another operation of this device")]}})
    elif status == 409:
        result.update(status="conflict", error=error)
        if (error or {}).get("existing_client_id"):
            result["existing_client_id"] = error["existing_client_id"]
    else:
        result.update(status="rejected", error=error or {
            "code": "rejected", "message": _("The service answered {status}.", status=status),
            "fields": {}})
    return result


def rejected(op, fields_):
    """An operation refused before it was sent (its data lacks what names its record)."""
    return {"op_id": str(op["op_id"]), "status": "rejected", "id": None, "error": {
        "code": "validation_failed", "message": _("Some fields are not valid."),
        "fields": fields_}}


def apply(batch, send):
    """Apply the batch's operations in order; `send(segment, calls)` makes one call of the hub's
    own (hub/call_groups.py) to the owner of the path segment with the calls [{"path", "body",
    "idempotency_key", "stop_on"}], and returns one answer per call: (status, headers, body),
    or None for a call not run (the group stopped before it). Returns the results, in order."""
    operations = batch["operations"]
    results, todo = [None] * len(operations), []
    for i, op in enumerate(operations):
        kind = KINDS[op["kind"]]
        if kind.target and not is_uuid(op["data"].get(kind.target)):
            results[i] = rejected(op, {kind.target: [_("a visit's id (UUID) is required")]})
        else:
            todo.append(i)
    registered = set()      # the clients this batch registered (visits hears of them by event)
    for wave in schedule(operations, todo):
        pile = eventlet.GreenPile()
        for segment, positions in wave:
            pile.spawn(_send_group, batch, segment, positions, send, results, registered)
        list(pile)          # (raises what a group raised)
    return results


def schedule(operations, positions):
    """The operations at `positions` in groups (segment, [positions]), in waves sent one after
    another, the groups of a wave at the same time. Each service's operations keep the batch's
    order, and an operation is never sent before an earlier one of another service naming a
    record it names (RECORD_FIELDS). Each group starts at the first operation not yet sent and
    takes its service's next operations while they may go (a registration moves before earlier
    visit operations on other clients); a group joins the wave before it unless it depends on
    one of its groups or the wave has one of its service's already."""
    chains, segment_of, after, named = {}, {}, {}, {}
    for j in positions:
        op = operations[j]
        segment = segment_of[j] = KINDS[op["kind"]].segment
        names = {v for k, v in op["data"].items() if k in RECORD_FIELDS and isinstance(v, str)}
        after[j] = {i for name in names for i in named.get(name, ()) if segment_of[i] != segment}
        for name in names:
            named.setdefault(name, []).append(j)
        chains.setdefault(segment, deque()).append(j)
    waves, sent, wave_sent = [], set(), set()
    while any(chains.values()):
        segment = min((s for s in chains if chains[s]), key=lambda s: chains[s][0])
        group = []
        while chains[segment] and after[chains[segment][0]] <= sent:
            group.append(chains[segment].popleft())
            sent.add(group[-1])
        if (not waves or segment in dict(waves[-1])
                or any(after[j] & wave_sent for j in group)):
            waves.append([])
            wave_sent = set()
        waves[-1].append((segment, group))
        wave_sent.update(group)
    return waves


def _send_group(batch, segment, positions, send, results, registered):
    """Send one service's operations (at most GROUP_CALLS, GROUP_BYTES a call) until each is
    answered; where visits stopped, waiting for a client this batch registered, wait a moment
    and send the rest again (after CLIENT_WAIT_SECONDS that operation is sent as it is)."""
    operations = batch["operations"]
    waiting, deadline, pause = None, 0.0, 0.02
    while positions:
        calls, size = [], 0
        for i in positions[:GROUP_CALLS]:
            call = _call(batch, operations[i], registered,
                         waited=i == waiting and time.monotonic() > deadline)
            size += len(json.dumps(call, default=str))    # (escaped: never below its bytes)
            if calls and size > GROUP_BYTES:
                break
            calls.append(call)
        answered = 0
        for i, answer in zip(positions, send(segment, calls)):
            if answer is None:
                break
            results[i] = outcome(operations[i], *answer)
            if operations[i]["kind"] == "client.register" and results[i]["id"]:
                registered.add(str(results[i]["id"]))
            answered += 1
        positions = positions[answered:]
        if answered < len(calls) and not calls[answered]["stop_on"]:
            raise Unavailable(_("The {service} service did not answer every operation; send the "
                                "batch again (operations already applied answer "
                                "already_applied).", service=segment))
        if answered < len(calls):       # stopped: visits has not heard of the client yet
            if positions[0] != waiting:
                waiting, pause = positions[0], 0.02
                deadline = time.monotonic() + CLIENT_WAIT_SECONDS
            eventlet.sleep(pause)
            pause = min(pause * 2, 0.5)


def _call(batch, op, registered, waited):
    """The single call an operation stands for, as a call of a group (hub/call_groups.py)."""
    path, body = KINDS[op["kind"]].request(op["data"])
    waits = (not waited and op["kind"] in VISIT_KINDS
             and str(op["data"].get("client_id")) in registered)
    return {"path": path, "body": body,
            "idempotency_key": idempotency_key(batch["device_id"], op["op_id"]),
            "stop_on": ["client_id"] if waits else []}


def answers(status, headers, body, count):
    """One answer per call, (status, headers, body) or None (not run), from a service's answer
    to a group of `count` calls; None when it could not answer them."""
    if status >= 500:
        return None
    if status != 200:       # the group refused as a whole (the caller's token): so is each call
        return [(status, headers, body)] * count
    items = body.get("answers") if isinstance(body, dict) else None
    if (not isinstance(items, list) or len(items) != count
            or any((a.get("status") or 0) >= 500 for a in items)):
        return None
    return [None if a["status"] is None else
            (a["status"], {"Idempotent-Replayed": "true"} if a["replayed"] else {}, a["body"])
            for a in items]


def parse(data):
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None
