"""A group of single calls in one request: the station console's sync hands each service the
operations bound for it at once (gateway/sync.py), instead of one HTTP call each.

`POST /internal/calls` (a service's own port; not under /api/, so neither in the OpenAPI
document nor behind the front door) takes `{"calls": [{"path", "body", "idempotency_key",
"stop_on"}, …]}`: each call is a POST to one of the service's own routes, made with the group's
token and language, and answered `{"status", "replayed", "body"}` exactly as that route would
have answered it alone, in order. Nothing of a route is copied here: the route's own entrypoint
prepares each call (token, role, the record's place, body validation, body access:
`HubHttpEntrypoint._prepare`), the route's own handler decides it, the route's own error
answers render its refusals (with `Idempotent-Replayed` for a key used before), and refusals of
access are audited as the route audits them.

Consecutive calls are decided together, in the group's order (hub/group_commit.py: each
Idempotency-Key claimed, each result settled, a refused call's key given back): those of a
`batch=True` route (registrations) by its own handler at once; the others each in a savepoint
of one transaction, so that one refused call undoes nothing of the others.

A call of a route deciding one call at a time whose `stop_on` names a field of its refusal
(422) stops the group there: that call and the ones after it are answered `{"status": null}`
(not run; nothing of them is kept, their keys are free) and the caller sends them again later —
the sync does so while visits has not yet heard of a client registered earlier in the batch.
"""
import io
import json
from dataclasses import dataclass

from marshmallow import Schema, fields, validate
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import NotFound as NoRoute
from werkzeug.routing import Map
from werkzeug.wrappers import Request

from hub import access as access_rules
from hub import metrics
from hub.auth import TokenRefused
from hub.errors import Forbidden, HubError, ValidationFailed
from hub.group_commit import commit_together
from hub.http import (
    HubHttpEntrypoint,
    IdConverter,
    WholePathConverter,
    http_error_response,
    idempotency_of,
    request_locale,
)

URL = "/internal/calls"
MAX_CALLS = 500
# what a call takes from the group's request: the caller's token, language and address
PASSED_HEADERS = ("Authorization", "Accept-Language", "X-Forwarded-For")
AUDITED_REFUSALS = (TokenRefused, Forbidden, access_rules.OutOfScope)


class CallSchema(Schema):
    path = fields.String(required=True, validate=validate.Length(1, 500))
    body = fields.Dict(required=True)
    idempotency_key = fields.String(required=True, validate=validate.Length(1, 200))
    stop_on = fields.List(fields.String(validate=validate.Length(1, 100)), load_default=list,
                          validate=validate.Length(max=10))


class GroupSchema(Schema):
    calls = fields.List(fields.Nested(CallSchema), required=True,
                        validate=validate.Length(1, MAX_CALLS))


class NotRun(HubError):
    """A call after the group stopped: not run, nothing of it kept (its key given back)."""


@dataclass
class Item:
    """One call of the group: its route, its request, and its Call (or what refused it)."""
    route: HubHttpEntrypoint | None
    request: Request
    call: object = None
    refused: Exception | None = None
    stop_on: tuple = ()


class GroupEntrypoint(HubHttpEntrypoint):
    """The group route's entrypoint: its handler also gets the service's POST routes."""

    def get_entrypoint_parameters(self, request):
        args, kwargs = super().get_entrypoint_parameters(request)
        return args, {**kwargs, "routes": self._routes()}

    def _routes(self):
        """The service's routes a call may name (POST, idempotent: they hold a transaction)."""
        if not hasattr(self, "_route_map"):
            self._route_map = Map(converters={"path": WholePathConverter, "id": IdConverter})
            for ep in self.container.entrypoints:
                if (isinstance(ep, HubHttpEntrypoint) and not isinstance(ep, GroupEntrypoint)
                        and "POST" in ep.method.split(",") and ep.idempotent):
                    rule = ep.get_url_rule()
                    rule.endpoint = ep
                    self._route_map.add(rule)
        return self._route_map.bind("hub")


def route(access):
    """Declare a service's group route (POST URL) for the roles of `access`; the method,
    `fn(self, call, routes)`, returns `run(self, call, routes)`."""
    return GroupEntrypoint.decorator("POST", URL, body=GroupSchema, access=access,
                                     idempotent=False)


def run(service, group, routes):
    """The group's calls, decided in order; {"answers": [one per call]}."""
    items = [_prepare(group.request, spec, routes) for spec in group.body["calls"]]
    outcomes = [item.refused for item in items]
    for run_items in _runs(items):
        for i, outcome in zip(run_items, _decide(service, items, run_items)):
            outcomes[i] = outcome
        stopped = next((i for i in run_items if isinstance(outcomes[i], NotRun)), None)
        if stopped is not None:     # the rest waits for the caller to send it again
            outcomes[stopped:] = [NotRun("not run")] * (len(items) - stopped)
            break
    locale = request_locale(group.request)
    return {"answers": [_answer(item, outcome, locale) for item, outcome in zip(items, outcomes)]}


def _prepare(group_request, spec, routes):
    """The call `spec` describes, prepared by its route as a request of its own would be."""
    data = json.dumps(spec["body"], ensure_ascii=False).encode()
    environ = {"REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "QUERY_STRING": "",
               "PATH_INFO": spec["path"].encode().decode("latin-1"),  # as a WSGI server does
               "SERVER_NAME": "hub", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(data),
               "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(data)),
               "REMOTE_ADDR": group_request.remote_addr or "",
               "HTTP_IDEMPOTENCY_KEY": spec["idempotency_key"]}
    for name in PASSED_HEADERS:
        if name in group_request.headers:
            environ["HTTP_" + name.upper().replace("-", "_")] = group_request.headers[name]
    request = Request(environ)
    item = Item(None, request, stop_on=tuple(spec["stop_on"]))
    try:
        item.route, request.path_values = routes.match(spec["path"], method="POST")
    except HTTPException as exc:
        item.refused = exc
        return item
    try:
        item.call = item.route._prepare(request)
        item.call.idempotency = idempotency_of(item.call, "POST", item.route.idempotent)
        item.call.route = ("POST", item.route.url, item.route.status)
        item.call.stop_on = item.stop_on
    except Exception as exc:
        item.refused = exc
    return item


def _runs(items):
    """The prepared calls in runs decided together: consecutive calls of one batch route, or
    consecutive calls of routes deciding one call at a time (refused calls touch nothing)."""
    runs, kind = [], None
    for i, item in enumerate(items):
        if item.refused is not None:
            continue
        this = item.route if _takes_calls(item) else "one at a time"
        if runs and this == kind:
            runs[-1].append(i)
        else:
            runs.append([i])
            kind = this
    return runs


def _handler(item):
    """The route's function as the service wrote it (hub.http's wrapper around it: `worker`)."""
    return getattr(item.route.container.service_cls, item.route.method_name)


def _takes_calls(item):
    return getattr(_handler(item), "takes_calls", False)


def _decide(service, items, positions):
    """Outcomes of the calls at `positions`, in order: a batch route's handler decides them at
    once (committing them itself; those after one stopping on its `stop_on` answered NotRun:
    `stops_here`); the others are decided one by one, each in a savepoint, in one
    transaction (group commit), the first call refused on one of its `stop_on` fields and the
    ones after it not run."""
    calls = [items[i].call for i in positions]
    if _takes_calls(items[positions[0]]):
        return _handler(items[positions[0]]).__wrapped__(service, calls)
    position = {id(call): i for call, i in zip(calls, positions)}
    stops = []      # where it stopped (a group that fails is decided again call by call)

    def decide(tx, some):
        outcomes = []
        for call in some:
            item = items[position[id(call)]]
            if stops and position[id(call)] > min(stops):
                outcomes.append(NotRun("not run"))
                continue
            call.tx = tx
            try:
                with tx.savepoint():
                    outcomes.append(_handler(item).__wrapped__(service, call,
                                                               **item.request.path_values))
            except HubError as refused:
                if stops_here(item.stop_on, refused):
                    stops.append(position[id(call)])
                    refused = NotRun("not run")
                outcomes.append(refused)
        return outcomes
    return commit_together(service.db, calls, decide)


def stops_here(stop_on, refused):
    """Whether a call stops its group with this refusal: a 422 on one of its `stop_on` fields.
    A batch route deciding calls together checks each with it before writing any, and answers
    the one stopping and those after it `not_run`."""
    return isinstance(refused, ValidationFailed) and any(f in refused.fields for f in stop_on)


def not_run(count):
    """The outcomes of `count` calls after a group stopped."""
    return [NotRun("not run") for _ in range(count)]


def _answer(item, outcome, locale):
    """The call's answer as its route would have sent it alone (null status: not run)."""
    if isinstance(outcome, NotRun):
        return {"status": None, "replayed": False, "body": None}
    if item.route is None:
        response = http_error_response(outcome if isinstance(outcome, HTTPException)
                                       else NoRoute(), locale)
    elif isinstance(outcome, BaseException):
        if isinstance(outcome, AUDITED_REFUSALS):
            item.route._audit_refusal(item.request, outcome)
        response = item.route.response_from_exception(outcome, locale)
    else:
        return _counted(item, {"status": item.route.status, "replayed": False, "body": outcome})
    return _counted(item, {"status": response.status_code,
                           "replayed": response.headers.get("Idempotent-Replayed") == "true",
                           "body": json.loads(response.get_data())})


def _counted(item, answer):
    if item.route is not None:
        metrics.HTTP_REQUESTS.labels(item.route.service_name, "POST", item.route.url,
                                     answer["status"]).inc()
    return answer
