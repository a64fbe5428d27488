"""docker-compose.yml: valid by the Compose Specification's JSON schema, and a complete hub."""
import re
import subprocess
import sys
from pathlib import Path

import yaml

from deploy_support import REPO
from hub.manifest import data_services, manifest, manifests, path_owners
from tooling.deploy.roles import province_services

COMPOSE = REPO / "docker-compose.yml"
# check-jsonschema ships the Compose Specification schema (compose-spec/compose-spec,
# schema/compose-spec.json) among its vendored schemas: `--builtin-schema vendor.compose-spec`
CHECK = [str(Path(sys.executable).parent / "check-jsonschema"), "--builtin-schema",
         "vendor.compose-spec"]


def compose():
    return yaml.safe_load(COMPOSE.read_text())


def test_the_compose_file_matches_the_compose_specification():
    result = subprocess.run([*CHECK, str(COMPOSE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "compose.yml"
    broken.write_text("services:\n  intake:\n    image: x\n    ports: 8001\n")
    result = subprocess.run([*CHECK, str(broken)], capture_output=True, text=True)
    assert result.returncode != 0 and "ports" in result.stdout + result.stderr


def test_every_service_runs_with_the_setup_job_first():
    services = compose()["services"]
    for name in manifests():
        assert services[name]["command"] == ["serve", name]
        assert services[name]["depends_on"]["setup"] == {
            "condition": "service_completed_successfully"}
    assert services["setup"]["command"] == ["setup"]
    assert services["setup"]["restart"] == "no"
    for infra in ("postgres", "rabbitmq"):
        assert services["setup"]["depends_on"][infra] == {"condition": "service_healthy"}


def test_the_gateway_finds_every_upstream():
    gateway = compose()["services"]["gateway"]      # behind the front door (test_deploy_front)
    for upstream in set(path_owners().values()):
        assert gateway["environment"][f"HUB_URL_{upstream.upper()}"] == \
            f"http://{upstream}:{manifest(upstream).port}"


def broker_uri_pattern(role):
    user = rf"county-\$\{{HUB_COUNTY:-341721\}}-{role}"
    return rf"amqp://{user}:\$\{{HUB_AMQP_PASSWORD_{role.upper()}:\?"


def test_each_service_uses_its_own_users_and_port_and_only_setup_the_admins():
    services = compose()["services"]
    setup = services["setup"]["environment"]
    assert re.match(broker_uri_pattern("setup"), setup["HUB_AMQP_URI"])
    assert "user=hub password=${HUB_PG_PASSWORD:?" in setup["HUB_PG_DSN"]     # the admin
    for name in manifests():
        env = services[name]["environment"]
        assert "HUB_PG_DSN" not in env and "HUB_AMQP_URI" not in env, name   # no admin
        own = {k for k in env if k.startswith(("HUB_PG_DSN_", "HUB_AMQP_URI_"))}
        if name == "gateway":               # it needs no database and no broker
            assert not own
            continue
        assert own == {f"HUB_PG_DSN_{name.upper()}", f"HUB_AMQP_URI_{name.upper()}"}, name
        assert re.match(broker_uri_pattern(name), env[f"HUB_AMQP_URI_{name.upper()}"])
        assert f"user=hub_{name} password=${{HUB_PG_PASSWORD_{name.upper()}:?" in \
            env[f"HUB_PG_DSN_{name.upper()}"]
        for key in own:                     # the set-up job makes the roles with the same
            assert setup[key] == env[key]   # and leaves the definitions' broker users alone
        check = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{manifest(name).port}/health/" in check
    assert {k for k in setup if k.startswith(("HUB_PG_DSN_", "HUB_AMQP_URI_"))} == \
        {f"{v}_{n.upper()}" for v in ("HUB_PG_DSN", "HUB_AMQP_URI") for n in data_services()}


def test_configuration_comes_from_the_environment_and_holds_no_secret():
    for name, service in compose()["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|KEY", key) or "password=" in str(value):
                assert "${" in str(value), f"{name}: {key} is written in the file"


def test_the_hub_containers_are_locked_down():
    for name in (*manifests(), "setup", "province"):
        service = compose()["services"][name]
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]
        assert "user" not in service   # the image's own non-root user (Dockerfile: USER 10001)


def test_the_province_profile_holds_the_aggregator_placeholder_and_the_link():
    services = compose()["services"]
    assert services["province"]["profiles"] == ["province"]
    assert services["province"]["command"] == ["serve", *province_services()]
    assert services["province"]["environment"]["HUB_SERVICES"] == ",".join(province_services())
    assert services["province"]["image"] == services["intake"]["image"]
    assert services["province-rabbitmq"]["profiles"] == ["province"]
    assert "--county" in services["province-definitions"]["command"]
    # a county alone starts without the province's passwords
    for key, value in services["province-definitions"]["environment"].items():
        assert ":-}" in value, key
