"""The deployment files against a running hub: services started as `hub serve` processes (as
systemd, compose and Kubernetes start them), three instances of visits sharing one queue, the
probes and health checks the files name, and every metric the alerts and dashboards use found
in the services' and the broker's real /metrics, read with the Prometheus text-format parser."""
import re
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from deploy_support import (
    DEPLOY,
    PROMETHEUS_SYNTHETIC,
    REPO,
    VISITS_INSTANCES,
    exposed_names,
    render_kustomize,
    used_metrics,
)
from hub.auth import issue_token
from hub.manifest import manifests
from support.hub import client_body, wait_for

CLIENTS = 60
REGISTERED = "client.registered.v1"


def scrape(url):
    response = requests.get(url + "/metrics", timeout=5)
    assert response.status_code == 200
    return response.text


def consumed_by_instance(hub, service, type_key):
    """hub_events_consumed_total / _duplicate_total {service, type} of each instance."""
    counts = []
    for port in hub.ports(service):
        values = {"consumed": 0.0, "duplicate": 0.0}
        for family in text_string_to_metric_families(scrape(hub.url(port))):
            for sample in family.samples:
                if (sample.labels.get("service"), sample.labels.get("type")) == (service, type_key):
                    for kind in values:
                        if sample.name == f"hub_events_{kind}_total":
                            values[kind] += sample.value
        counts.append(values)
    return counts


@pytest.fixture(scope="module")
def registered(hub_processes):
    """CLIENTS clients registered through the gateway, their events consumed by visits."""
    hub = hub_processes
    api = hub.url(hub.ports("gateway")[0]) + "/api/v1"
    token = issue_token(hub.settings, "deploy-tests", "county_admin")

    def register(_):
        response = requests.post(api + "/clients", json=client_body(),
                                 headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(register, range(CLIENTS)))
    wait_for(lambda: sum(c["consumed"] for c in consumed_by_instance(
        hub, "visits", REGISTERED)) >= CLIENTS, timeout=60, interval=0.25)
    return ids


def test_three_instances_share_the_queue_and_nothing_is_done_twice(hub_processes, registered):
    counts = consumed_by_instance(hub_processes, "visits", REGISTERED)
    consumed = [c["consumed"] for c in counts]
    print(f"\n{CLIENTS} client.registered events over {VISITS_INSTANCES} visits instances: "
          f"{[int(c) for c in consumed]}")
    assert len(consumed) == VISITS_INSTANCES
    assert all(n > 0 for n in consumed), f"an instance did no work: {consumed}"
    assert sum(consumed) == CLIENTS            # each event took effect once, in one instance
    assert sum(c["duplicate"] for c in counts) == 0   # and none was even delivered twice
    with psycopg.connect(hub_processes.settings.database_dsn("visits")) as conn:
        inbox = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM hub_inbox "
                             "WHERE type = %s", (REGISTERED,)).fetchone()
        plans = conn.execute("SELECT count(*) FROM visit_plans WHERE client_id = ANY(%s::uuid[])",
                             (registered,)).fetchone()[0]
    assert inbox == (CLIENTS, CLIENTS)
    assert plans == CLIENTS                    # every registered client got its plan, once


def test_every_metric_the_alerts_and_dashboards_use_is_exposed(hub_processes, registered,
                                                               broker, backup_metrics):
    """Each service's /metrics (and the broker's queue metrics, scraped with the parameters
    of deploy/prometheus/prometheus.yml, and the file `hub backup --metrics-file` writes)
    parsed with prometheus_client's text parser."""
    hub = hub_processes
    declared, sampled = set(), set()
    for service, port, _, _ in hub.instances:
        names, samples = exposed_names(scrape(hub.url(port)))
        assert "hub_http_requests_total" in samples, service
        declared |= names
        sampled |= samples
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "rabbitmq-queues")
    params = {**job["params"], "vhost": [broker.county_vhost]}

    def broker_metrics():   # a new queue shows once the broker has collected its statistics
        response = requests.get("http://127.0.0.1:15692" + job["metrics_path"], params=params,
                                timeout=10)
        assert response.status_code == 200, "is the rabbitmq_prometheus plugin enabled?"
        return 'queue="hub.province.outbox"' in response.text and response.text

    for text in (wait_for(broker_metrics, timeout=30, interval=0.5), backup_metrics):
        names, samples = exposed_names(text)
        declared |= names
        sampled |= samples

    used = used_metrics()
    missing = {name: where for name, where in used.items()
               if name not in declared and name not in PROMETHEUS_SYNTHETIC}
    assert not missing, f"used but exposed by nothing: {missing}"
    unsampled = sorted(set(used) - sampled - PROMETHEUS_SYNTHETIC)
    print(f"\n{len(used)} metrics used by alerts and dashboards, all exposed; "
          f"declared but without a sample in this short run: {unsampled}")


def probe_targets():
    """(service, path) of every Kubernetes probe and compose health check."""
    targets = set()
    for overlay in ("county", "province"):
        for doc in render_kustomize(DEPLOY / "kubernetes" / "overlays" / overlay):
            if doc["kind"] == "Deployment":
                container = doc["spec"]["template"]["spec"]["containers"][0]
                for probe in ("livenessProbe", "readinessProbe"):
                    targets.add((container["args"][1], container[probe]["httpGet"]["path"]))
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        test = " ".join((service.get("healthcheck") or {}).get("test", []))
        for path in re.findall(r"http://127\.0\.0\.1:\d+(/[\w/]+)", test):
            targets.add((service["command"][1], path))
    return sorted(targets)


def test_the_probes_and_health_checks_answer(hub_processes):
    hub = hub_processes
    checked = []
    for service, path in probe_targets():
        for port in hub.ports(service):
            response = requests.get(hub.url(port) + path, timeout=5)
            assert response.status_code == 200, (service, path, response.text)
        checked.append(f"{service}{path}")
    assert {f"{name}/health/{'ready' if m.database else 'live'}"
            for name, m in manifests().items()} <= set(checked)
