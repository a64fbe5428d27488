"""The demo hub's supervisor (`hub start`, tooling/supervisor.py), with real processes: a private hub
started by `hub start` in a var directory of its own; one service SIGKILLed is started again
(a new pid answering its health check), the restart counted in `hub status` and logged, and
`hub stop` leaves no process. A service that dies at every start is reported as a crash loop,
its restarts spaced out by the backoff. Services whose supervisor was killed are stopped by
`hub stop`, and `hub start` does not start a second copy beside them."""
import json
import os
import signal
import subprocess
import sys
import uuid

import pytest
import urllib3

from support.hub import cleanup_hub, test_settings, wait_for
from support.processes import ROOT, answers, hub_command
from tooling import supervisor


def process_env(var, **variables):
    return {**os.environ, "HUB_VAR_DIR": str(var), "PYTHONPATH": str(ROOT / "services"),
            **variables}


@pytest.fixture
def private_hub(tmp_path):
    """A private hub's settings and the environment its `hub` commands run with (intake and
    the gateway; var/ under tmp_path): set up, and afterwards stopped and removed."""
    settings = test_settings(prefix=f"sup{uuid.uuid4().hex[:6]}", HUB_SERVICES="intake")
    env = process_env(tmp_path, HUB_DB_PREFIX=settings.db_prefix, HUB_DATA_KEY=settings.data_key,
                      HUB_JWT_SECRET=settings.jwt_secret, HUB_SERVICES="intake",
                      HUB_SERVICE_SECRET=settings.service_secret, HUB_ADMIN_TOKEN="",
                      HUB_PORT_OFFSET=str(settings.port_offset))
    env.pop("COUNTY_CONFIG", None)
    try:
        hub_command(env, "setup")
        yield settings, env, tmp_path
    finally:
        subprocess.run([sys.executable, "-m", "tooling.cli", "stop"], env=env, timeout=120)
        cleanup_hub(settings)


def test_a_killed_service_is_started_again_counted_and_logged(private_hub):
    settings, env, var = private_hub
    started = hub_command(env, "start", "--wait", "60")
    assert "supervisor: started" in started and "intake: started" in started
    sup = supervisor.running(var)
    killed = supervisor.live_pid(supervisor.pid_file(var, "intake"))
    assert sup and killed

    os.kill(killed, signal.SIGKILL)
    http = urllib3.PoolManager(retries=False)

    def restarted():
        pid = supervisor.live_pid(supervisor.pid_file(var, "intake"))
        ready = answers(http, settings.service_url("intake") + "/health/ready")
        return pid if pid not in (None, killed) and ready else None
    new_pid = wait_for(restarted, timeout=30, interval=0.2)

    status = hub_command(env, "status")
    print("\n" + status)
    intake = next(line for line in status.splitlines() if line.startswith("intake "))
    assert f"running, pid {new_pid}" in intake
    assert "restarts 1" in intake and "killed by SIGKILL" in intake
    assert f"supervisor running, pid {sup}" in status and "hub: ready" in status
    log = supervisor.log_file(var, "supervisor").read_text()
    assert f"intake (pid {killed}) exited unexpectedly: killed by SIGKILL" in log
    assert f"intake started (pid {new_pid}, restart 1)" in log

    stopped = hub_command(env, "stop")
    assert f"supervisor: stopped (pid {sup})" in stopped and "intake: stopped" in stopped
    gateway = json.loads(supervisor.state_file(var).read_text())["services"]["gateway"]
    assert gateway["restarts"] == 0         # stopped when asked, not restarted
    for pid in (sup, new_pid, killed):
        assert not supervisor.is_hub_process(pid)
    assert not list((var / "run").glob("*.pid"))
    assert "restarting none" in supervisor.log_file(var, "supervisor").read_text()


def test_services_left_by_a_killed_supervisor_are_stopped_not_doubled(private_hub):
    _, env, var = private_hub
    hub_command(env, "start", "--wait", "60")
    sup = supervisor.running(var)
    services = [supervisor.live_pid(supervisor.pid_file(var, n)) for n in ("intake", "gateway")]
    os.kill(sup, signal.SIGKILL)
    wait_for(lambda: not supervisor.is_hub_process(sup), timeout=10)

    assert "supervisor NOT running" in hub_command(env, "status")
    assert "already running without a supervisor" in hub_command(env, "start", returncode=1)
    stopped = hub_command(env, "stop")
    assert "intake: stopped" in stopped and "gateway: stopped" in stopped
    assert not any(supervisor.is_hub_process(pid) for pid in services)
    assert not list((var / "run").glob("*.pid"))


DIES_AT_START = "raise SystemExit(3)"
SUPERVISE_ONE = ("import sys; from tooling.supervisor import Supervisor; "
                 "Supervisor(['intake'], sys.argv[1], "
                 "command=lambda name: [sys.executable, '-c', sys.argv[2]]).run()")


def test_a_service_dying_at_every_start_is_a_crash_loop_not_a_tight_loop(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SUPERVISE_ONE, str(tmp_path), DIES_AT_START],
                            env=process_env(tmp_path))
    try:
        def crash_loop():
            try:
                state = json.loads(supervisor.state_file(tmp_path).read_text())
            except (OSError, ValueError):
                return None
            entry = state["services"]["intake"]
            return entry if entry["state"] == "crash loop" else None
        entry = wait_for(crash_loop, timeout=20, interval=0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert entry["last_exit"]["reason"] == "exit code 3"
    assert entry["restarts"] == supervisor.CRASH_LOOP_RUNS - 1
    assert entry["next_start"] > entry["last_exit"]["at"]      # waits: 1 s, 2 s, then 4 s
    assert "runs in a row ended within" in supervisor.status_line(entry)
    log = supervisor.log_file(tmp_path, "supervisor").read_text()
    assert "intake is in a crash loop: 3 runs in a row" in log
    assert "restarting in 4 s" in log
    assert not supervisor.pid_file(tmp_path, "supervisor").exists()
