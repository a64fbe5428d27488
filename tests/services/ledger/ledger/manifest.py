"""The ledger, as the hub knows it (see hub/manifest.py)."""
from hub.manifest import Manifest

MANIFEST = Manifest(
    name="ledger",
    port=8006,
    service="ledger.service:LedgerService",
    description="test-only: one row per donation or allocation it was given",
)
