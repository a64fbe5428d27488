"""HTTP for hub services: `@api(method, url, ...)` with auth, validation, errors, idempotency, metrics.

A handler is `fn(self, call, **path_values)`; `call` holds the validated body, the query
arguments, the caller and an open unit of work (`call.tx`). Who may call a route, and which
records they see, is the route's `access=` (hub.access), applied here for every route; refusals
and personal reads and changes go to the audit trail (hub.audit). What it returns is sent as JSON with
the route's status, after the transaction commits. Any HubError becomes
`{"error": {"code", "message", "fields"}}` with its status; anything else a 500 without details.
A path no route matches, or a method a path does not take, answers in that shape too (the web
server here replaces nameko's, whose HTML pages would be the only non-JSON answers).

Hostile input is refused at this edge, once for every route: a body nested deeper than
MAX_DEPTH (400), and text no database column can hold — the NUL character, lone surrogates —
in any body field or query parameter (422 naming it) or path value (404).
"""
import functools
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field

from eventlet.event import Event
from marshmallow import Schema, ValidationError, fields
from nameko.web.handlers import HttpRequestHandler
from nameko.web.server import WebServer, WsgiApp
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, Map, PathConverter, Rule
from werkzeug.wrappers import Request, Response

from hub import access as access_rules
from hub import audit, metrics
from hub.auth import Principal, Revocations, TokenRefused, authenticate
from hub.batching import Batcher
from hub.db import UNAVAILABLE, database_of
from hub.errors import (
    BadRequest,
    Forbidden,
    HubError,
    IdempotentReplay,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    ValidationFailed,
)
from hub.i18n import _, negotiate, translate_all, translate_error
from hub.validators import Pattern

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
MAX_DEPTH = 20                  # levels of objects and arrays in a body; the deepest route needs 4
JSON_TYPE = "application/json; charset=utf-8"
# what PostgreSQL text cannot hold (NUL) and what is not Unicode text at all (lone surrogates)
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


IdempotencyHeader = Schema.from_dict({"Idempotency-Key": fields.String(
    validate=Pattern(r"^[ -~]{0,200}$", error=_("at most 200 printable ASCII characters")),
    metadata={"description": "Retry safely: the same key returns the first answer."})},
    name="IdempotencyHeader")


def json_response(status, body, headers=None):
    response = Response(json.dumps(body, ensure_ascii=False, default=str), status=status,
                        headers=headers, content_type=JSON_TYPE)
    if status >= 400:       # an error's messages are in the caller's language (hub.i18n)
        response.vary.add("Accept-Language")
    return response


def request_locale(request):
    """The language the caller asked for in Accept-Language (hub.i18n): "zh_CN" or "en"."""
    return negotiate(request.headers.get("Accept-Language"))


def http_error_response(exc, locale=None):
    """werkzeug's HTTPException (no route, method not allowed, …) in the hub's error shape,
    with its headers (Allow on a 405), its message in `locale`."""
    headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    message = exc.description
    if exc.code == 404:
        message = _("Nothing is at this path; see /api/v1/openapi.json.")
    elif exc.code == 405:
        message = _("This path does not take that method; the Allow header lists those it takes.")
    return json_response(exc.code, {"error": {"code": exc.name.lower().replace(" ", "_"),
                                              "message": translate_all(message, locale),
                                              "fields": {}}}, headers)


class JsonErrorsApp(WsgiApp):
    """nameko's WSGI app, answering a request no route takes in JSON (nameko sends HTML)."""

    def __call__(self, environ, start_response):
        request = Request(environ, shallow=True)
        try:
            provider, values = self.url_map.bind_to_environ(environ).match()
        except HTTPException as exc:
            return http_error_response(exc, request_locale(request))(environ, start_response)
        request.path_values = values
        return provider.handle_request(request)(environ, start_response)


class WholePathConverter(PathConverter):
    """`<path:…>` that also takes a line break (werkzeug's stops at one: the gateway would
    answer such a path itself instead of sending it on)."""
    regex = "[^/][\\s\\S]*?"


class IdConverter(BaseConverter):
    """A record id in a path (`<…_id>`): a UUID, else no route matches (404). The OpenAPI
    document says so too (hub.openapi)."""
    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


class HubWebServer(WebServer):
    def get_wsgi_app(self):
        return JsonErrorsApp(self)

    def make_url_map(self):
        url_map = Map(converters={"path": WholePathConverter, "id": IdConverter})
        for provider in self._providers:
            rule = provider.get_url_rule()
            rule.endpoint = provider
            url_map.add(rule)
        return url_map


def unstorable(text):
    """Why `text` cannot be taken as text (None when it can)."""
    bad = UNSTORABLE.search(text)
    if bad is None:
        return None
    if bad.group() == "\x00":
        return _("must not contain the NUL character (\\u0000)")
    return _("must be valid Unicode text (it holds a lone surrogate {character})",
             character=printable_name(bad.group()))


def printable_name(name):
    """A field name as an error may show it (a name made of hostile characters, escaped)."""
    return UNSTORABLE.sub(lambda m: f"\\u{ord(m.group()):04x}", name)


def strict_integers(schema):
    """`schema` with every Integer field, however nested, taking JSON integers only: given 2.5,
    a lenient one stores 2 (query strings are parsed leniently: they are all text)."""
    stack = list(schema.fields.values())
    while stack:
        f = stack.pop()
        if isinstance(f, fields.Integer):
            f.strict = True
        elif isinstance(f, fields.Nested):
            stack.extend(f.schema.fields.values())
        elif isinstance(f, fields.List):
            stack.append(f.inner)
        elif isinstance(f, fields.Dict) and f.value_field is not None:
            stack.append(f.value_field)
    return schema


def check_path_values(values):
    """A path value holding unstorable text names no record: 404 (before any lookup)."""
    for name, value in values.items():
        if isinstance(value, str) and unstorable(value):
            raise NotFound(_("Nothing is at this path: no record's key holds such characters."),
                           fields={name: [unstorable(value)]})


def check_text(data):
    """Refuse a body nested deeper than MAX_DEPTH (400), or holding unstorable text in any key
    or string however deep (422 naming each such field, dotted: `guardian.name`, `items.0`)."""
    problems = {}
    stack = [(data, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise too_deep()
        if isinstance(value, str):
            reason = unstorable(value)
            if reason:
                problems[printable_name(path) or "body"] = [reason]
        elif isinstance(value, (dict, list)):
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                name = f"{path}.{key}" if path else str(key)
                reason = unstorable(key) if isinstance(key, str) else None
                if reason:
                    problems[printable_name(name)] = [_("(the name) {reason}", reason=reason)]
                stack.append((item, name, depth + 1))
    if problems:
        raise ValidationFailed(_("Some fields hold text that cannot be stored."), fields=problems)


def too_deep():
    """The 400 for a body nested deeper than MAX_DEPTH."""
    return BadRequest(_("The body is nested more than {depth} levels deep.", depth=MAX_DEPTH),
                      fields={"body": [_("nested more than {depth} levels deep", depth=MAX_DEPTH)]})


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
    stop_on: tuple = ()                          # in a sync's group: fields it stops on

    def settle(self, tx, result):
        """Inside the call's transaction: the result as this caller may see it (else an error),
        its audit entries written, the answer kept for its Idempotency-Key."""
        method, url, status = self.route
        result, entries = _checked(self, method, url, result)
        audit.append(tx, entries)
        tx.remember_response(status, result)
        return result


class HubHttpEntrypoint(HttpRequestHandler):
    server = HubWebServer()

    def __init__(self, method, url, *, body=None, query=None, status=200, public=False,
                 idempotent=True, responds=None, access=None, changing_password=False,
                 **kwargs):
        self.responds = responds
        self.changing_password = changing_password  # takes a token that must change it first
        self.declared_access = access           # None: not declared (county admins only)
        self.access = access or access_rules.DEFAULT
        self.body_schema = body
        self.query_schema = query
        # schema instances are reusable; building one per request is a large share of its cost
        self._body_loader = strict_integers(body()) if body else None
        self._query_loader = query() if query else None
        self.status = status
        self.public = public
        self.idempotent = idempotent and method in ("POST", "PATCH", "PUT")
        kwargs.setdefault("expected_exceptions", (HubError, IdempotentReplay))
        super().__init__(method, url, **kwargs)

    @property
    def service_name(self):
        return self.container.service_name

    def get_url_rule(self):
        return Rule(re.sub(r"<(\w+_id)>", r"<id:\1>", self.url), methods=self.method.split(","))

    def handle_request(self, request):
        started = time.perf_counter()
        request.shallow = False
        try:
            response = self._run(request, self._prepare(request))
        except Exception as exc:
            if isinstance(exc, (TokenRefused, Forbidden, access_rules.OutOfScope)):
                self._audit_refusal(request, exc)
            response = self.response_from_exception(exc, request_locale(request))
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
                                     self._revocations(),
                                     changing_password=self.changing_password)
            request.environ["hub.principal"] = principal
            access_rules.check_county(principal, settings.county.code)
            access_rules.check_role(self.access, principal, self.method, self.url)
            check_path_values(request.path_values)
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
            raise PayloadTooLarge(_("The body is larger than {limit} bytes.",
                                    limit=MAX_BODY_BYTES))
        raw = request.get_data(cache=True)
        try:
            data = json.loads(raw) if raw else None
        except RecursionError:
            raise too_deep()
        except ValueError:
            raise BadRequest(_("The body is not valid JSON."),
                             fields={"body": [_("not valid JSON")]})
        if not isinstance(data, dict):
            raise BadRequest(_("The body must be a JSON object."),
                             fields={"body": [_("must be an object")]})
        check_text(data)
        try:
            return self._body_loader.load(data, partial=self.method == "PATCH")
        except ValidationError as exc:
            raise ValidationFailed(_("Some fields are not valid."), fields=exc.messages)

    def _load_query(self, request):
        problems = {printable_name(k): [unstorable(k) or unstorable(v)]
                    for k, v in request.args.items(multi=True) if unstorable(k) or unstorable(v)}
        if problems:
            raise ValidationFailed(_("Some query parameters hold text that cannot be stored."),
                                   fields=problems)
        if self.query_schema is None:
            return dict(request.args)
        try:
            return self._query_loader.load(request.args.to_dict())
        except ValidationError as exc:
            raise ValidationFailed(_("Some query parameters are not valid."), fields=exc.messages)

    def get_entrypoint_parameters(self, request):
        return (request.environ["hub.call"],), request.path_values

    def response_from_result(self, result):
        return result if isinstance(result, Response) else json_response(self.status, result)

    def response_from_exception(self, exc, locale=None):
        """The answer to `exc`, its messages in `locale` (hub.i18n)."""
        if isinstance(exc, IdempotentReplay):
            body = exc.body
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                body = {**body, "error": translate_error(body["error"], locale)}
            return json_response(exc.status, body, {"Idempotent-Replayed": "true"})
        if isinstance(exc, HubError):
            return json_response(exc.status, exc.body(locale), exc.headers or None)
        if isinstance(exc, HTTPException):
            return http_error_response(exc, locale)
        if isinstance(exc, UNAVAILABLE):
            log.warning("database unavailable in %s %s: %s", self.method, self.url, exc)
            return json_response(503, Unavailable(_(
                "The service's database is unavailable for a moment; send the request again "
                "(with the same Idempotency-Key).")).body(locale), {"Retry-After": "1"})
        incident = uuid.uuid4().hex[:12]
        log.error("unhandled error in %s %s (incident %s)", self.method, self.url, incident,
                  exc_info=(type(exc), exc, exc.__traceback__))
        return json_response(500, {"error": {
            "code": "internal_error", "fields": {}, "incident": incident,
            "message": translate_all(_("The hub could not answer; the operator can find "
                                       "incident {incident} in the service log.",
                                       incident=incident), locale)}})


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
    problems = IdempotencyHeader().validate({"Idempotency-Key": key})
    if problems:
        raise BadRequest(_("Idempotency-Key must be at most 200 printable ASCII characters."),
                         fields=problems)
    caller = call.principal.subject if call.principal else "-"
    return (f"{caller}:{key}", f"{method} {call.request.path}")


def api(method, url, *, body=None, query=None, status=200, public=False, idempotent=True,
        transaction=True, batch=False, responds=None, access=None, changing_password=False):
    """Declare an HTTP route of a hub service (see the module docstring).

    With batch=True the calls that arrive together are handed over at once (hub.batching):
    `fn(self, calls)` returns one outcome per call, a result or the HubError to answer with,
    having run each through `call.settle(tx, result)` in a transaction it committed
    (hub/group_commit.py does that: registrations, allocations, unplanned visits).
    With changing_password=True the route also takes a user's token that must change its first
    password (accounts' password change, log out, who am I; every other route refuses such a
    token with 403 password_change_required).
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
        worker.takes_calls = batch      # hub.call_groups hands such a route its calls at once
        return HubHttpEntrypoint.decorator(method, url, body=body, query=query, status=status,
                                           public=public, idempotent=idempotent and transaction,
                                           responds=responds, access=access,
                                           changing_password=changing_password)(worker)
    return decorator
