"""Every deployment file that names services, rendered from the services' manifests; what
`hub deploy render` writes (into the repository, or the same tree under another folder) and
what it finds stale.

Whole files come from the renderers' `files()`; hand-written files keep their own text and get
their generated sections (sections.py) from the renderers' `sections()`, filled into the
repository's copy. A folder all of whose files are rendered (the county services' component)
also loses the files of services that are gone.
"""
import json
from pathlib import Path

from hub.config import REPO_ROOT, Settings
from tooling.deploy import COUNTY, broker, compose, kubernetes, machines, prometheus
from tooling.deploy.roles import env_name, every_service, port
from tooling.deploy.sections import fill
from tooling.front import nginx_config

COUNTY_BROKER = f"amqps://hub-{COUNTY}.example:5671"    # as the province reaches it
# folders whose every file is rendered: a file there that is no longer rendered is stale
RENDERED_FOLDERS = (kubernetes.COUNTY_SERVICES,)


def nginx_files():
    """The front door for one VM (every service on 127.0.0.1) and for compose (by name)."""
    by_name = {env_name("HUB_URL", name): f"http://{name}:{port(name)}" for name in every_service()}
    return {"deploy/nginx/shegong-hub.conf": nginx_config(Settings.from_env({}), "80"),
            "deploy/nginx/compose.conf": nginx_config(Settings.from_env(by_name), "8080")}


def broker_files():
    """The example definitions (empty password hashes, the link password a placeholder)."""
    def text(defs):
        return json.dumps(defs, indent=2, ensure_ascii=False) + "\n"
    return {f"deploy/rabbitmq/county-{COUNTY}.json": text(broker.county_definitions(COUNTY)),
            "deploy/rabbitmq/province.json": text(broker.province_definitions(
                counties=[(COUNTY, COUNTY_BROKER)]))}


def renderings(repo=REPO_ROOT):
    """Relative path -> the text every rendered file should have (hand-written parts read from
    `repo`)."""
    repo = Path(repo)
    files = {**nginx_files(), **broker_files(), **kubernetes.files()}
    for module in (compose, kubernetes, prometheus, machines):
        for path, bodies in module.sections().items():
            files[path] = fill((repo / path).read_text(), bodies, path)
    return dict(sorted(files.items()))


def leftovers(tree, files):
    """Files in the rendered folders of `tree` that are not rendered (services gone)."""
    return sorted(str(p.relative_to(tree)) for folder in RENDERED_FOLDERS
                  if (tree / folder).is_dir() for p in (tree / folder).iterdir()
                  if p.is_file() and str(p.relative_to(tree)) not in files)


def stale(tree, files):
    """The paths under `tree` whose text differs from the rendering, or that should not be."""
    tree = Path(tree)
    different = [path for path, text in files.items()
                 if not (tree / path).is_file() or (tree / path).read_text() != text]
    return sorted(different + leftovers(tree, files))


def write(tree, files):
    """Write the renderings under `tree` and remove the leftovers; returns what changed."""
    tree = Path(tree)
    changed = stale(tree, files)
    for path in leftovers(tree, files):
        (tree / path).unlink()
    for path, text in files.items():
        if path in changed:
            (tree / path).parent.mkdir(parents=True, exist_ok=True)
            (tree / path).write_text(text)
    return changed
