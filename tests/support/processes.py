"""Hub services as real `hub serve` processes (one per service, as in production), and nginx as
their front door, for the benchmarks that must not share one Python process with the load they
measure and for the deployment tests."""
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import urllib3

from support.hub import wait_for
from tooling.privileges import provision

ROOT = Path(__file__).resolve().parents[2]


def hub_command(env, *args, returncode=0):
    """`hub ARGS…` as its own process (as `make run` runs it): its output and errors."""
    result = subprocess.run([sys.executable, "-m", "tooling.cli", *args], env=env, text=True,
                            capture_output=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == returncode, f"hub {' '.join(args)}:\n{output}"
    return output


def answers(http, url):
    """Whether `url` answers 200 now (False while nothing listens or it errs)."""
    try:
        return http.request("GET", url, timeout=2).status == 200
    except urllib3.exceptions.HTTPError:
        return False


@contextmanager
def served(settings, data_services, *, gateway=True):
    """Run `data_services` (and the gateway) as processes until the block ends; yields them
    in that order once each answers its health check. Logs go to var/log/bench-<name>.log."""
    env = {**os.environ, "HUB_DB_PREFIX": settings.db_prefix, "HUB_DATA_KEY": settings.data_key,
           "HUB_JWT_SECRET": settings.jwt_secret, "HUB_PORT_OFFSET": str(settings.port_offset),
           "HUB_SERVICE_SECRET": settings.service_secret,
           "HUB_SERVICES": ",".join(data_services), "PYTHONPATH": str(ROOT / "services")}
    provision(settings, data_services)      # each service's own users, as `hub setup` makes them
    names = [*data_services, *(["gateway"] if gateway else [])]
    logs = ROOT / "var" / "log"
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    try:
        for name in names:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "tooling.cli", "serve", name], env=env,
                stdout=open(logs / f"bench-{name}.log", "wb"), stderr=subprocess.STDOUT))
        http = urllib3.PoolManager(retries=False)

        def healthy(name):
            path = "/health/live" if name == "gateway" else "/health/ready"
            return answers(http, settings.service_url(name) + path)
        wait_for(lambda: all(healthy(n) for n in names), timeout=60, interval=0.5)
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()


def nginx_main_config(run, include):
    """A whole nginx configuration, in the foreground with its files under `run`, serving the
    server block(s) of the file `include`."""
    return (f"daemon off;\nmaster_process off;\npid {run}/nginx.pid;\nerror_log {run}/error.log;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n    access_log off;\n    client_body_temp_path {run};\n"
            f"    proxy_temp_path {run};\n    include {include};\n}}\n")


@contextmanager
def front_door(settings, port):
    """nginx with the hub's front-door configuration (tooling/front.py) on 127.0.0.1:`port`, as one
    foreground process of this one (its CPU can be read from /proc) until the block ends."""
    from tooling.front import nginx_config
    run = ROOT / "var" / "run" / f"front-{os.getpid()}"
    run.mkdir(parents=True, exist_ok=True)
    (run / "front.conf").write_text(nginx_config(settings, f"127.0.0.1:{port}"))
    (run / "nginx.conf").write_text(nginx_main_config(run, run / "front.conf"))
    proc = subprocess.Popen(["nginx", "-c", str(run / "nginx.conf"), "-p", str(run)])
    http = urllib3.PoolManager(retries=False)
    try:
        wait_for(lambda: answers(http, f"http://127.0.0.1:{port}/api/v1/health"), timeout=30,
                 interval=0.2)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
