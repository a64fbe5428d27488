"""deploy/systemd: the unit files checked by `systemd-analyze verify`."""
import re
import subprocess

import pytest

from deploy_support import DEPLOY, HUB_BIN, need
from hub.runner import SERVICES

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
    names = [f"shegong-hub@{s}.service" for s in SERVICES] + ["shegong-hub-setup.service",
                                                              "shegong-hub.target"]
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
