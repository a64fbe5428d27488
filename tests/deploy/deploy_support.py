"""Helpers for the deployment tests: the artifacts under deploy/, the tools that check them, and
hub services run as real `hub serve` processes configured by environment variables only."""
import base64
import importlib.util
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import promql_parser
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
HUB_BIN = Path(sys.executable).parent / "hub"
VISITS_INSTANCES = 3    # visits instances sharing one queue in the running-hub tests
DELIVERY_LIMIT = 3      # the test broker's delivery limit, low enough to watch it act

# series Prometheus makes itself for every target (not found in any /metrics)
PROMETHEUS_SYNTHETIC = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# Grafana's variables, replaced by a plain value so the query parses as PromQL
GRAFANA_INTERVALS = {"__rate_interval", "__interval", "__range"}


# -- tools -------------------------------------------------------------------------------------
def need(tool):
    path = shutil.which(tool)
    assert path, f"{tool} is not installed; `make test` installs it (scripts/ensure-test-tools.sh)"
    return path


def kustomize_command():
    """The real kustomize: a `kustomize` binary, else kubectl's built-in one."""
    if shutil.which("kustomize"):
        return [shutil.which("kustomize"), "build"]
    return [need("kubectl"), "kustomize"]


def render_kustomize(overlay):
    out = subprocess.run([*kustomize_command(), str(overlay)], check=True, capture_output=True,
                         text=True).stdout
    return [d for d in yaml.safe_load_all(out) if d]


def rabbitmqctl(*args, input=None):
    return subprocess.run([need("rabbitmqctl"), "-q", *args], input=input, check=True,
                          capture_output=True, text=True).stdout


def definitions_tool():
    """deploy/rabbitmq/definitions.py, imported as a module."""
    spec = importlib.util.spec_from_file_location("hub_definitions",
                                                  DEPLOY / "rabbitmq" / "definitions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- PromQL in alert rules and dashboards -----------------------------------------------------
def grafana_to_promql(expr):
    def value(m):
        return "5m" if m.group(1) in GRAFANA_INTERVALS else ".*"
    return re.sub(r"\$\{?(\w+)(?::\w+)?\}?", value, expr)


def metric_names(expr):
    """The metric names a PromQL expression selects (parsed by a real PromQL parser)."""
    names = set()

    def visit(node, *_):
        if isinstance(node, promql_parser.VectorSelector):
            name = node.name or next((m.value for m in node.matchers.matchers
                                      if m.name == "__name__"), None)
            assert name, f"a selector without a metric name in {expr!r}"
            names.add(name)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


def alert_rules():
    doc = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "hub-alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def dashboards():
    return {p.name: json.loads(p.read_text()) for p in sorted((DEPLOY / "grafana").glob("*.json"))}


def all_panels(panels):
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def dashboard_queries(dashboard):
    """(where, PromQL) for every panel target and every query variable of a dashboard."""
    for panel in all_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield f"panel {panel['title']!r}", grafana_to_promql(target["expr"])
    for var in dashboard["templating"]["list"]:
        if var["type"] == "query":
            query = var["query"]["query"] if isinstance(var["query"], dict) else var["query"]
            inner = re.fullmatch(r"label_values\((.+),\s*\w+\)", query)
            yield f"variable {var['name']}", grafana_to_promql(inner.group(1) if inner else query)


def used_metrics():
    """metric name -> where the alerts and dashboards use it."""
    used = {}
    for rule in alert_rules():
        for name in metric_names(rule["expr"]):
            used.setdefault(name, []).append(f"alert {rule['alert']}")
    for file, dash in dashboards().items():
        for where, expr in dashboard_queries(dash):
            for name in metric_names(expr):
                used.setdefault(name, []).append(f"{file} {where}")
    return used


def exposed_names(text):
    """Every series name a Prometheus text exposition offers, by the prometheus_client parser:
    (names declared by a family, names with samples)."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count",
                                                                 "_created"),
                "summary": ("", "_sum", "_count", "_created"), "gauge": ("",),
                "untyped": ("",), "unknown": ("",)}
    declared, sampled = set(), set()
    for family in text_string_to_metric_families(text):
        declared.update(family.name + s for s in suffixes.get(family.type, ("",)))
        sampled.update(sample.name for sample in family.samples)
    return declared | sampled, sampled


# -- hub services as processes ----------------------------------------------------------------
def hub_environment(prefix, port_offset, **extra):
    """Environment variables for a private hub (its own databases, exchange, ports and keys)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HUB_") and k != "COUNTY_CONFIG"}
    env.update({
        "HUB_DB_PREFIX": prefix,
        "HUB_PG_DSN": os.environ.get("HUB_PG_DSN", "host=127.0.0.1 port=5432 user=postgres"),
        "HUB_AMQP_URI": os.environ.get("HUB_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//"),
        "HUB_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "HUB_JWT_SECRET": secrets.token_urlsafe(32),
        "HUB_SERVICE_SECRET": secrets.token_urlsafe(32),   # the services' own users' passwords
        "HUB_PORT_OFFSET": str(port_offset),
        "HUB_ENV_FILE": "/nonexistent/hub.env",     # nothing from var/hub.env
        "HUB_RETRY_BASE_SECONDS": "0.2",
        "HUB_RETRY_ATTEMPTS": "3",
        **extra,
    })
    return env


class HubProcesses:
    """`hub setup`, then `hub serve SERVICE` processes, as systemd, compose or Kubernetes run them.

    Each instance gets its own port offset (several instances of one service on one machine).
    """

    def __init__(self, env, log_dir):
        self.env = env
        self.log_dir = Path(log_dir)
        self.instances = []      # (service, port, Popen, log path)

    def setup(self):
        result = subprocess.run([str(HUB_BIN), "setup"], env=self.env, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def start(self, service, extra_offset=0):
        from hub.manifest import manifest
        offset = int(self.env["HUB_PORT_OFFSET"]) + extra_offset
        port = manifest(service).port + offset
        log = self.log_dir / f"{service}-{port}.log"
        proc = subprocess.Popen([str(HUB_BIN), "serve", service],
                                env={**self.env, "HUB_PORT_OFFSET": str(offset)},
                                stdout=open(log, "wb"), stderr=subprocess.STDOUT)
        self.instances.append((service, port, proc, log))
        return port

    def url(self, port):
        return f"http://127.0.0.1:{port}"

    def wait_ready(self, timeout=60):
        """Until every instance answers its readiness (the gateway: liveness) with 200."""
        deadline = time.monotonic() + timeout
        for service, port, proc, log in self.instances:
            path = "/health/live" if service == "gateway" else "/health/ready"
            while True:
                assert proc.poll() is None, f"{service} exited:\n{log.read_text()[-3000:]}"
                try:
                    if requests.get(self.url(port) + path, timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, \
                    f"{service} not ready:\n{log.read_text()[-3000:]}"
                time.sleep(0.1)

    def ports(self, service):
        return [port for s, port, _, _ in self.instances if s == service]

    def stop(self):
        for _, _, proc, _ in self.instances:
            proc.terminate()
        for _, _, proc, _ in self.instances:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
