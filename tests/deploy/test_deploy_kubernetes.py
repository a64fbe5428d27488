"""deploy/kubernetes: the overlays rendered by the real kustomize (kubectl's built-in one) and
every object validated by kubernetes-validate against the Kubernetes API schemas."""
import copy

import kubernetes_validate
import pytest

from deploy_support import DEPLOY, render_kustomize
from hub.manifest import manifest, manifests
from tooling.deploy.roles import province_services

OVERLAYS = DEPLOY / "kubernetes" / "overlays"
# the oldest Kubernetes still common in county and provincial clusters, and the newest known
VERSIONS = ("1.28", kubernetes_validate.latest_version())


@pytest.fixture(scope="module")
def rendered():
    return {name: render_kustomize(OVERLAYS / name) for name in ("county", "province")}


def of_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


@pytest.mark.parametrize("overlay", ["county", "province"])
def test_every_object_is_valid_kubernetes(rendered, overlay):
    for doc in rendered[overlay]:
        for version in VERSIONS:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_validation_catches_a_mistake(rendered):
    broken = copy.deepcopy(of_kind(rendered["county"], "Deployment")["intake"])
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["paht"] = "/x"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_the_county_runs_every_service_and_the_province_the_aggregator(rendered):
    assert set(of_kind(rendered["county"], "Deployment")) == set(manifests())
    assert set(of_kind(rendered["province"], "Deployment")) == {"gateway", *province_services()}


@pytest.mark.parametrize("overlay", ["county", "province"])
def test_each_deployment_is_probed_limited_non_root_and_autoscaled(rendered, overlay):
    docs = rendered[overlay]
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h
            for h in of_kind(docs, "HorizontalPodAutoscaler").values()}
    for name, deployment in of_kind(docs, "Deployment").items():
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"] == ["serve", name]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": manifest(name).port}
        assert container["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
        ready = "/health/live" if name == "gateway" else "/health/ready"  # the gateway has no
        assert container["readinessProbe"]["httpGet"] == {"path": ready, "port": "http"}  # own deps
        assert set(container["resources"]) == {"requests", "limits"}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] > 0
        assert container["securityContext"]["allowPrivilegeEscalation"] is False
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
        assert hpas[name]["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert hpas[name]["spec"]["minReplicas"] >= 1
        service = of_kind(docs, "Service")[name]
        assert service["spec"]["ports"][0]["port"] == manifest(name).port


@pytest.mark.parametrize("overlay", ["county", "province"])
def test_migrations_run_as_a_job_and_secrets_come_from_secret_references(rendered, overlay):
    docs = rendered[overlay]
    job = of_kind(docs, "Job")["hub-setup"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["setup"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert not of_kind(docs, "Secret"), "secrets are made by operators, never kept here"
    services = set(of_kind(docs, "Deployment")) - {"gateway"}
    for doc in docs:
        if doc["kind"] in ("Deployment", "Job"):
            name = doc["metadata"]["name"]
            env = {e["name"]: e for e in doc["spec"]["template"]["spec"]["containers"][0]["env"]}
            own = {f"HUB_PG_DSN_{s.upper()}" for s in services} | \
                  {f"HUB_AMQP_URI_{s.upper()}" for s in services}
            if name == "hub-setup":         # the admin connections, and every service's users
                secret = ["HUB_PG_DSN", "HUB_AMQP_URI", *own]
            elif name == "gateway":         # no database, no broker
                secret = []
            else:                           # its own users only, never the admin's
                secret = [f"HUB_PG_DSN_{name.upper()}", f"HUB_AMQP_URI_{name.upper()}"]
            credentials = {k for k in env if k.startswith(("HUB_PG_DSN", "HUB_AMQP_URI"))}
            if name == "hub-setup":         # (the base's Job names every county service's)
                assert set(secret) <= credentials
            else:
                assert credentials == set(secret), name
            for key in ["HUB_DATA_KEY", "HUB_JWT_SECRET", *credentials]:
                ref = env[key]["valueFrom"]["secretKeyRef"]
                assert ref["name"] in ("hub-secrets", "hub-amqp", "hub-pg"), key
                assert "value" not in env[key]


@pytest.mark.parametrize("overlay", ["county", "province"])
def test_a_daily_backup_cronjob_writes_to_its_volume_without_any_key(rendered, overlay):
    from tooling.cli import main
    docs = rendered[overlay]
    cronjob = of_kind(docs, "CronJob")["hub-backup"]
    minute, hour, *every = cronjob["spec"]["schedule"].split()
    assert minute.isdigit() and hour.isdigit() and every == ["*", "*", "*"]     # daily
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    args = container["args"]
    options = {o for p in main.commands["backup"].params for o in p.opts}
    assert args[0] == "backup" and {a for a in args if a.startswith("--")} <= options
    assert "--dated" in args and int(args[args.index("--keep-days") + 1]) >= 1
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    claim = volumes[mounts[args[1]]]["persistentVolumeClaim"]["claimName"]
    assert claim in of_kind(docs, "PersistentVolumeClaim")
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    env = {e["name"]: e for e in container["env"]}
    assert set(env) == {"HUB_PG_DSN", "HUB_AMQP_ADMIN_URI"}    # no key: a backup holds none
    assert all("secretKeyRef" in e["valueFrom"] for e in env.values())
    config = of_kind(docs, "ConfigMap")
    (name,) = [c["configMapRef"]["name"] for c in container["envFrom"]]
    assert config[name]["data"]["HUB_BACKUP_PUSHGATEWAY"].startswith("http")   # the alert's metric
