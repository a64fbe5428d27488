"""Which services a deployment runs where, read from the manifests (hub/manifest.py).

- every service: one process (container, Deployment, scrape target) each, the gateway included;
- the county services: those with a database of their own (a role and a broker user each);
- the upstreams: the county services answering API paths, which the gateway and the front door
  forward to (HUB_URL_<SERVICE>);
- the province's services: those whose broker grants name objects of their own (the
  provincial aggregator declares and reads the province's ingest exchange and queue);
- the direct publishers: those granted write on amq.default (stats' link heartbeat).
"""
from hub.manifest import data_services, manifest, manifests, path_owners

GATEWAY = "gateway"     # the HTTP entry point of every hub, county or province


def every_service():
    return tuple(manifests())


def county_services():
    return data_services()


def upstreams():
    owners = set(path_owners().values())
    return tuple(name for name in data_services() if name in owners)


def province_services():
    return tuple(name for name in data_services() if manifest(name).grants.objects)


def direct_publishers():
    return tuple(name for name in data_services() if manifest(name).grants.direct)


def port(name):
    return manifest(name).port


def env_name(prefix, name):
    """HUB_URL_INTAKE and the like: a per-service variable (hub.config reads them so)."""
    return f"{prefix}_{name.upper()}"
