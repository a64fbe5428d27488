"""deploy/systemd: the unit files checked by `systemd-analyze verify`."""
import re
import subprocess

import pytest

from deploy_support import DEPLOY, HUB_BIN, need
from hub.manifest import manifests

UNITS = DEPLOY / "systemd"
INSTALLED_HUB = "/opt/shegong-hub/venv/bin/hub"


@pytest.fixture(scope="module")
def units(tmp_path_factory):
    """The units as installed, the `hub` command pointing at this checkout's."""
    folder = tmp_path_factory.mktemp("units")
    for unit in UNITS.glob("shegong-hub*"):
        (folder / unit.name).write_text(unit.read_text().replace(INSTALLED_HUB, str(HUB_BIN)))
    return folder


def test_the_units_verify_without_a_warning(units):
    names = [f"shegong-hub@{s}.service" for s in manifests()] + [
        "shegong-hub-setup.service", "shegong-hub.target", "shegong-hub-backup.service",
        "shegong-hub-backup.timer"]
    result = subprocess.run([need("systemd-analyze"), "verify", *names], cwd=units,
                            capture_output=True, text=True)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), \
        result.stdout + result.stderr


def test_the_template_serves_its_instance_after_the_setup_job():
    service = (UNITS / "shegong-hub@.service").read_text()
    assert f"ExecStart={INSTALLED_HUB} serve %i" in service
    assert "Requires=shegong-hub-setup.service" in service
    assert re.search(r"^User=shegong$", service, re.M)
    setup = (UNITS / "shegong-hub-setup.service").read_text()
    assert "Type=oneshot" in setup and f"ExecStart={INSTALLED_HUB} setup" in setup


def test_the_backup_runs_daily_keeps_n_days_and_records_its_time_for_the_alert():
    from tooling.cli import main
    options = {o for p in main.commands["backup"].params for o in p.opts}
    timer = (UNITS / "shegong-hub-backup.timer").read_text()
    assert re.search(r"^OnCalendar=\*-\*-\* \d\d:\d\d:00$", timer, re.M)   # daily
    assert "Persistent=true" in timer
    service = (UNITS / "shegong-hub-backup.service").read_text()
    assert "Type=oneshot" in service and re.search(r"^User=shegong$", service, re.M)
    (command,) = re.findall(r"^ExecStart=(.*)$", service, re.M)
    args = command.split()
    assert args[:3] == [INSTALLED_HUB, "backup", "/var/backups/shegong-hub"]
    assert {a for a in args if a.startswith("--")} <= options
    assert "--dated" in args and args[args.index("--keep-days") + 1] == "${HUB_BACKUP_KEEP_DAYS}"
    assert re.search(r"^Environment=HUB_BACKUP_KEEP_DAYS=\d+$", service, re.M)
    metrics = args[args.index("--metrics-file") + 1]
    writable = re.search(r"^ReadWritePaths=(.*)$", service, re.M).group(1).split()
    assert {"/var/backups/shegong-hub", metrics.rsplit("/", 1)[0]} <= set(writable)
