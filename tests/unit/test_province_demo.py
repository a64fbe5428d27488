"""`make province`'s pieces that need nothing running: the seven hubs' plan and settings (each
accepted by the hub's own checks), the connections they may hold, the environment each `hub`
command runs in, and the year of demo work each county loads."""
import os
from datetime import date, timedelta

from contracts import idnumber
from contracts.clients import age_on, age_rule_errors
from hub.config import Settings
from hub.county import load_county
from hub.manifest import manifest
from stats.role import StatsConfig
from tooling import province_demo
from tooling.demo_year import YearOfWork


def test_the_plan_is_a_province_of_two_prefectures_of_two_counties_each():
    hubs = province_demo.plan()
    roles = [h.role for h in hubs]
    assert roles == ["province", "prefecture", "prefecture"] + ["county"] * 4
    province, prefectures = hubs[0], hubs[1:3]
    assert all(p.upstream == province.code for p in prefectures)
    for county in hubs[3:]:
        assert county.upstream in {p.code for p in prefectures}
        assert county.code[:4] == county.upstream[:4]         # in its prefecture, by its code
    assert [c.code for c in hubs[3:] if c.upstream == "341700"] == ["341721", "341722"]
    assert len({h.prefix for h in hubs}) == len({h.vhost for h in hubs}) == 7


def test_every_hub_has_its_own_ports_apart_from_make_runs_and_the_tests():
    hubs = province_demo.plan()
    taken = {}
    for hub in hubs:
        for service in (*hub.services, "gateway"):
            port = manifest(service).port + hub.port_offset
            assert port not in taken, (hub.code, service, taken.get(port))
            taken[port] = (hub.code, service)
    assert min(taken) > 8010 and max(taken) < 10_000     # make run: 8000…; tests: 10000…


def test_each_hubs_settings_pass_the_hubs_own_checks():
    for hub in province_demo.plan():
        values = hub.settings("amqp://guest:guest@127.0.0.1:5672//")
        settings = Settings.from_env({**values, "HUB_SERVICE_SECRET": "s"})   # `hub secrets`'s
        assert settings.db_prefix == hub.prefix and settings.db_pool_size == 2
        assert settings.amqp_uri.endswith("/" + hub.vhost)
        assert settings.nameko_config("stats")["DB_POOL_SIZE"] == 2
        if hub.role == "county":
            assert settings.county.code == hub.code and settings.only_services == ()
        else:
            config = StatsConfig.from_env(values)
            assert (config.role, config.province_code, config.province_name) == (
                hub.role, hub.code, hub.name)
            assert settings.only_services == ("stats",)
    province = StatsConfig.from_env(province_demo.plan()[0].settings())
    assert dict(province.prefectures) == {"341700": "池州市", "340800": "安庆市"}


def test_seven_hubs_hold_well_under_postgresqls_hundred_connections():
    hubs = province_demo.plan()
    assert province_demo.connections(hubs) == 4 * 5 * 2 + 3 * 2
    assert province_demo.connections(hubs) <= province_demo.CONNECTION_BUDGET


def test_each_hub_command_runs_with_its_own_settings_only(monkeypatch, tmp_path):
    monkeypatch.setattr(province_demo, "VAR", tmp_path)
    monkeypatch.setenv("HUB_DB_PREFIX", "hub")
    monkeypatch.setenv("COUNTY_CONFIG", "/elsewhere.yaml")
    monkeypatch.setenv("HUB_PG_DSN", "host=db.example user=postgres")
    hub = province_demo.plan()[3]
    env = province_demo.hub_environment(hub)
    assert "HUB_DB_PREFIX" not in env and "COUNTY_CONFIG" not in env
    assert env["HUB_PG_DSN"] == "host=db.example user=postgres"      # where PostgreSQL is
    assert env["HUB_VAR_DIR"] == str(tmp_path / "province" / hub.code)
    assert env["PATH"] == os.environ["PATH"]
    # its hub.env: the plan's settings, the keys `hub secrets` wrote kept
    hub.folder.mkdir(parents=True)
    (hub.folder / "hub.env").write_text("HUB_DATA_KEY=kept\nHUB_PORT_OFFSET=1\n")
    province_demo.write_settings(hub, None)
    lines = (hub.folder / "hub.env").read_text().splitlines()
    assert "HUB_DATA_KEY=kept" in lines and f"HUB_PORT_OFFSET={hub.port_offset}" in lines
    assert "HUB_PORT_OFFSET=1" not in lines


def test_a_year_of_demo_work_is_dated_in_the_past_year_and_fits_the_rules():
    today = date(2025, 3, 1)
    for file in ("dongzhi-341721.yaml", "susong-340826.yaml"):
        county = load_county(province_demo.COUNTIES / file)
        year = YearOfWork("http://unused", "token", county, today=today)
        bodies = list(year.client_bodies())
        assert len(bodies) == 24
        assert len({b["id_number"] for _, b in bodies}) == 24
        for day, body in bodies:
            assert today - timedelta(days=365) < day < today
            person = idnumber.parse(body["id_number"], today=today)
            assert person.region_code == county.code
            assert not age_rule_errors(body["categories"], age_on(person.birth_date, day))
            assert not age_rule_errors(body["categories"], age_on(person.birth_date, today))
            assert county.township_of(body["village_code"]) in year.stations
            assert ("guardian" in body) == (age_on(person.birth_date, day) < 18)
