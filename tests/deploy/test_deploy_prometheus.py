"""deploy/prometheus: the scrape configurations and alert rules checked by promtool, and each
alert's unit tests run by `promtool test rules`."""
import subprocess

import pytest
import yaml

from deploy_support import DEPLOY, alert_rules, need

PROM = DEPLOY / "prometheus"
REQUIRED_ALERTS = {"HubServiceDown", "HubOutboxBacklogGrowing", "HubProvinceLinkDown",
                   "HubProvinceLinkLagging", "HubParkedEvents", "HubOverdueVisitsRising",
                   "HubHttpErrorRate", "HubBackupTooOld"}


def promtool(*args):
    result = subprocess.run([need("promtool"), *args], capture_output=True, text=True, cwd=PROM)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.parametrize("config", ["prometheus.yml", "prometheus-kubernetes.yml", "province.yml"])
def test_the_scrape_configuration_is_valid(config):
    assert "SUCCESS" in promtool("check", "config", config)


def test_the_alert_rules_are_valid():
    promtool("check", "rules", "rules/hub-alerts.yml")


def test_every_alert_passes_its_unit_tests():
    tests = sorted(str(p.relative_to(PROM)) for p in (PROM / "tests").glob("*.yml"))
    assert tests
    promtool("test", "rules", *tests)


def test_every_alert_the_issue_asks_for_exists_and_has_a_unit_test():
    alerts = {rule["alert"] for rule in alert_rules()}
    assert REQUIRED_ALERTS <= alerts
    tested = set()
    for path in (PROM / "tests").glob("*.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            tested |= {t["alertname"] for t in test.get("alert_rule_test", [])
                       if t.get("exp_alerts")}   # a test in which it fires
    assert alerts <= tested, f"alerts never seen firing in a test: {alerts - tested}"
