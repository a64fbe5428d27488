"""The gateway, as the hub knows it (see hub/manifest.py): no database, no events, no paths of
its own to route (it forwards every other service's)."""
from hub.manifest import Manifest

MANIFEST = Manifest(
    name="gateway",
    port=8000,
    service="gateway.service:GatewayService",
    description="the hub's one HTTP entry point: /api/v1 in front of every service",
    database=False,
)
