"""HTTP for hub services: `@api(method, url, ...)` with auth, validation, errors, idempotency, metrics.

A handler is `fn(self, call, **path_values)`; `call` holds the validated body, the query
arguments, the caller and an open unit of work (`call.tx`). Who may call a route, and which
records they see, is the route's `access=` (hub.access), applied here for every route; refusals
and personal reads and changes go to the audit trail (hub.audit). What it returns is sent as JSON with
the route's status, after the transaction commits. Any HubError becomes
`{"error": {"code", "message", "fields"}}` with its status; anything else a 500 without details.
"""
import functools
import json
import logging
import time
import uuid
from dataclasses import dataclass, field

from eventlet.event import Event
from marshmallow import ValidationError
from nameko.web.handlers import HttpRequestHandler
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from hub import access as access_rules
from hub import audit, metrics
from hub.auth import Principal, Revocations, TokenRefused, authenticate
from hub.db import UNAVAILABLE, database_of
from hub.batching import Batcher
from hub.errors import (BadRequest, Forbidden, HubError, IdempotentReplay,
                        PayloadTooLarge, Unavailable, ValidationFailed)

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
JSON_TYPE = "application/json; charset=utf-8"


def json_response(status, body, headers=None):
    return Response(json.dumps(body, ensure_ascii=False, default=str), status=status,
                    headers=headers, content_type=JSON_TYPE)


@dataclass
class Call:
    """What a handler gets: the caller, the validated body and query, and its transaction."""
    principal: Principal | None
    body: dict | None
    query: dict
    request: object
    tx: object = None
    headers: dict = field(default_factory=dict)   # extra response headers
    access: access_rules.Access = access_rules.DEFAULT
    reveal: frozenset = frozenset()              # personal numbers the caller may see in full
    address: str = ""                            # where the call came from (for the audit trail)
    idempotency: tuple | None = None             # (key, scope) of its Idempotency-Key, if any
    route: tuple = ("", "", 200)                 # (method, url, status) of the route called

    def settle(self, tx, result):
        """Inside the call's transaction: the result as this caller may see it (else an error),
        its audit entries written, the answer kept for its Idempotency-Key."""
        method, url, status = self.route
        result, entries = _checked(self, method, url, result)
        audit.append(tx, entries)
        tx.remember_response(status, result)
        return result


class HubHttpEntrypoint(HttpRequestHandler):
    def __init__(self, method, url, *, body=None, query=None, status=200, public=False,
                 idempotent=True, responds=None, access=None, **kwargs):
        self.responds = responds
        self.declared_access = access           # None: not declared (county admins only)
        self.access = access or access_rules.DEFAULT
        self.body_schema = body
        self.query_schema = query
        # schema instances are reusable; building one per request is a large share of its cost
        self._body_loader = body() if body else None
        self._query_loader = query() if query else None
        self.status = status
        self.public = public
        self.idempotent = idempotent and method in ("POST", "PATCH", "PUT")
        kwargs.setdefault("expected_exceptions", (HubError, IdempotentReplay))
        super().__init__(method, url, **kwargs)

    @property
    def service_name(self):
        return self.container.service_name

    def handle_request(self, request):
        started = time.perf_counter()
        request.shallow = False
        try:
            response = self._run(request, self._prepare(request))
        except Exception as exc:
            if isinstance(exc, (TokenRefused, Forbidden, access_rules.OutOfScope)):
                self._audit_refusal(request, exc)
            response = self.response_from_exception(exc)
        metrics.HTTP_REQUESTS.labels(self.service_name, request.method, self.url,
                                     response.status_code).inc()
        metrics.HTTP_LATENCY.labels(self.service_name, request.method, self.url).observe(
            time.perf_counter() - started)
        return response

    def _prepare(self, request):
        """Who calls, whether their role may, and the validated body and query (in that order)."""
        settings = self.container.config["HUB_SETTINGS"]
        principal = None
        if not self.public:
            principal = authenticate(settings, request.headers.get("Authorization"),
                                     self._revocations())
            request.environ["hub.principal"] = principal
            access_rules.check_county(principal, settings.county.code)
            access_rules.check_role(self.access, principal, self.method, self.url)
            access_rules.check_record_places(
                self.access, principal, self._database(),
                getattr(self.container.service_cls, "record_tables", {}), request.path_values)
        call = Call(principal, self._load_body(request), self._load_query(request), request,
                    access=self.access, address=client_address(request))
        if principal is not None:
            call.reveal = access_rules.granted_reveal(self.access, principal, call.query)
            access_rules.narrow_query(self.access, principal, call.query, self._query_fields())
            access_rules.check_body(self.access, principal, call.body)
        request.environ["hub.call"] = call
        request.environ["hub.settings"] = settings
        return call

    def _run(self, request, call):
        """Run the handler in a nameko worker (as HttpRequestHandler does) and answer with it."""
        context_data = self.server.context_data_from_headers(request)
        args, kwargs = self.get_entrypoint_parameters(request)
        self.check_signature(args, kwargs)
        event = Event()
        self.container.spawn_worker(self, args, kwargs, context_data=context_data,
                                    handle_result=functools.partial(self.handle_result, event))
        return self.response_from_result(event.wait())

    def _query_fields(self):
        return self._query_loader.fields if self._query_loader else {}

    def _database(self):
        """The service's Database (None for the gateway, which has none)."""
        if not hasattr(self, "_hub_database"):
            self._hub_database = database_of(self.container)
        return self._hub_database

    def _revocations(self):
        database = self._database()
        if database is None:
            return None
        if database.revocations is None:
            database.revocations = Revocations(database)
        return database.revocations

    def _audit_refusal(self, request, exc):
        database = self._database()
        principal = request.environ.get("hub.principal")
        if database is None or (principal is None and not isinstance(exc, TokenRefused)):
            return
        entry = access_rules.refusal_entry(exc, principal, request.method, request.path,
                                           client_address(request))
        try:
            audit.record(database, entry)
        except Exception:
            log.exception("could not write the audit entry of a refused call")

    def _load_body(self, request):
        if self.body_schema is None:
            return None
        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"The body is larger than {MAX_BODY_BYTES} bytes.")
        raw = request.get_data(cache=True)
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            raise BadRequest("The body is not valid JSON.", fields={"body": ["not valid JSON"]})
        if not isinstance(data, dict):
            raise BadRequest("The body must be a JSON object.", fields={"body": ["must be an object"]})
        try:
            return self._body_loader.load(data, partial=self.method == "PATCH")
        except ValidationError as exc:
            raise ValidationFailed("Some fields are not valid.", fields=exc.messages)

    def _load_query(self, request):
        if self.query_schema is None:
            return dict(request.args)
        try:
            return self._query_loader.load(request.args.to_dict())
        except ValidationError as exc:
            raise ValidationFailed("Some query parameters are not valid.", fields=exc.messages)

    def get_entrypoint_parameters(self, request):
        return (request.environ["hub.call"],), request.path_values

    def response_from_result(self, result):
        return result if isinstance(result, Response) else json_response(self.status, result)

    def response_from_exception(self, exc):
        if isinstance(exc, IdempotentReplay):
            return json_response(exc.status, exc.body, {"Idempotent-Replayed": "true"})
        if isinstance(exc, HubError):
            return json_response(exc.status, exc.body())
        if isinstance(exc, UNAVAILABLE):
            log.warning("database unavailable in %s %s: %s", self.method, self.url, exc)
            return json_response(503, Unavailable(
                "The service's database is unavailable for a moment; send the request again "
                "(with the same Idempotency-Key).").body(), {"Retry-After": "1"})
        if isinstance(exc, HTTPException):
            return json_response(exc.code, {"error": {"code": exc.name.lower().replace(" ", "_"),
                                                      "message": exc.description, "fields": {}}})
        incident = uuid.uuid4().hex[:12]
        log.error("unhandled error in %s %s (incident %s)", self.method, self.url, incident,
                  exc_info=(type(exc), exc, exc.__traceback__))
        return json_response(500, {"error": {
            "code": "internal_error", "fields": {}, "incident": incident,
            "message": f"The hub could not answer; the operator can find incident {incident} "
                       "in the service log."}})


def client_address(request):
    """The caller's address; behind the gateway, the address the gateway saw."""
    forwarded = request.headers.get("X-Forwarded-For")
    return f"{forwarded} via {request.remote_addr}" if forwarded else (request.remote_addr or "-")


def _checked(call, method, url, result):
    """The result as this caller may see it, and the audit entries the call leaves."""
    if call.principal is None:
        return result, []
    result = access_rules.scope_result(call.access, call.principal, result)
    return result, access_rules.success_entries(call.access, call, method, url, result,
                                                call.address)


def _route_batcher(service, fn, route):
    """The route's one Batcher in this process (kept on the service's Database)."""
    batchers = service.db.batchers
    if route not in batchers:
        batchers[route] = Batcher(lambda items: fn(items[0][0], [call for _, call in items]),
                                  service.name, route)
    return batchers[route]


def idempotency_of(call, method, idempotent=True):
    """(key, scope) of the call's Idempotency-Key, or None; 400 when the key is too long."""
    key = call.request.headers.get("Idempotency-Key") if method != "GET" else None
    if not (key and idempotent):
        return None
    if len(key) > 200:
        raise BadRequest("Idempotency-Key is too long.",
                         fields={"Idempotency-Key": ["at most 200 characters"]})
    caller = call.principal.subject if call.principal else "-"
    return (f"{caller}:{key}", f"{method} {call.request.path}")


def api(method, url, *, body=None, query=None, status=200, public=False, idempotent=True,
        transaction=True, batch=False, responds=None, access=None):
    """Declare an HTTP route of a hub service (see the module docstring).

    With batch=True the calls that arrive together are handed over at once (hub.batching):
    `fn(self, calls)` returns one outcome per call, a result or the HubError to answer with,
    having run each through `call.settle(tx, result)` in a transaction it committed
    (hub/group_commit.py does that: registrations, allocations).
    """
    def decorator(fn):
        @functools.wraps(fn)
        def worker(service, call, **path_values):
            if not transaction:
                result, entries = _checked(call, method, url, fn(service, call, **path_values))
                if entries:
                    audit.record(service.db, *entries)
                return result
            call.idempotency = idempotency_of(call, method, idempotent)
            call.route = (method, url, status)
            if batch:
                result = _route_batcher(service, fn, f"{method} {url}").submit((service, call))
                return json_response(status, result, call.headers or None)
            with service.db.transaction(idempotency=call.idempotency) as tx:
                call.tx = tx
                result = call.settle(tx, fn(service, call, **path_values))
            return json_response(status, result, call.headers or None)
        return HubHttpEntrypoint.decorator(method, url, body=body, query=query, status=status,
                                           public=public, idempotent=idempotent,
                                           responds=responds, access=access)(worker)
    return decorator
