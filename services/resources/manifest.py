"""Resources (donors, donations, allocations, workers, certificate holders, volunteers,
referrals), as the hub knows it (see hub/manifest.py)."""
from hub.manifest import Manifest

MANIFEST = Manifest(
    name="resources",
    port=8003,
    service="resources.service:ResourcesService",
    description="donors, donations, allocations, needs, workers, volunteers, referrals, projects",
    paths=("providers", "donations", "allocations", "needs", "workers", "volunteers",
           "referrals", "projects", "certificates"),
    events="contracts.events.resources",
    importers=("resources.importer:WORKERS", "resources.importer:VOLUNTEERS",
               "resources.importer:CERTIFICATES"),
)
