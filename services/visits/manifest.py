"""Visits, the visit plans and field records, as the hub knows it (see hub/manifest.py)."""
from hub.manifest import Manifest

MANIFEST = Manifest(
    name="visits",
    port=8002,
    service="visits.service:VisitsService",
    description="visit plans, field records, activities and verification rounds",
    paths=("visits", "visit-policy", "activities", "verification-rounds"),
    events="contracts.events.visits",
)
