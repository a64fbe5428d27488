"""`hub deploy render` (tooling/deploy/): every deployment file that names services is what the
services' manifests make of it, and a service the hub was not written for appears in each."""
import json
import shutil
import subprocess

import yaml
from click.testing import CliRunner
from deploy_support import HUB_BIN, REPO, render_kustomize

from support.installed import installed
from tooling.deploy_commands import deploy_group


def test_every_committed_rendering_is_current():
    result = subprocess.run([str(HUB_BIN), "deploy", "render", "--check"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, \
        f"stale deployment files: run `hub deploy render` and commit them\n{result.stdout}" \
        f"{result.stderr}"


def render(*args):
    return CliRunner().invoke(deploy_group, ["render", *map(str, args)])


def test_a_new_service_appears_in_every_rendered_file(tmp_path):
    """tests/services/toy, installed only for the render: in every file, and stale without it."""
    out = tmp_path / "tree"
    shutil.copytree(REPO / "deploy", out / "deploy")    # the rest, for kustomize
    with installed("toy"):
        result = render("--out", out)
        assert result.exit_code == 0, result.output
        assert render("--out", out, "--check").exit_code == 0

    compose = yaml.safe_load((out / "docker-compose.yml").read_text())["services"]
    assert compose["toy"]["command"] == ["serve", "toy"]
    assert "http://127.0.0.1:8009/health/ready" in " ".join(compose["toy"]["healthcheck"]["test"])
    assert "user=hub_toy" in compose["toy"]["environment"]["HUB_PG_DSN_TOY"]
    assert "HUB_AMQP_URI_TOY" in compose["setup"]["environment"]
    assert compose["gateway"]["environment"]["HUB_URL_TOY"] == "http://toy:8009"
    assert "toy" in compose["front"]["depends_on"]

    docs = render_kustomize(out / "deploy" / "kubernetes" / "overlays" / "county")
    deployment = next(d for d in docs if d["kind"] == "Deployment" and
                      d["metadata"]["name"] == "toy")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"] == ["serve", "toy"]
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    assert services["toy"]["spec"]["ports"][0]["port"] == 8009 and "toy-pods" in services
    ingress = next(d for d in docs if d["kind"] == "Ingress")
    assert {"path": "/api/v1/toys", "pathType": "Prefix", "backend": {"service": {
        "name": "toy", "port": {"number": 8009}}}} in ingress["spec"]["rules"][0]["http"]["paths"]
    job = next(d for d in docs if d["kind"] == "Job")
    assert {"HUB_PG_DSN_TOY", "HUB_AMQP_URI_TOY"} <= {
        e["name"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    assert config["data"]["HUB_URL_TOY"] == "http://toy:8009"

    prometheus = out / "deploy" / "prometheus"
    assert '- targets: ["toy:8009"]' in (prometheus / "prometheus.yml").read_text()
    assert '"toy-pods.' in (prometheus / "prometheus-kubernetes.yml").read_text()
    for conf in ("shegong-hub.conf", "compose.conf"):
        nginx = (out / "deploy" / "nginx" / conf).read_text()
        assert "location ~ ^/api/v1/(toys)(/|$) {\n        proxy_pass http://hub_toy;" in nginx

    county = json.loads((out / "deploy" / "rabbitmq" / "county-341721.json").read_text())
    assert "hub.toy.inbox" in {q["name"] for q in county["queues"]}
    binding = next(b for b in county["bindings"] if b["destination"] == "hub.toy.inbox")
    assert (binding["source"], binding["routing_key"]) == ("hub.events", "client.registered.v1")
    permission = next(p for p in county["permissions"] if p["user"] == "county-341721-toy")
    assert permission["read"] == r"^hub\.(events|toy\.inbox)$"

    # the toy gone again, its files are stale: its component file, the compose services, …
    result = render("--out", out, "--check")
    assert result.exit_code == 1
    assert "deploy/kubernetes/components/county-services/toy.yaml" in result.output
    assert "docker-compose.yml" in result.output and "hub deploy render" in result.output
