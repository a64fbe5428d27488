"""The front door (tooling/front.py): nginx accepts what `hub front-config` renders (deploy/nginx/,
kept current by `hub deploy render`: test_deploy_render.py) and serves a running hub through
it, and the compose file and the Kubernetes Ingress route every API path as the gateway does."""
import subprocess
from dataclasses import replace

import requests
import yaml
from deploy_support import DEPLOY, REPO, need, render_kustomize

from hub.auth import issue_token
from hub.config import Settings
from hub.manifest import manifest, path_owners
from support.processes import front_door, nginx_main_config
from tooling.front import LOGIN_BURST, nginx_config


def test_every_api_path_goes_to_its_owner_and_the_rest_of_the_api_to_the_gateway():
    config = nginx_config(Settings.from_env({}), "80")
    for segment, owner in path_owners().items():
        location = next(line for line in config.splitlines()
                        if line.strip().startswith("location ~") and f"{segment}|" in
                        line.replace("(", "|").replace(")", "|"))
        following = config[config.index(location):].splitlines()[1]
        assert following.strip() == f"proxy_pass http://hub_{owner};", segment
    assert "location /api/ {\n        proxy_pass http://hub_gateway;" in config


def nginx_test(tmp_path, server_file):
    """`nginx -t` on a whole configuration serving `server_file`."""
    main = tmp_path / "nginx.conf"
    main.write_text(nginx_main_config(tmp_path, server_file))
    return subprocess.run([need("nginx"), "-t", "-c", str(main), "-p", str(tmp_path)],
                          capture_output=True, text=True)


def test_nginx_accepts_the_configuration(tmp_path):
    result = nginx_test(tmp_path, DEPLOY / "nginx" / "shegong-hub.conf")
    assert result.returncode == 0, result.stderr


def test_nginx_refuses_a_broken_configuration(tmp_path):
    broken = tmp_path / "broken.conf"
    broken.write_text("server { location / { proxy_pass; } }\n")
    assert nginx_test(tmp_path, broken).returncode != 0


def test_compose_publishes_the_front_door_and_mounts_its_configuration():
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    front = services["front"]
    assert front["ports"] == ["8000:8080"]
    assert front["volumes"] == ["./deploy/nginx/compose.conf:/etc/nginx/conf.d/default.conf:ro"]
    assert "ports" not in services["gateway"]       # reached through the front door only
    assert front["read_only"] is True and front["cap_drop"] == ["ALL"]


def test_the_kubernetes_ingress_routes_as_the_gateway_does():
    docs = render_kustomize(DEPLOY / "kubernetes" / "overlays" / "county")
    ingress = next(d for d in docs if d["kind"] == "Ingress")
    routes = {p["path"]: (p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
              for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    expected = {f"/api/v1/{segment}": (owner, manifest(owner).port)
                for segment, owner in path_owners().items()}
    for rest in ("/api/", "/console/", "/"):        # the rest of the API, and the console
        expected[rest] = ("gateway", manifest("gateway").port)
    assert routes == expected
    assert {p["path"]: p["pathType"] for p in ingress["spec"]["rules"][0]["http"]["paths"]
            if p["pathType"] != "Prefix"} == {"/": "Exact"}


def test_a_running_hub_answers_through_the_front_door(hub_processes):
    """nginx with the rendered configuration in front of real `hub serve` processes (nothing
    here makes a client: the hub's other tests count its client events)."""
    hub = hub_processes
    port = hub.settings.port("gateway") + 37
    with front_door(hub.settings, port):
        api = f"http://127.0.0.1:{port}/api/v1"
        admin = {"Authorization": "Bearer " + issue_token(hub.settings, "front-test",
                                                          "county_admin")}
        made = requests.post(api + "/providers", headers=admin, timeout=30, json={
            "name": "县慈善总会", "kind": "social_organisation",
            "five_society": "social_organisation"})
        assert made.status_code == 201, made.text
        assert requests.get(api + "/health", timeout=10).json()["status"] == "ready"
        missing = requests.get(api + "/no-such-thing", headers=admin, timeout=10)
        assert missing.status_code == 404 and "openapi.json" in missing.json()["error"]["message"]
        outside = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert outside.status_code == 404 and outside.json()["error"]["code"] == "not_found"
        console = requests.get(f"http://127.0.0.1:{port}/", timeout=10)     # the gateway's
        assert console.status_code == 200 and "/console/js/app.js" in console.text
        vocabulary = requests.get(f"http://127.0.0.1:{port}/console/vocabulary.json", timeout=10)
        assert vocabulary.json()["county"]["code"] == hub.settings.county.code
        # a refused call is audited with the address nginx saw, not the one the caller claimed
        refused = requests.get(api + "/clients", timeout=10, headers={
            "Authorization": "Bearer not-a-token", "X-Forwarded-For": "203.0.113.9"})
        assert refused.status_code == 401
        auditor = {"Authorization": "Bearer " + issue_token(hub.settings, "front-test", "auditor")}
        trail = requests.get(api + "/audit", headers=auditor, timeout=10).json()["items"]
    newest_refusal = next(e for e in trail if e["action"] == "auth.refused")
    assert newest_refusal["address"].startswith("127.0.0.1 via ")
    assert not any("203.0.113.9" in e["address"] for e in trail)


def test_logins_from_one_address_are_limited_at_the_front_door(hub_processes):
    """Accounts locks an account after five failures; guesses spread over many usernames are
    held back by the front door, per address, in the hub's error shape."""
    hub = hub_processes
    port = hub.settings.port("gateway") + 36
    with front_door(hub.settings, port):
        api = f"http://127.0.0.1:{port}/api/v1"
        answers = [requests.post(api + "/session", timeout=30, json={
            "username": f"guess{n}", "password": "not the password"}) for n in range(48)]
        other = [requests.get(api + "/session", timeout=10),         # who am I: not a login
                 requests.post(api + "/session/refresh", json={"refresh_token": "x" * 40},
                               timeout=10)]
    statuses = [a.status_code for a in answers]
    assert set(statuses[:LOGIN_BURST]) == {401}, statuses       # accounts' own answer
    held = [a for a in answers if a.status_code == 429]
    assert len(held) >= 48 - LOGIN_BURST - 2, statuses          # (a few more may be let through)
    assert held[0].json()["error"]["code"] == "too_many_logins"
    assert held[0].headers["Retry-After"] == "60"
    assert 429 not in [a.status_code for a in other]


def test_a_service_that_is_down_answers_in_the_hubs_shape(hub_processes):
    hub = hub_processes
    port = hub.settings.port("gateway") + 38
    down = replace(hub.settings, service_urls={**hub.settings.service_urls,
                                               "stats": "http://127.0.0.1:9"})
    with front_door(down, port):
        response = requests.get(f"http://127.0.0.1:{port}/api/v1/stats?level=county", timeout=10)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "unavailable"
