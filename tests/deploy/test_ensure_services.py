"""scripts/ensure-services.sh, which `make run` and `make test` call first: what it decides on a
machine without PostgreSQL or RabbitMQ, checked with its functions in a fake machine (a PATH of
stand-in commands, ports nothing listens on), so that nothing here installs, starts or stops
anything."""
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from deploy_support import REPO

SCRIPT = REPO / "scripts" / "ensure-services.sh"
BASH = shutil.which("bash")
# what the script needs of a real machine; everything else the fake machine's bin/ decides
REAL_TOOLS = ("awk", "cat", "chmod", "chown", "grep", "mv", "seq", "sleep")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Machine:
    def __init__(self, root):
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        for tool in REAL_TOOLS:
            (self.bin / tool).symlink_to(shutil.which(tool))
        self.log = root / "commands.log"
        self.log.touch()
        self.uid = 1000
        self.env = {"PATH": str(self.bin), "HOME": str(root), "PG_PORT": str(free_port()),
                    "AMQP_PORT": str(free_port()), "AMQP_ADMIN_PORT": str(free_port()),
                    "PG_ETC": str(root / "etc-postgresql"),
                    "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
                    "HUB_VAR_DIR": str(root / "var")}

    def command(self, name, body="exit 0"):
        """A stand-in command that logs how it was called, then runs BODY."""
        path = self.bin / name
        path.write_text(f'#!{BASH}\necho "{name} $*" >> {self.log}\n{body}\n')
        path.chmod(0o755)

    def installed(self, cluster=True):
        """PostgreSQL (with a stopped cluster 15/main on PG_PORT unless cluster=False) and
        RabbitMQ installed, neither running."""
        self.command("pg_ctlcluster")
        self.command("pg_lsclusters",
                     f'echo "15 main {self.env["PG_PORT"]} down postgres /x /y"' if cluster else "")
        self.command("rabbitmq-server")

    def run(self, shell):
        self.command("id", f'echo {self.uid}')
        return subprocess.run([BASH, "-c", f'. "{SCRIPT}"; {shell}'], env=self.env, cwd=self.root,
                              capture_output=True, text=True, timeout=60)

    def calls(self):
        return self.log.read_text().splitlines()


@pytest.fixture
def machine(tmp_path):
    return Machine(tmp_path)


def test_a_bare_machine_misses_both(machine):
    assert machine.run("missing_packages").stdout.split() == ["postgresql", "rabbitmq-server"]


def test_installed_but_stopped_servers_are_not_installed_again(machine):
    machine.installed()
    assert machine.run("missing_packages").stdout.strip() == ""


def test_postgresql_s_tools_without_a_cluster_are_no_server(machine):
    machine.installed(cluster=False)      # e.g. only postgresql-client for `hub backup`
    assert machine.run("missing_packages").stdout.split() == ["postgresql"]


def test_servers_that_answer_are_there_whatever_is_installed(machine):
    listeners = []
    for key in ("PG_PORT", "AMQP_PORT"):
        s = socket.socket()
        s.bind(("127.0.0.1", int(machine.env[key])))
        s.listen()
        listeners.append(s)
    try:
        assert machine.run("missing_packages").stdout.strip() == ""
    finally:
        for s in listeners:
            s.close()


def test_the_plugins_the_hub_needs(machine):
    plugins = Path(machine.env["RABBITMQ_ENABLED_PLUGINS_FILE"])
    assert machine.run("missing_plugins").stdout.split() == \
        ["rabbitmq_management", "rabbitmq_shovel", "rabbitmq_shovel_management",
         "rabbitmq_prometheus"]
    plugins.write_text("[rabbitmq_management,rabbitmq_prometheus].\n")
    assert machine.run("missing_plugins").stdout.split() == \
        ["rabbitmq_shovel", "rabbitmq_shovel_management"]
    plugins.write_text("[rabbitmq_management, rabbitmq_prometheus,rabbitmq_shovel,"
                       "rabbitmq_shovel_management].\n")
    assert machine.run("missing_plugins").stdout.strip() == ""


def test_not_root_it_says_exactly_what_to_run_and_installs_nothing(machine):
    machine.command("apt-get")
    done = machine.run("main")
    assert done.returncode == 1
    assert "PostgreSQL is not installed" in done.stderr and "RabbitMQ is not installed" in done.stderr
    assert "sudo apt-get install -y postgresql rabbitmq-server" in done.stderr
    assert ("rabbitmq-plugins enable rabbitmq_management rabbitmq_shovel "
            "rabbitmq_shovel_management rabbitmq_prometheus") in done.stderr
    assert not any(call.startswith("apt-get") for call in machine.calls())


def test_as_root_it_installs_debian_s_packages(machine):
    machine.uid = 0
    machine.command("apt-get", '[ "$1" = update ] || exit 1')   # the install fails: stop there
    done = machine.run("main")
    assert done.returncode == 1, done.stdout + done.stderr
    apt = [call for call in machine.calls() if call.startswith("apt-get")]
    assert apt[0] == "apt-get update -qq"
    assert apt[1].startswith("apt-get install -y") and apt[1].endswith("postgresql rabbitmq-server")


def test_installed_and_stopped_as_root_it_starts_them_without_systemd(machine):
    machine.uid = 0
    machine.installed()
    # no systemd, and nothing really comes up here
    done = machine.run("under_systemd() { return 1; }; wait_port() { return 1; }; main")
    assert done.returncode == 1
    calls = machine.calls()
    assert "pg_ctlcluster --skip-systemctl-redirect 15 main start" in calls
    assert "rabbitmq-server -detached" in calls
    assert not any(call.startswith("apt-get") for call in calls)


def test_it_lets_the_admin_in_over_127_0_0_1_once(machine):
    machine.installed()
    hba = Path(machine.env["PG_ETC"]) / "15" / "main" / "pg_hba.conf"
    hba.parent.mkdir(parents=True)
    debian = "local all postgres peer\nhost all all 127.0.0.1/32 scram-sha-256\n"
    hba.write_text(debian)
    for _ in range(2):
        assert machine.run("under_systemd() { return 1; }; configure_postgresql").returncode == 0
    lines = hba.read_text().splitlines()
    assert lines[1].split() == ["host", "all", "all", "127.0.0.1/32", "trust"]   # first match wins
    assert hba.read_text().endswith(debian) and hba.read_text().count("trust") == 1
    assert machine.calls().count("pg_ctlcluster --skip-systemctl-redirect 15 main reload") == 1


def test_the_admin_login_is_not_checked_when_another_admin_is_configured(machine):
    machine.command("psql", "exit 2")     # would be refused
    machine.env["HUB_PG_DSN"] = "host=db.example user=hub password=x"
    assert machine.run("pg_admin_refused").returncode == 1
    assert not any(call.startswith("psql") for call in machine.calls())


def test_with_everything_there_it_is_a_no_op_here():
    """On this machine (PostgreSQL and RabbitMQ running, plugins enabled) it changes nothing:
    no package, start, configuration or plugin command; skipped where they are not running."""
    probe = subprocess.run([BASH, "-c", f'. "{SCRIPT}"; [ -z "$(missing_packages)" ] && '
                            'port_open "$PG_PORT" && port_open "$AMQP_PORT" && '
                            '[ -z "$(missing_plugins)" ] && ! pg_admin_refused'],
                           cwd=REPO, env={**os.environ}, capture_output=True, timeout=60)
    if probe.returncode:
        pytest.skip("PostgreSQL and RabbitMQ are not both running and configured here")
    done = subprocess.run([BASH, "-x", str(SCRIPT)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    ran = [line for line in done.stderr.splitlines() if line.startswith("+")]
    for command in ("apt-get", "pg_ctlcluster", "rabbitmq-server", "rabbitmq-plugins enable",
                    "configure_postgresql", "systemctl"):
        assert not any(f" {command}" in line for line in ran), command
