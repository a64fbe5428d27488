"""The base every hub service class extends: its database and its operational endpoints.

Each service gets `/health/live`, `/health/ready` (database and broker) and `/metrics` on its own
port, and `GET /api/v1/<service>/openapi.json` describing its API.
"""
import kombu
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.wrappers import Response

from hub.db import DatabaseProvider
from hub.errors import Unavailable
from hub.http import api


def broker_reachable(settings):
    with kombu.Connection(settings.amqp_uri, connect_timeout=2) as conn:
        conn.ensure_connection(max_retries=1)


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

    @api("GET", "/health/ready", public=True, transaction=False)
    def health_ready(self, call):
        checks = {}
        for check, probe in (("database", self.db.ping),
                             ("broker", lambda: broker_reachable(self.db.settings))):
            try:
                probe()
                checks[check] = "ok"
            except Exception as exc:
                checks[check] = f"unreachable: {type(exc).__name__}"
        if any(v != "ok" for v in checks.values()):
            raise Unavailable(f"{self.name} is not ready", fields=checks)
        return {"status": "ready", "service": self.name, "checks": checks}

    @api("GET", "/openapi.json", public=True, transaction=False)
    def openapi(self, call):
        from hub.openapi import service_spec
        return service_spec(type(self))
