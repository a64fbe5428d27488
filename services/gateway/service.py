"""The hub's single HTTP entry point: one base URL (…/api/v1) in front of every service.

It forwards each call to the service that owns its first path segment, serves
`GET /api/v1/health` (200 once every service is ready) and the merged `GET /api/v1/openapi.json`.
Services check the caller's token themselves, so nothing is trusted for having come this way.
"""
import json
import logging
from datetime import datetime
from urllib.parse import quote

import urllib3
from werkzeug.exceptions import MethodNotAllowed

from gateway import console, sync
from hub import call_groups
from hub.access import STAFF
from hub.errors import NotFound, Unavailable
from hub.http import api, http_error_response, json_response, request_locale
from hub.i18n import _, translate_error
from hub.manifest import manifest, path_owners
from hub.service import OpsEndpoints

log = logging.getLogger(__name__)

FORWARDED_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key", "Accept",
                     "Accept-Language")   # errors come in the language asked for (hub.i18n)
RETURNED_HEADERS = ("Content-Type", "Idempotent-Replayed", "Content-Disposition", "Allow",
                    "Retry-After", "Vary")
# every method goes on to the service: a 405 for one it does not take comes with its own Allow
FORWARDED_METHODS = "GET,POST,PATCH,PUT,DELETE,OPTIONS,TRACE"


def raw_target(request):
    """The request's path and query as the caller sent them, still percent-encoded: decoded, a
    `#`, `?` or control character in a path value would change what the service is asked."""
    path = quote(request.environ.get("PATH_INFO", "").encode("latin-1"), safe="/")
    query = quote(request.query_string, safe="=&;%+/?:@,$!'()*~")
    return path + ("?" + query if query else "")


class GatewayService(OpsEndpoints):
    name = "gateway"
    http = urllib3.PoolManager(maxsize=64, block=False, retries=False,
                               timeout=urllib3.Timeout(connect=2, read=60))

    @staticmethod
    def _upstreams(settings):
        return [s for s in settings.data_services() if s in set(path_owners().values())]

    @api("GET", "/api/v1/health", public=True, transaction=False)
    def health(self, call):
        """Whether every service of the hub is ready (200) or which are not (503)."""
        settings = call.request.environ["hub.settings"]
        checks = {}
        for service in self._upstreams(settings):
            try:
                resp = self.http.request("GET", settings.service_url(service) + "/health/ready",
                                         timeout=3)
                checks[service] = "ready" if resp.status == 200 else json.loads(resp.data)
            except Exception as exc:
                checks[service] = f"unreachable: {type(exc).__name__}"
        if any(v != "ready" for v in checks.values()):
            raise Unavailable(_("Some services are not ready."), fields=checks)
        return {"status": "ready", "county": settings.county.code, "services": checks}

    @api("GET", "/api/v1/openapi.json", public=True, transaction=False)
    def openapi(self, call):
        """The OpenAPI document of the whole hub API."""
        from hub.openapi import build_spec
        settings = call.request.environ["hub.settings"]
        return build_spec([manifest(s).service_class() for s in self._upstreams(settings)])

    @api("GET", "/api/v1/audit", public=True, transaction=False)
    def audit(self, call):
        """The audit trails of every service, merged newest first (each service checks the
        caller is an auditor). Page back with `until=<next_until>`."""
        settings = call.request.environ["hub.settings"]
        items, limit = [], None
        for service in self._upstreams(settings):
            upstream = self._pass_on(settings, service, call.request, raw_target(call.request))
            if upstream.status != 200:       # refused, or a bad query: every service says the same
                return self._answer(upstream)
            body = json.loads(upstream.data)
            items.extend(body["items"])
            limit = body["limit"]
        items.sort(key=lambda e: datetime.fromisoformat(e["at"]), reverse=True)
        page = items[:limit]
        return {"items": page, "limit": limit,
                "next_until": page[-1]["at"] if len(items) > limit else None}

    @api("POST", "/api/v1/sync", body=sync.SyncSchema, transaction=False,
         responds=sync.SyncResultSchema, access=STAFF)
    def sync(self, call):
        """Apply a device's queued operations in order (gateway/sync.py): each stands for its
        service's single call under the Idempotency-Key `sync:<device_id>:<op_id>`; a service's
        operations go to it together (hub/call_groups.py)."""
        settings = call.request.environ["hub.settings"]

        def send(segment, calls):    # a POST, as the sync call itself, with the caller's token
            owner = path_owners()[segment]
            resp = self._pass_on(settings, owner, call.request, call_groups.URL,
                                 json.dumps({"calls": calls}, ensure_ascii=False).encode(),
                                 {"Content-Type": "application/json"})
            answers = sync.answers(resp.status, resp.headers, sync.parse(resp.data), len(calls))
            if answers is None:
                raise Unavailable(_("The {service} service could not answer; send the batch "
                                    "again (operations already applied answer already_applied).",
                                    service=owner))
            return answers

        locale = request_locale(call.request)     # its own refusals too, as every error
        return {"results": [{**r, "error": r["error"] and translate_error(r["error"], locale)}
                            for r in sync.apply(call.body, send)]}

    @api("GET", "/", public=True, transaction=False)
    def console_page(self, call):
        """The station console (services/gateway/console, docs/console.md)."""
        return console.static(call.request, "index.html")

    @api("GET", "/console/vocabulary.json", public=True, transaction=False)
    def console_vocabulary(self, call):
        """What the console chooses from (categories and their age rules, risk levels, visit
        modes, the county's townships and villages …), from services/contracts and settings."""
        return console.vocabulary(call.request.environ["hub.settings"].county)

    @api("GET", "/console/<path:name>", public=True, transaction=False)
    def console_file(self, call, name):
        """A file of the console (scripts, styles, the service worker)."""
        return console.static(call.request, name)

    @api(FORWARDED_METHODS, "/api/v1/<path:rest>", public=True, transaction=False)
    def forward(self, call, rest):
        settings = call.request.environ["hub.settings"]
        owner = path_owners().get(rest.split("/", 1)[0])
        if owner is None:
            own = own_methods(f"/api/v1/{rest}")
            if own:             # a path of the gateway's own (health, audit) with another method
                return http_error_response(MethodNotAllowed(valid_methods=own),
                                           request_locale(call.request))
            raise NotFound(_("There is no /api/v1/{segment} in this API; see /api/v1/openapi.json.",
                             segment=rest.split("/", 1)[0]))
        request = call.request
        return self._answer(self._pass_on(settings, owner, request, raw_target(request),
                                          request.get_data()))

    def _pass_on(self, settings, service, request, path, body=None, headers=None):
        """The request, with the caller's token and address, sent on to `service` at `path`
        (`headers` set in place of the caller's)."""
        headers = {**{h: request.headers[h] for h in FORWARDED_HEADERS if h in request.headers},
                   **(headers or {})}
        headers["X-Forwarded-For"] = request.remote_addr or ""
        try:
            return self.http.request(request.method, settings.service_url(service) + path,
                                     body=body, headers=headers)
        except urllib3.exceptions.HTTPError as exc:
            log.warning("%s unreachable: %s", service, exc)
            raise Unavailable(_("The {service} service is not reachable; check that it is "
                                "running (`hub status`).", service=service))

    @staticmethod
    def _answer(upstream):
        """A service's answer, as the gateway's own."""
        response = json_response(upstream.status, None)
        response.set_data(upstream.data)
        for h in RETURNED_HEADERS:
            if h in upstream.headers:
                response.headers[h] = upstream.headers[h]
        return response


def own_methods(path):
    """The methods the gateway's own routes take at `path` (none: it forwards the path)."""
    methods = {method for fn in vars(GatewayService).values()
               for ep in getattr(fn, "nameko_entrypoints", ())
               if ep.url == path for method in ep.method.split(",")}
    return sorted(methods | ({"HEAD"} if "GET" in methods else set()))
