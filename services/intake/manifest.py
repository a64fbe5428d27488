"""Intake, the client registry, as the hub knows it (see hub/manifest.py)."""
from hub.manifest import Manifest

MANIFEST = Manifest(
    name="intake",
    port=8001,
    service="intake.service:IntakeService",
    description="the client registry: registration, changes, risk, closing and transfers",
    paths=("clients",),
    events="contracts.events.intake",
    importers=("intake.importer:CLIENTS",),
)
