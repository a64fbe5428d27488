"""What each service says about itself, and how the chassis and the tooling find the services.

A service package declares one `Manifest` in its manifest.py and names it as an entry point of
the group `shegong_hub.services` (pyproject.toml). `manifests()` reads them all: nothing in the
chassis or the tooling names a service; ports, routes, databases, queues, broker grants, `hub`
commands, spreadsheet importers, the event contract and every deployment file come from here.
A manifest module imports nothing but this one, so reading every manifest costs nothing.
"""
import importlib
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points

GROUP = "shegong_hub.services"


class ManifestError(LookupError):
    """An unknown service, or manifests that contradict each other; the message says which."""


@dataclass(frozen=True)
class BrokerGrants:
    """What a service may do on the broker beyond publishing events and reading its own inbox."""
    objects: tuple = ()     # exchanges and queues under the hub's prefix it declares and reads
    direct: bool = False    # publishes straight into a queue (write on amq.default)


@dataclass(frozen=True)
class Manifest:
    name: str
    port: int                   # where it listens when HUB_PORT_OFFSET is 0
    service: str                # "module:Class": the nameko service class
    description: str = ""
    paths: tuple = ()           # the first path segments under /api/v1 it answers
    database: bool = True       # a database, a role and a broker user of its own
    events: str | None = None   # the module that registers the event types it publishes
    commands: tuple = ()        # "module:attr": click commands or groups added to `hub`
    importers: tuple = ()       # "module:attr": spreadsheet imports, `hub import KIND FILE`
    grants: BrokerGrants = field(default_factory=BrokerGrants)

    def service_class(self):
        return load(self.service)


def load(reference):
    """The object a "module:attr" reference names."""
    module, attr = reference.split(":")
    return getattr(importlib.import_module(module), attr)


@cache
def manifests():
    """name -> Manifest of every installed service, in the order of their ports."""
    found = {}
    for point in entry_points(group=GROUP):
        manifest = point.load()
        if manifest.name != point.name:
            raise ManifestError(f"entry point {point.name} names the manifest of {manifest.name}")
        if manifest.name in found and found[manifest.name] != manifest:
            raise ManifestError(f"two services are called {manifest.name}")
        found[manifest.name] = manifest
    ports = {}
    for manifest in found.values():
        if manifest.port in ports:
            raise ManifestError(f"{manifest.name} and {ports[manifest.port]} both want port "
                                f"{manifest.port}")
        ports[manifest.port] = manifest.name
    return dict(sorted(found.items(), key=lambda item: item[1].port))


def manifest(name):
    try:
        return manifests()[name]
    except KeyError:
        raise ManifestError(f"unknown service {name!r}; known: {', '.join(manifests())}") from None


def data_services():
    """The services with a database of their own, in the order of their ports."""
    return tuple(name for name, m in manifests().items() if m.database)


@cache
def path_owners():
    """First path segment under /api/v1 -> the service that answers it."""
    owners = {}
    for manifest in manifests().values():
        for segment in manifest.paths:
            if segment in owners:
                raise ManifestError(f"{manifest.name} and {owners[segment]} both claim "
                                    f"/api/v1/{segment}")
            owners[segment] = manifest.name
    return owners
