"""deploy/prometheus: the generated sections listing the hub's scrape targets, one per service:
by its compose host name (prometheus.yml), through its headless Service `<service>-pods` on
Kubernetes (prometheus-kubernetes.yml), and the province's own services (province.yml)."""
from tooling.deploy import COUNTY
from tooling.deploy.roles import GATEWAY, every_service, port, province_services

PROMETHEUS = "deploy/prometheus"
NAMESPACE = f"shegong-{COUNTY}"     # the county overlay's (deploy/kubernetes/overlays/county)


def static_targets(services):
    return [line for name in services for line in (f'- targets: ["{name}:{port(name)}"]',
                                                    f"  labels: {{service: {name}}}")]


def pod_targets():
    return [f'- {{names: ["{name}-pods.{NAMESPACE}.svc"], type: A, port: {port(name)}}}'
            for name in every_service()]


def sections():
    """Hand-written files: relative path -> the bodies of their generated sections."""
    return {f"{PROMETHEUS}/prometheus.yml": [static_targets(every_service())],
            f"{PROMETHEUS}/prometheus-kubernetes.yml": [pod_targets()],
            f"{PROMETHEUS}/province.yml": [static_targets((GATEWAY, *province_services()))]}
