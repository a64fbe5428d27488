"""`make province`: a province on this machine, in one command (`hub province-demo start`).

Seven hubs, each a hub as an operator runs one (`hub secrets`, `hub setup`, `hub start` under its
own supervisor), with its own var/ folder (var/province/<code>/: its hub.env, logs and pid files),
databases (prefix pv<code>), RabbitMQ vhost (pv<code>) and ports (HUB_PORT_OFFSET):

    安徽省 340000  the provincial aggregator (HUB_ROLE=province): stats and gateway
      池州市 341700  a prefecture's aggregator (HUB_ROLE=prefecture), forwarding to the province
        东至县 341721, 石台县 341722   county hubs (every service), linked to 池州市
      安庆市 340800  a prefecture's aggregator, forwarding to the province
        太湖县 340825, 宿松县 340826   county hubs, linked to 安庆市

Counties are linked to their prefecture (`hub province link`, run with the prefecture's
settings) and each prefecture to the province (`hub province forward`) before anything starts,
so that the link queues hold every event from the first. Then every county loads a year of demo
work (`hub demo --year`), and the province's and each prefecture's base URL and a viewer token
are printed. `hub province-demo stop` (in `make stop`) stops every hub's supervisor by the pid it
wrote; `--drop` also drops the demo's databases, broker users and vhosts.

Each service's pool is HUB_DB_POOL_SIZE=2 connections: seven hubs then hold
`connections(plan())` of PostgreSQL's 100 (max_connections), leaving room for everything else.
"""
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote, urlsplit, urlunsplit

import click
import psycopg

from hub.broker_admin import BrokerAdmin, BrokerAdminError
from hub.config import REPO_ROOT
from hub.county import load_county
from hub.manifest import data_services, manifest
from tooling.environment import VAR

PROVINCE = ("340000", "安徽省")
# (code, name, county files in deploy/counties/)
PREFECTURES = (
    ("341700", "池州市", ("dongzhi-341721.yaml", "shitai-341722.yaml")),
    ("340800", "安庆市", ("taihu-340825.yaml", "susong-340826.yaml")),
)
COUNTIES = REPO_ROOT / "deploy" / "counties"
FIRST_PORT_OFFSET = 100     # ports 8100…8165: beside `make run`'s hub (8000…)
PORT_STEP = 10
POOL_SIZE = 2               # HUB_DB_POOL_SIZE of every service
CONNECTION_BUDGET = 60      # of PostgreSQL's 100: the rest for tests, operators, `make run`
# the operator's own settings the demo's hubs share (where PostgreSQL is, and how to reach it)
SHARED = ("HUB_PG_DSN", "HUB_PG_SSLMODE", "HUB_PG_SSLROOTCERT", "HUB_PG_SSLCERT", "HUB_PG_SSLKEY",
          "HUB_AMQP_ADMIN_URL")
DEFAULT_AMQP = "amqp://guest:guest@127.0.0.1:5672//"
START_WAIT = 180            # seconds for a hub to answer its health check


def demo_root():
    return VAR / "province"


@dataclass(frozen=True)
class DemoHub:
    """One hub of the demo province and the settings it runs with."""
    code: str
    name: str
    role: str                       # county | prefecture | province
    port_offset: int
    county_file: str = ""           # a county's deploy/counties/ file
    upstream: str = ""              # the code of the aggregator it feeds
    prefectures: tuple = ()         # the province's: ((code, name), …)

    @property
    def prefix(self):
        return f"pv{self.code}"

    @property
    def vhost(self):
        return self.prefix

    @property
    def services(self):
        """The services with a database it runs (and the gateway)."""
        return data_services() if self.role == "county" else ("stats",)

    @property
    def folder(self):
        return demo_root() / self.code

    def amqp_uri(self, base=None):
        """The broker URI of its vhost, with the credentials of `base` (HUB_AMQP_URI)."""
        parts = urlsplit(base or DEFAULT_AMQP)
        return urlunsplit((parts.scheme, parts.netloc, "/" + quote(self.vhost, safe=""), "", ""))

    def api_url(self):
        return f"http://127.0.0.1:{manifest('gateway').port + self.port_offset}/api/v1"

    def settings(self, base_amqp=None):
        """Its variables (var/province/<code>/hub.env, beside the keys `hub secrets` adds)."""
        values = {"HUB_DB_PREFIX": self.prefix, "HUB_AMQP_URI": self.amqp_uri(base_amqp),
                  "HUB_PORT_OFFSET": str(self.port_offset), "HUB_DB_POOL_SIZE": str(POOL_SIZE)}
        if self.role == "county":
            values["COUNTY_CONFIG"] = str(COUNTIES / self.county_file)
        else:
            values.update(HUB_SERVICES="stats", HUB_ROLE=self.role, HUB_PROVINCE_CODE=self.code,
                          HUB_PROVINCE_NAME=self.name)
            if self.prefectures:
                values["HUB_PREFECTURES"] = ",".join(f"{c}={n}" for c, n in self.prefectures)
        return values


def plan():
    """The seven hubs, aggregators first: [DemoHub]."""
    offsets = iter(range(FIRST_PORT_OFFSET, FIRST_PORT_OFFSET + 100 * PORT_STEP, PORT_STEP))
    code, name = PROVINCE
    hubs = [DemoHub(code, name, "province", next(offsets),
                    prefectures=tuple((c, n) for c, n, _ in PREFECTURES))]
    hubs += [DemoHub(c, n, "prefecture", next(offsets), upstream=code)
             for c, n, _ in PREFECTURES]
    for prefecture, _, files in PREFECTURES:
        for file in files:
            county = load_county(COUNTIES / file)
            hubs.append(DemoHub(county.code, county.name, "county", next(offsets),
                                county_file=file, upstream=prefecture))
    return hubs


def connections(hubs, pool=POOL_SIZE):
    """The PostgreSQL connections the hubs' services hold at most."""
    return sum(len(h.services) * pool for h in hubs)


# -- running `hub` as each hub's operator would ---------------------------------------------------
def hub_environment(hub):
    """This process's environment without any hub's settings, pointed at the hub's folder."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("HUB_") or k == "COUNTY_CONFIG") or k in SHARED}
    return {**env, "HUB_VAR_DIR": str(hub.folder)}


def hub_command(hub, *args, check=True):
    """`hub ARGS` for `hub`; its output (ClickException when it fails and `check`)."""
    done = subprocess.run([sys.executable, "-m", "tooling.cli", *args], env=hub_environment(hub),
                          capture_output=True, text=True)
    if check and done.returncode != 0:
        raise click.ClickException(f"{hub.name} ({hub.code}): `hub {' '.join(args)}` failed:\n"
                                   f"{done.stdout}{done.stderr}")
    return done.stdout


def write_settings(hub, base_amqp):
    """The hub's settings into its hub.env, keeping the keys `hub secrets` wrote there."""
    hub.folder.mkdir(parents=True, exist_ok=True)
    env_file = hub.folder / "hub.env"
    values = hub.settings(base_amqp)
    kept = [line for line in (env_file.read_text().splitlines() if env_file.exists() else [])
            if line.split("=", 1)[0].strip() not in values]
    env_file.write_text("\n".join(kept + [f"{k}={v}" for k, v in values.items()]) + "\n")
    env_file.chmod(0o600)


def in_parallel(hubs, args, echo, prefix=True):
    """`hub ARGS` for each hub at once, their output lines echoed as they come; raises
    ClickException naming those that failed."""
    def pump(hub, proc):
        for line in proc.stdout:
            echo(f"  {hub.name}: {line.rstrip()}" if prefix else line.rstrip())
    procs = [(hub, subprocess.Popen([sys.executable, "-m", "tooling.cli", *args],
                                    env=hub_environment(hub), stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, text=True, bufsize=1))
             for hub in hubs]
    readers = [threading.Thread(target=pump, args=pair, daemon=True) for pair in procs]
    for reader in readers:
        reader.start()
    failed = [hub for hub, proc in procs if proc.wait() != 0]
    for reader in readers:
        reader.join()
    if failed:
        names = ", ".join(f"{h.name} ({h.folder / 'log'})" for h in failed)
        raise click.ClickException(f"`hub {' '.join(args)}` failed for {names}")


def check_ports_free(hubs):
    busy = []
    for hub in hubs:
        for service in (*hub.services, "gateway"):
            port = manifest(service).port + hub.port_offset
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    busy.append(f"{port} ({hub.name} {service})")
    if busy:
        raise click.ClickException("ports in use: " + ", ".join(busy) + "; is a province already "
                                   "running (`make stop` stops it) or something else on them?")


def running(hub):
    """The pid of the hub's supervisor if it runs."""
    from tooling import supervisor
    return supervisor.running(hub.folder)


# -- bringing it up -----------------------------------------------------------------------------
def start(echo=click.echo):
    """Bring the province up, load a year of work in every county, print where to look."""
    hubs = plan()
    by_code = {h.code: h for h in hubs}
    up = [h.name for h in hubs if running(h)]
    if up:
        raise click.ClickException(f"already running: {', '.join(up)}; `make stop` first")
    check_ports_free(hubs)
    began = time.monotonic()

    def took():
        return f"({time.monotonic() - began:.0f} s)"
    base_amqp = os.environ.get("HUB_AMQP_URI") or DEFAULT_AMQP
    echo(f"A province of {len(hubs)} hubs in {demo_root()} (ports {8000 + FIRST_PORT_OFFSET}-"
         f"{8000 + hubs[-1].port_offset + 5}; PostgreSQL connections at most "
         f"{connections(hubs)})")
    for hub in hubs:
        try:
            BrokerAdmin.from_amqp_uri(hub.amqp_uri(base_amqp),
                                      os.environ.get("HUB_AMQP_ADMIN_URL")).ensure_vhost()
        except BrokerAdminError as exc:
            raise click.ClickException(f"cannot make the vhost {hub.vhost}: {exc}") from None
        write_settings(hub, base_amqp)
        hub_command(hub, "secrets")
        hub_command(hub, "setup")
        echo(f"  set up {hub.role:10} {hub.name} {hub.code}: databases {hub.prefix}_*, "
             f"vhost {hub.vhost}")
    for hub in hubs:
        upstream = by_code.get(hub.upstream)
        if hub.role == "county":        # the prefecture pulls the county's events
            hub_command(upstream, "province", "link", hub.code, "--amqp-uri",
                        hub.amqp_uri(base_amqp), "--prefix", hub.prefix)
        elif hub.role == "prefecture":  # and pushes what it takes in on to the province
            hub_command(hub, "province", "forward", "--upstream-uri",
                        upstream.amqp_uri(base_amqp), "--upstream-prefix", upstream.prefix)
        if upstream:
            echo(f"  linked {hub.name} → {upstream.name}")
    echo(f"starting every hub (each under its own supervisor)… {took()}")
    in_parallel(hubs, ["start", "--wait", str(START_WAIT)], echo)
    echo(f"loading a year of demo work in every county… {took()}")
    counties = [h for h in hubs if h.role == "county"]
    in_parallel(counties, ["demo", "--year"], echo, prefix=False)
    echo(f"waiting for the prefectures and the province to take in every event… {took()}")
    wait_for_aggregators(hubs, echo)
    tokens = {h.code: hub_command(h, "token", "create", "--role", "province_viewer",
                                  "--subject", "province-demo").strip()
              for h in hubs if h.role != "county"}
    echo(summary(hubs, tokens))
    echo(f"(up in {took()[1:-1]})")


def published(hub):
    """The events a county hub has published (its services' outboxes)."""
    dsn = os.environ.get("HUB_PG_DSN") or "host=127.0.0.1 port=5432 user=postgres"
    total = 0
    for service in hub.services:
        with psycopg.connect(f"{dsn} dbname={hub.prefix}_{service}") as conn:
            total += conn.execute("SELECT count(*) FROM hub_outbox "
                                  "WHERE published_seq IS NOT NULL").fetchone()[0]
    return total


def received(hub):
    dsn = os.environ.get("HUB_PG_DSN") or "host=127.0.0.1 port=5432 user=postgres"
    with psycopg.connect(f"{dsn} dbname={hub.prefix}_stats") as conn:
        return conn.execute("SELECT count(*) FROM stats_received").fetchone()[0]


def wait_for_aggregators(hubs, echo, timeout=120):
    """Until every aggregator holds every event of its counties (or `timeout` seconds)."""
    counties = {h.code: published(h) for h in hubs if h.role == "county"}
    deadline = time.monotonic() + timeout
    for hub in (h for h in hubs if h.role != "county"):
        wanted = sum(n for code, n in counties.items()
                     if hub.role == "province" or code[:4] == hub.code[:4])
        while (have := received(hub)) < wanted and time.monotonic() < deadline:
            time.sleep(1)
        echo(f"  {hub.name}: {have} of its counties' {wanted} events received")


def summary(hubs, tokens):
    year = date.today().year
    lines = ["", f"A province is running on this machine: {hubs[0].name} ({hubs[0].code}), "
             "county → prefecture → province, linked by shovels."]
    for hub in hubs:
        if hub.role == "county":
            continue
        lines += [f"  {hub.name} {hub.code} ({hub.role})",
                  f"    base URL     : {hub.api_url()}",
                  f"    viewer token : {tokens[hub.code]}"]
        if hub.role == "prefecture":
            members = [h for h in hubs if h.upstream == hub.code]
            lines.append("    counties     : " + ", ".join(
                f"{h.name} {h.code} {h.api_url()}" for h in members))
    province, city = hubs[0], hubs[1]
    lines += ["Try:",
              f'  curl -H "Authorization: Bearer {tokens[province.code]}" \\',
              f'    "{province.api_url()}/stats?level=prefecture&code={city.code}&period={year}"',
              f'  curl -H "Authorization: Bearer {tokens[city.code]}" \\',
              f'    "{city.api_url()}/reports/annual?year={year}&code={city.code}"',
              f"Each hub's settings and logs: {demo_root()}/<code>/ (e.g. HUB_VAR_DIR="
              f"{hubs[-1].folder} .venv/bin/hub status).",
              "Stop it all with `make stop`."]
    return "\n".join(lines)


# -- stopping -----------------------------------------------------------------------------------
def stop(drop=False, echo=click.echo):
    """Stop every demo hub's supervisor (and its services); with `drop`, also drop their
    databases, broker users and vhosts, and their folders."""
    hubs = [h for h in plan() if h.folder.is_dir()]
    for hub in hubs:
        if running(hub):
            hub_command(hub, "stop")
            echo(f"{hub.name} ({hub.code}): stopped")
    if not drop:
        return
    for hub in hubs:
        if hub.role == "prefecture":
            hub_command(hub, "province", "unforward", check=False)
        hub_command(hub, "reset", "--force")
        env = dict(line.split("=", 1) for line in (hub.folder / "hub.env").read_text().splitlines()
                   if "=" in line)
        try:
            BrokerAdmin.from_amqp_uri(env["HUB_AMQP_URI"],
                                      os.environ.get("HUB_AMQP_ADMIN_URL")).delete_vhost()
        except BrokerAdminError as exc:
            echo(f"{hub.name}: vhost {hub.vhost} not deleted: {exc}")
        shutil.rmtree(hub.folder)
        echo(f"{hub.name} ({hub.code}): databases, users and vhost {hub.vhost} dropped")
    if demo_root().is_dir() and not any(demo_root().iterdir()):
        demo_root().rmdir()


# -- the commands ------------------------------------------------------------------------------
@click.group("province-demo")
def province_demo_group():
    """A province on this machine: two prefectures of two counties each (`make province`)."""


@province_demo_group.command("start")
def start_command():
    """Set up, link and start the seven hubs, load a year of work in each county, and print
    the province's and each prefecture's base URL and a viewer token."""
    start()


@province_demo_group.command("stop")
@click.option("--drop", is_flag=True, help="also drop their databases, users and vhosts")
def stop_command(drop):
    """Stop every hub of the demo province (`make stop` does)."""
    stop(drop)


@province_demo_group.command("plan")
def plan_command():
    """List the demo province's hubs: role, code, ports, databases, vhost, upstream."""
    hubs = plan()
    for hub in hubs:
        click.echo(f"{hub.role:10} {hub.code} {hub.name:4}  {hub.api_url():32} "
                   f"db {hub.prefix}_*  vhost {hub.vhost}"
                   + (f"  → {hub.upstream}" if hub.upstream else ""))
    click.echo(f"PostgreSQL connections at most: {connections(hubs)} (pool {POOL_SIZE} a service)")
