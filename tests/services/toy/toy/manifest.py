"""The toy service, as the hub knows it (see hub/manifest.py)."""
from hub.manifest import Manifest

MANIFEST = Manifest(
    name="toy",
    port=8009,
    service="toy.service:ToyService",
    description="test-only: counts the clients registered, per township",
    paths=("toys",),
    events="toy.events",
    commands=("toy.commands:toy_group",),
)
