"""The demo hub's supervisor: keeps `make run`'s services up, as systemd (Restart=) and
Kubernetes do in production.

`hub start` runs it detached (`hub supervise SERVICE…`). It runs each service as a
`hub serve SERVICE` process (log: var/log/SERVICE.log, pid: var/run/SERVICE.pid) and waits on
them. A service that exits without being asked to (a crash, a signal, even exit code 0) is
started again after a backoff: 1 s, doubling up to 30 s, back to 1 s after a run of 30 s or
more. Three short runs in a row are a crash loop: said in the log and in `hub status`, and
retried no faster than the backoff allows. Every start, exit and restart is logged to
var/log/supervisor.log with the exit code or signal; the state (per service: pid, state,
restarts, last exit) is written atomically to var/run/supervisor.json, which `hub status`
reads. SIGTERM or SIGINT (`hub stop`) stops the services (SIGTERM, then SIGKILL after a grace
period), restarts none, and ends the supervisor. Pure standard library, one process.
"""
import json
import logging
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hub.manifest import manifests
from hub.runner import STOP_GRACE_SECONDS

BACKOFF_FIRST, BACKOFF_CAP = 1.0, 30.0  # seconds before a restart: doubling, up to the cap
STABLE_SECONDS = 30.0       # a run at least this long was no crash at start: backoff reset
CRASH_LOOP_RUNS = 3         # this many short runs in a row is a crash loop
STOP_GRACE = STOP_GRACE_SECONDS + 5     # a service finishes its work in hand, then SIGKILL
POLL_SECONDS = 0.2

log = logging.getLogger("tooling.supervisor")


class SupervisorError(Exception):
    """The supervisor cannot start; the message says what to do."""


def run_dir(var):
    return Path(var) / "run"


def log_file(var, name):
    return Path(var) / "log" / f"{name}.log"


def pid_file(var, name):
    """var/run/NAME.pid: a service's process (written by the supervisor), or the supervisor's."""
    return run_dir(var) / f"{name}.pid"


def state_file(var):
    return run_dir(var) / "supervisor.json"


def is_hub_process(pid):
    """Whether `pid` is a live `hub …` process (not a zombie, not a reused pid)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        return b"tooling.cli" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return not Path("/proc/self").exists()      # no /proc (not Linux): trust kill(0)
    except OSError:
        return False


def live_pid(path):
    """The pid in the pid file `path` if that process is a live hub process, else None."""
    try:
        pid = int(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return pid if is_hub_process(pid) else None


def running(var):
    """The running supervisor's pid, or None."""
    return live_pid(pid_file(var, "supervisor"))


def read_state(var):
    """What the running supervisor last wrote (services: pid, state, restarts, last exit), or None."""
    if running(var) is None:
        return None
    try:
        return json.loads(state_file(var).read_text())
    except (OSError, ValueError):
        return None


def terminate(pids, grace, alive):
    """SIGTERM each of `pids`; SIGKILL those still `alive(pid)` after `grace` seconds. Returns
    the pids that had to be killed."""
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    killed = [p for p in pids if alive(p)]
    for pid in killed:
        _signal(pid, signal.SIGKILL)
    return killed


def _signal(pid, sig):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def exit_reason(returncode):
    if returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit code {returncode}"


def now_iso(seconds_ahead=0.0):
    moment = datetime.now(timezone.utc) + timedelta(seconds=seconds_ahead)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def serve_command(name):
    return [sys.executable, "-m", "tooling.cli", "serve", name]


class Child:
    """One supervised service: its process (None while it waits to be started again)."""

    def __init__(self, name):
        self.name = name
        self.proc = None
        self.started = 0.0          # monotonic time of the current run's start
        self.since = None
        self.restarts = 0
        self.last_exit = None
        self.short_runs = 0         # runs in a row shorter than STABLE_SECONDS
        self.backoff = BACKOFF_FIRST
        self.next_start = 0.0       # monotonic; when proc is None
        self.next_start_at = None

    def state(self):
        if self.proc is not None:
            status = "running"
        elif self.short_runs >= CRASH_LOOP_RUNS:
            status = "crash loop"
        else:
            status = "restarting"
        return {"state": status, "pid": self.proc.pid if self.proc else None, "since": self.since,
                "restarts": self.restarts, "last_exit": self.last_exit,
                "short_runs": self.short_runs,
                "next_start": None if self.proc else self.next_start_at}


class Supervisor:
    """Runs `services` under `var` (var/run, var/log) until SIGTERM or SIGINT."""

    def __init__(self, services, var, command=serve_command):
        unknown = [n for n in services if n not in manifests()]
        if unknown:
            raise SupervisorError(f"unknown service(s) {unknown}; known: {', '.join(manifests())}")
        self.var = Path(var)
        self.command = command
        self.children = [Child(name) for name in services]
        self.stopping = False
        self.since = now_iso()

    # -- the loop -------------------------------------------------------------
    def run(self):
        check_can_start(self.var, [c.name for c in self.children])
        run_dir(self.var).mkdir(parents=True, exist_ok=True)
        log_file(self.var, "supervisor").parent.mkdir(parents=True, exist_ok=True)
        self._log_to_file()
        signal.signal(signal.SIGTERM, self._stop_requested)
        signal.signal(signal.SIGINT, self._stop_requested)
        pid_file(self.var, "supervisor").write_text(str(os.getpid()))
        log.info("supervisor started (pid %s) for %s", os.getpid(),
                 ", ".join(c.name for c in self.children))
        try:
            for child in self.children:
                self._start(child)
            self._write_state()
            while not self.stopping:
                self._tick()
                time.sleep(POLL_SECONDS)
        except Exception:
            log.exception("the supervisor failed: stopping the services (`hub start` starts "
                          "them again)")
            raise
        finally:
            self._stop_all()
            pid_file(self.var, "supervisor").unlink(missing_ok=True)
            log.info("supervisor stopped")

    def _stop_requested(self, signum, _frame):
        if not self.stopping:
            log.info("%s received: stopping the services, restarting none",
                     signal.Signals(signum).name)
        self.stopping = True

    def _tick(self):
        changed = False
        for child in self.children:
            if child.proc is not None and child.proc.poll() is not None:
                self._exited(child)
                changed = True
            elif child.proc is None and time.monotonic() >= child.next_start:
                child.restarts += 1
                self._start(child)
                changed = True
        if changed:
            self._write_state()

    def _start(self, child):
        out = open(log_file(self.var, child.name), "ab")
        try:
            child.proc = subprocess.Popen(self.command(child.name), stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        except OSError as exc:
            log.error("%s could not be started: %s", child.name, exc)
            self._schedule_restart(child, f"could not start: {exc}", ran=0.0)
            return
        finally:
            out.close()
        child.started, child.since = time.monotonic(), now_iso()
        pid_file(self.var, child.name).write_text(str(child.proc.pid))
        again = f", restart {child.restarts}" if child.restarts else ""
        log.info("%s started (pid %s%s), log %s", child.name, child.proc.pid, again,
                 log_file(self.var, child.name))

    def _exited(self, child):
        pid, reason = child.proc.pid, exit_reason(child.proc.returncode)
        ran = time.monotonic() - child.started
        child.proc = None
        pid_file(self.var, child.name).unlink(missing_ok=True)
        self._schedule_restart(child, reason, ran, pid)

    def _schedule_restart(self, child, reason, ran, pid=None):
        child.last_exit = {"reason": reason, "at": now_iso(), "pid": pid,
                           "ran_seconds": round(ran, 1)}
        if ran >= STABLE_SECONDS:
            child.short_runs, child.backoff = 0, BACKOFF_FIRST
        else:
            child.short_runs += 1
        delay, child.backoff = child.backoff, min(child.backoff * 2, BACKOFF_CAP)
        child.next_start = time.monotonic() + delay
        child.next_start_at = now_iso(delay)
        log.warning("%s (pid %s) exited unexpectedly: %s after %.1f s; restarting in %.0f s",
                    child.name, pid, reason, ran, delay)
        if child.short_runs >= CRASH_LOOP_RUNS:
            log.error("%s is in a crash loop: %s runs in a row ended within %.0f s of starting "
                      "(last: %s). It is tried again after a growing wait (up to %.0f s); see %s "
                      "for why it stops, fix that (`hub setup`? PostgreSQL and RabbitMQ up?) and "
                      "it comes up by itself",
                      child.name, child.short_runs, STABLE_SECONDS, reason, BACKOFF_CAP,
                      log_file(self.var, child.name))

    def _stop_all(self):
        live = {c.proc.pid: c for c in self.children if c.proc is not None}
        for pid, child in live.items():
            log.info("stopping %s (pid %s): SIGTERM", child.name, pid)
        killed = terminate(list(live), STOP_GRACE, lambda pid: live[pid].proc.poll() is None)
        for pid, child in live.items():
            code = child.proc.wait()
            how = f"not stopped after {STOP_GRACE} s: SIGKILL" if pid in killed else "stopped"
            log.info("%s (pid %s) %s, %s", child.name, pid, how, exit_reason(code))
            child.proc = None
            pid_file(self.var, child.name).unlink(missing_ok=True)
        self._write_state(stopped=True)

    # -- state and log ----------------------------------------------------------
    def _write_state(self, stopped=False):
        services = {c.name: c.state() for c in self.children}
        if stopped:
            for entry in services.values():
                entry.update(state="stopped", pid=None, next_start=None)
        state = {"pid": os.getpid(), "since": self.since, "updated": now_iso(),
                 "services": services}
        path = state_file(self.var)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(state, indent=1))
        os.replace(tmp, path)

    def _log_to_file(self):
        handler = logging.FileHandler(log_file(self.var, "supervisor"))
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s supervisor: %(message)s"))
        log.addHandler(handler)
        if sys.stderr.isatty():     # `hub supervise` in a terminal: there too
            log.addHandler(logging.StreamHandler())
        log.setLevel(logging.INFO)
        log.propagate = False


def check_can_start(var, services):
    """Refuse to start a supervisor beside another, or a service already running without one
    (two processes would share its port: nameko binds with SO_REUSEPORT)."""
    pid = running(var)
    if pid:
        raise SupervisorError(f"a supervisor already runs (pid {pid}); `hub stop` stops it")
    strays = {n: live_pid(pid_file(var, n)) for n in services}
    strays = {n: p for n, p in strays.items() if p}
    if strays:
        listed = ", ".join(f"{n} (pid {p})" for n, p in strays.items())
        raise SupervisorError(f"{listed} already running without a supervisor: run `hub stop` "
                              "first, then `hub start`")


def status_line(entry):
    """What `hub status` says of a service beside its pid: restarts, last exit, crash loop."""
    parts = []
    if entry["state"] == "crash loop":
        parts.append(f"{entry['short_runs']} runs in a row ended within {STABLE_SECONDS:.0f} s "
                     "of starting (its log says why)")
    if entry["state"] != "running" and entry.get("next_start"):
        parts.append(f"next start {entry['next_start']}")
    if entry["state"] == "running" and entry.get("since"):
        parts.append(f"up since {entry['since']}")
    parts.append(f"restarts {entry['restarts']}")
    if entry.get("last_exit"):
        parts.append(f"last exit {entry['last_exit']['at']}: {entry['last_exit']['reason']}")
    return ", ".join(parts)
