"""The base every hub service class extends: its database and its operational endpoints.

Each service gets `/health/live`, `/health/ready` (database and broker) and `/metrics` on its own
port, and `GET /api/v1/<service>/openapi.json` describing its API.
"""
from marshmallow import Schema, fields, validate
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Response

from hub import audit
from hub.access import AUDITORS
from hub.db import DatabaseProvider
from hub.errors import Unavailable
from hub.http import api
from hub.i18n import _


def broker_reachable(settings, service):
    """Whether the service can log in to the broker as its own user."""
    with settings.broker_connection(service, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1)


class AuditQuerySchema(Schema):
    since = fields.AwareDateTime(metadata={"description": "entries at or after this time"})
    until = fields.AwareDateTime(metadata={"description": "entries before this time (paging)"})
    actor = fields.String(validate=validate.Length(max=200))
    role = fields.String(validate=validate.Length(max=50))
    action = fields.String(validate=validate.Length(max=50),
                           metadata={"description": "e.g. personal.read, or auth for auth.*"})
    target = fields.String(validate=validate.Length(max=300))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class AuditEntrySchema(Schema):
    service = fields.String()
    seq = fields.Integer()
    at = fields.DateTime()
    actor = fields.String()
    role = fields.String()
    action = fields.String()
    target = fields.String()
    detail = fields.Dict()
    address = fields.String()
    prev_hash = fields.String()
    hash = fields.String()


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema))
    limit = fields.Integer()
    next_until = fields.DateTime(allow_none=True)


class OpsEndpoints:
    """Liveness and metrics, for every hub process."""
    name = None  # each service sets its own

    @api("GET", "/health/live", public=True, transaction=False)
    def health_live(self, call):
        return {"status": "alive", "service": self.name}

    @api("GET", "/metrics", public=True, transaction=False)
    def metrics(self, call):
        return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)


class HubService(OpsEndpoints):
    """A service with a database of its own: readiness covers the database and the broker."""
    db = DatabaseProvider()
    # path parameter -> the table of the record it names (id, township_code): hub.access checks
    # a station role's access to that record before the handler runs
    record_tables = {}

    @api("GET", "/health/ready", public=True, transaction=False)
    def health_ready(self, call):
        checks = {}
        for check, probe in (("database", self.db.ping),
                             ("broker", lambda: broker_reachable(self.db.settings, self.name))):
            try:
                probe()
                checks[check] = "ok"
            except Exception as exc:
                checks[check] = f"unreachable: {type(exc).__name__}"
        if any(v != "ok" for v in checks.values()):
            raise Unavailable(_("{service} is not ready", service=self.name), fields=checks)
        return {"status": "ready", "service": self.name, "checks": checks}

    @api("GET", "/openapi.json", public=True, transaction=False)
    def openapi(self, call):
        from hub.openapi import service_spec
        return service_spec(type(self))

    @api("GET", "/api/v1/audit", query=AuditQuerySchema, responds=AuditPageSchema,
         access=AUDITORS)
    def audit_trail(self, call):
        """This service's audit trail, newest first; the gateway merges every service's."""
        rows = audit.search(call.tx, call.query)
        limit = call.query["limit"]
        return AuditPageSchema().dump({
            "items": [{**r, "service": self.name} for r in rows], "limit": limit,
            "next_until": rows[-1]["at"] if len(rows) == limit else None})
