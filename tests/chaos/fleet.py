"""The hubs under test as production runs them, and the faults done to them.

A `Hub` is one hub's settings with its `hub serve` processes, one per service, which can be
SIGKILLed and started again. `Faults` stops and starts this machine's RabbitMQ, restarts its
PostgreSQL, and cuts and heals a county's link to its prefecture and the prefecture's to the
province; each returns once the fault is over (the broker or database answers again), so the
harness can time convergence from the last.
"""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import urllib3

from hub import topology
from hub.migrate import migrate
from stats import province
from tooling import privileges

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "var" / "log"


def wait_until(predicate, timeout, interval=0.2, what="the condition"):
    """Poll until predicate() is truthy and return its value; raise after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = predicate()
        except Exception:       # a broker or database still coming back
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached within {timeout}s")
        time.sleep(interval)


class Hub:
    """One hub (a county's, or an aggregator: a prefecture's, the province's) as real `hub serve`
    processes."""

    def __init__(self, name, settings, services, extra_env=None):
        self.name = name
        self.settings = settings
        self.services = list(services)             # data services, then the gateway if any
        self.extra_env = extra_env or {}
        self.procs = {}
        self.http = urllib3.PoolManager(retries=False)
        self.exits = []                 # (service, exit code) of processes that ended by themselves
        self.watching = threading.Event()
        self.lock = threading.Lock()    # a kill and the watch never both start a service

    @property
    def data_services(self):
        return [s for s in self.services if s != "gateway"]

    def env(self):
        s = self.settings
        return {**os.environ, "HUB_DB_PREFIX": s.db_prefix, "HUB_DATA_KEY": s.data_key,
                "HUB_JWT_SECRET": s.jwt_secret, "HUB_SERVICE_SECRET": s.service_secret,
                "HUB_PORT_OFFSET": str(s.port_offset), "HUB_AMQP_URI": s.amqp_uri,
                "HUB_SERVICES": ",".join(self.data_services),
                "PYTHONPATH": str(ROOT / "services"), **self.extra_env}

    def set_up(self):
        """Databases, migrations, the services' own users and the broker's queues: `hub setup`."""
        for service in self.data_services:
            migrate(self.settings, service)
        privileges.provision(self.settings, self.data_services)
        with self.settings.broker_connection(connect_timeout=5) as conn:
            topology.declare(self.settings, conn.default_channel)

    def start(self, service):
        LOGS.mkdir(parents=True, exist_ok=True)
        log = open(LOGS / f"chaos-{self.name}-{service}.log", "ab")
        self.procs[service] = subprocess.Popen(
            [sys.executable, "-m", "tooling.cli", "serve", service], env=self.env(), stdout=log,
            stderr=subprocess.STDOUT)

    def start_all(self):
        for service in self.services:
            self.start(service)
        wait_until(lambda: all(self.healthy(s) for s in self.services), 90,
                   what=f"{self.name} hub ready")
        self.watching.set()
        threading.Thread(target=self._restart_exited, daemon=True).start()

    def _restart_exited(self):
        """As systemd's Restart=on-failure: a process that ends by itself is started again."""
        while self.watching.is_set():
            with self.lock:
                for service, proc in list(self.procs.items()):
                    if proc.poll() is not None and self.watching.is_set():
                        self.exits.append((service, proc.returncode))
                        self.start(service)
            time.sleep(0.5)

    def kill(self, service):
        """SIGKILL the service's process (no clean-up of any kind), then start it again."""
        with self.lock:
            proc = self.procs[service]
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            self.start(service)

    def healthy(self, service):
        path = "/health/live" if service == "gateway" else "/health/ready"
        try:
            return self.http.request("GET", self.settings.service_url(service) + path,
                                     timeout=2).status == 200
        except urllib3.exceptions.HTTPError:
            return False

    def stop_all(self):
        with self.lock:
            self.watching.clear()
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()

    def db(self, service):
        return psycopg.connect(self.settings.database_dsn(service), autocommit=True,
                               connect_timeout=5)

    def hub_command(self, *args):
        """Run an operator's `hub` command on this hub; (exit code, output)."""
        done = subprocess.run([sys.executable, "-m", "tooling.cli", *args], env=self.env(),
                              capture_output=True, text=True, timeout=300)
        return done.returncode, done.stdout + done.stderr


def rabbitmqctl(*args, timeout=120):
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=timeout)


class Faults:
    """What is done to the machine's broker and database, and to the links: the county's to its
    prefecture's aggregator, and the prefecture's on to the province."""

    def __init__(self, county, city, province_hub, county_code, pause=3.0):
        self.county = county
        self.city = city
        self.province = province_hub
        self.county_code = county_code
        self.pause = pause          # how long a stopped broker or a cut link stays so

    @staticmethod
    def missing_tools():
        """The commands the faults need that this machine lacks."""
        return [c for c in ("rabbitmqctl", "pg_ctlcluster") if shutil.which(c) is None]

    def broker_stop_start(self):
        rabbitmqctl("stop_app")
        try:
            time.sleep(self.pause)
        finally:
            rabbitmqctl("start_app")
            rabbitmqctl("await_startup")

    def postgres_restart(self):
        version = sorted(os.listdir("/etc/postgresql"))[-1]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
                       check=True, capture_output=True, timeout=120)
        wait_until(lambda: psycopg.connect(f"{self.county.settings.pg_dsn} dbname=postgres",
                                           connect_timeout=2).close() or True, 60,
                   what="PostgreSQL back")

    def link(self):
        """County -> prefecture, and prefecture -> province."""
        c, m, p = self.county.settings, self.city.settings, self.province.settings
        province.link(self.county_code, c.amqp_uri, c.db_prefix, m.amqp_uri, m.db_prefix)
        province.forward(m.amqp_uri, m.db_prefix, p.amqp_uri, p.db_prefix)

    def unlink(self):
        province.unlink(self.county_code, self.city.settings.amqp_uri)
        province.unforward(self.city.settings.amqp_uri)

    def link_cut_and_heal(self):
        """The county's link to the prefecture cut, then made again."""
        province.unlink(self.county_code, self.city.settings.amqp_uri)
        time.sleep(self.pause)
        self.link()

    def forward_cut_and_heal(self):
        """The prefecture's link to the province cut, then made again."""
        province.unforward(self.city.settings.amqp_uri)
        time.sleep(self.pause)
        self.link()
