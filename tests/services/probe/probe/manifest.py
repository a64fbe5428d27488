"""The probe, as the hub knows it (see hub/manifest.py)."""
from hub.manifest import Manifest

MANIFEST = Manifest(
    name="probe",
    port=8007,
    service="probe.service:ProbeService",
    description="test-only: records every client event it takes, and fails on request",
)
