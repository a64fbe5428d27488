"""deploy/grafana: the dashboards' JSON and their queries (parsed by a real PromQL parser).
That every metric they use exists is checked against running services in
test_deploy_running_hub.py."""
import pytest

from deploy_support import all_panels, dashboard_queries, dashboards, metric_names

DASHBOARDS = dashboards()


def test_there_is_a_county_and_a_province_dashboard():
    assert set(DASHBOARDS) == {"county-hub.json", "province-overview.json"}
    assert len({d["uid"] for d in DASHBOARDS.values()}) == 2


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_query_parses_and_every_panel_uses_the_chosen_prometheus(name):
    dashboard = DASHBOARDS[name]
    panels = list(all_panels(dashboard["panels"]))
    assert len({p["id"] for p in panels}) == len(panels)
    queries = list(dashboard_queries(dashboard))
    assert len(queries) >= 10
    for where, expr in queries:
        assert metric_names(expr), f"{where}: no metric in {expr!r}"
    for panel in panels:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]
