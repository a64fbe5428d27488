"""Stats, the figures and reports of a county (or, as HUB_ROLE=province, of the province), as
the hub knows it (see hub/manifest.py)."""
from hub.manifest import BrokerGrants, Manifest

MANIFEST = Manifest(
    name="stats",
    port=8004,
    service="stats.service:StatsService",
    description="figures and reports; the province's aggregator",
    paths=("stats", "reports", "stations"),
    events="contracts.events.stats",
    commands=("stats.commands:stats_group", "stats.commands:province_group"),
    importers=("stats.importer:STATIONS",),
    # as the province's aggregator it declares and reads the province's ingest exchange and
    # queue (stats/province.py names them); it sends the link's heartbeat straight into a queue
    grants=BrokerGrants(objects=("province", "province.ingest"), direct=True),
)
