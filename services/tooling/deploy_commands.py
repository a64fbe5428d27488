"""`hub deploy`: the deployment files that name services, rendered from the services' manifests
(tooling/deploy/). Run `hub deploy render` after adding, removing or changing a service, and
commit what it wrote; tests/deploy/test_deploy_render.py fails while a rendering is stale."""
from pathlib import Path

import click

from hub.config import REPO_ROOT

FIX = "hub deploy render"


@click.group("deploy")
def deploy_group():
    """Deployment files (compose, Kubernetes, Prometheus, nginx, broker definitions) rendered
    from the services' manifests."""


@deploy_group.command("render")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="write the same tree of files under this folder instead of the repository")
@click.option("--check", is_flag=True,
              help="write nothing: list the stale files and exit 1 if there are any")
def render(out, check):
    """Render every deployment file that names services (into the repository, or --out)."""
    from tooling.deploy.render import renderings, stale, write
    from tooling.deploy.sections import SectionError
    if not (REPO_ROOT / "deploy").is_dir():
        raise click.ClickException(f"no deploy/ in {REPO_ROOT}: `hub deploy render` reads the "
                                   "hand-written files of a checkout of the repository")
    tree = Path(out) if out else REPO_ROOT
    try:
        files = renderings(REPO_ROOT)
    except SectionError as exc:
        raise click.ClickException(str(exc))
    if check:
        outdated = stale(tree, files)
        for path in outdated:
            click.echo(f"stale: {path}")
        if outdated:
            fix = FIX + (f" --out {out}" if out else "")
            raise click.ClickException(f"{len(outdated)} rendering(s) out of date: run `{fix}`")
        click.echo(f"{len(files)} rendered files up to date in {tree}")
        return
    changed = write(tree, files)
    for path in changed:
        click.echo(f"wrote {path}")
    click.echo(f"{len(files)} rendered files in {tree}, {len(changed)} changed")
