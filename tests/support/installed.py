"""Test-only services (tests/services/NAME), installed for a while as pip would install them:
their folder, holding the package and a dist-info with its entry point, on sys.path. The hub
then finds them through their manifests like any other service."""
import os
import sys
from contextlib import contextmanager
from pathlib import Path

from hub.manifest import manifests, path_owners

SERVICES = Path(__file__).resolve().parents[1] / "services"


def folder(name):
    return SERVICES / name


def forget_manifests():
    """Read the manifests afresh at the next call (they are cached per process)."""
    manifests.cache_clear()
    path_owners.cache_clear()


@contextmanager
def installed(*names):
    """The named test services are installed in this process until the block ends."""
    paths = [str(folder(name)) for name in names]
    sys.path[:0] = paths
    forget_manifests()
    try:
        yield
    finally:
        for path in paths:
            sys.path.remove(path)
        forget_manifests()


def pythonpath(*names, base=None):
    """A PYTHONPATH for a subprocess in which the named test services are installed."""
    base = os.environ.get("PYTHONPATH", "") if base is None else base
    return os.pathsep.join([*(str(folder(name)) for name in names), *filter(None, [base])])
