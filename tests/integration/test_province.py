"""Two county hubs and the provincial aggregator, each on its own RabbitMQ vhost (made with
`rabbitmqctl add_vhost` for this test and deleted afterwards) and its own databases.

Each county is linked to the province by a dynamic shovel (ack-mode on-confirm). Both counties
register clients, visit them, receive donations and allocate them through their HTTP APIs; one
county's link is cut while it keeps working, a redelivered event is thrown in, and the link is
restored. The province then holds exactly each county's figures, its totals are the sums of the
counties', no event is counted twice, and no personal detail ever reached it.
"""
import dataclasses
import json
import subprocess
import time
import uuid
from datetime import date, datetime, timedelta, timezone

import kombu
import psycopg
import pytest
import requests
from click.testing import CliRunner
from nameko.runners import ServiceRunner
from prometheus_client.parser import text_string_to_metric_families

from hub.events import make_event
from hub.manifest import manifest, manifests
from stats import domain, province
from stats.ingest import personal_fields
from stats.rebuild import rebuild
from stats.role import StatsConfig
from support.hub import RunningHub, client_body, drop_service_users, test_settings, wait_for
from tooling.cli import main
from visits import roster

YEAR = str(date.today().year)
PROVINCE = "340000"
A, B = "341721", "341722"
B_YAML = """
county: {code: "341722", name: 石台县, population: 90000}
townships:
  - {code: "341722100", name: 仁里镇, population: 20000, station_opened_on: 2022-01-01,
     villages: [{code: "341722100001", name: 仁里社区, population: 4000}]}
  - {code: "341722101", name: 七都镇, population: 15000, station_opened_on: 2022-06-01,
     villages: [{code: "341722101001", name: 七都社区, population: 3000}]}
"""
GUARDIAN = {"name": "监护人", "phone": "13900002222", "relation": "祖母"}
PERSONAL = ("测试对象", "13900001111", "13900002222", "监护人", "志愿者甲", "社工乙")
FAST = {"HUB_STATS_HEARTBEAT_SECONDS": "0.5", "HUB_STATS_GAUGES_SECONDS": "0.5",
        "HUB_STATS_BATCH_WAIT": "0.02"}


def rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


class Hub(RunningHub):
    """A RunningHub whose services get extra nameko config (the stats role and its timings)."""

    def __init__(self, settings, services, config):
        super().__init__(settings, services)
        self.config = config

    def start_service(self, name):
        runner = ServiceRunner({**self.settings.nameko_config(name), **self.config})
        runner.add_service(manifest(name).service_class())
        runner.start()
        self.runners[name] = runner


def uri(vhost):
    return f"amqp://guest:guest@127.0.0.1:5672/{vhost}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tag = uuid.uuid4().hex[:6]
    vhosts = {k: f"stats-{k}-{tag}" for k in ("a", "b", "p")}
    for vhost in vhosts.values():
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yaml_b = tmp_path_factory.mktemp("province") / "shitai.yaml"
    yaml_b.write_text(B_YAML, encoding="utf-8")
    base = test_settings(prefix=f"pa{tag}").port_offset + 20    # three hubs, ten ports apart
    sa = test_settings(prefix=f"pa{tag}", HUB_AMQP_URI=uri(vhosts["a"]),
                       HUB_PORT_OFFSET=str(base))
    sb = dataclasses.replace(test_settings(prefix=f"pb{tag}", HUB_AMQP_URI=uri(vhosts["b"]),
                                           HUB_PORT_OFFSET=str(base + 10)),
                             county_config=str(yaml_b))
    sp = test_settings(prefix=f"pp{tag}", HUB_AMQP_URI=uri(vhosts["p"]),
                       HUB_PORT_OFFSET=str(base + 20))
    county_services = list(manifests())      # every service, the gateway too
    hubs = {"a": Hub(sa, county_services, FAST), "b": Hub(sb, county_services, FAST),
            "p": Hub(sp, ["stats", "gateway"], {**FAST, "HUB_ROLE": "province",
                                               "HUB_PROVINCE_CODE": PROVINCE})}
    try:
        # link first, so that the counties' outbox queues hold everything from their first event
        for key, county in (("a", A), ("b", B)):
            province.link(county, hubs[key].settings.amqp_uri, hubs[key].settings.db_prefix,
                          sp.amqp_uri, sp.db_prefix)
        for running in hubs.values():
            running.start()
        # county B has no roster file for visits: give its stations a worker
        with psycopg.connect(sb.database_dsn("visits")) as conn:
            roster.sync(conn, [{"id": roster.worker_id(B, code), "code": code,
                                "kind": "social_worker", "township_code": town,
                                "weekly_capacity": 50}
                               for code, town in (("w1", "341722100"), ("w2", "341722101"))])
        yield hubs
    finally:
        for running in hubs.values():
            running.stop()
        for county in (A, B):
            try:
                province.unlink(county, sp.amqp_uri)
            except province.LinkError:
                pass
        for running in hubs.values():
            with psycopg.connect(f"{running.settings.pg_dsn} dbname=postgres",
                                 autocommit=True) as conn:
                for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                            (running.settings.db_prefix + "\\_%",)).fetchall():
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            drop_service_users(running.settings)
        for vhost in vhosts.values():
            rabbitmqctl("delete_vhost", vhost)


# -- working in a county --------------------------------------------------------------------------
def ok(resp, status=(200, 201)):
    assert resp.status_code in status, resp.text
    return resp.json()


def eventually(probe, timeout=40, what="the condition"):
    try:
        return wait_for(probe, timeout=timeout, interval=0.2)
    except AssertionError:
        raise AssertionError(f"timed out waiting for {what}")


def work(hub, village, township, children=2, elderly=2):
    """Register, visit, donate and allocate through the county's API."""
    api = hub.client()
    kids = [ok(api.post("/clients", json=client_body(
        age=10, village=village, categories=["child_in_difficulty"], guardian=GUARDIAN)))
        for _ in range(children)]
    olds = [ok(api.post("/clients", json=client_body(age=72, village=village)))
            for _ in range(elderly)]
    provider = ok(api.post("/providers", json={"name": "爱心企业", "kind": "enterprise",
                                                "five_society": "social_resource"}))
    donation = ok(api.post("/donations", json={"provider_id": provider["id"], "kind": "money",
                                                "amount_fen": 2_000_000,
                                                "township_code": township}))
    for client in kids + olds:
        visit = eventually(lambda: next(iter(api.get("/visits", params={
            "client_id": client["id"], "status": "scheduled"}).json()["items"]), None),
            what="a planned visit")
        ok(api.post(f"/visits/{visit['id']}/complete", json={
            "visited_at": (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat(),
            "mode": "home", "worker_id": visit["worker_id"] or str(roster.worker_id(
                hub.settings.county.code, "w1" if township.endswith("100") else "w2"))}))
        eventually(lambda: api.post("/allocations", json={
            "donation_id": donation["id"], "client_id": client["id"],
            "amount_fen": 30_000}).status_code == 201, what="resources to know the client")
    ok(api.post("/workers", json={"name": "社工乙", "township_code": township,
                                   "certificate_level": "assistant",
                                   "certified_year": date.today().year, "weekly_capacity": 20}))
    return kids + olds


def archive_ids(hub):
    """The ids of every event the county published (its outboxes)."""
    ids = set()
    for service in hub.settings.data_services():
        with hub.db(service) as conn:
            ids |= {str(r[0]) for r in conn.execute(
                "SELECT event_id FROM hub_outbox WHERE published_seq IS NOT NULL")}
    return ids


def received_ids(world, county):
    with world["p"].db("stats") as conn:
        return {str(r[0]) for r in conn.execute(
            "SELECT event_id FROM stats_received WHERE county_code = %s", (county,))}


def settled(world, key, county):
    """True once the province holds exactly the county's events and the county has counted
    them itself."""
    published = archive_ids(world[key])
    with world[key].db("stats") as conn:
        counted = {str(r[0]) for r in conn.execute("SELECT event_id FROM hub_inbox")}
    return published and published == received_ids(world, county) and published <= counted


def figures(hub, level, code, **extra):
    return ok(hub.client().get("/stats", params={"level": level, "code": code, "period": YEAR,
                                                 **extra}))


def test_the_province_holds_every_countys_figures_exactly_once(world):
    work(world["a"], "341721100001", "341721100")
    work(world["b"], "341722100001", "341722100", children=1, elderly=3)
    eventually(lambda: settled(world, "a", A) and settled(world, "b", B), 60,
               "both counties' events at the province")

    # cut county A's link; A keeps working, and its events wait on A's broker
    province.unlink(A, world["p"].settings.amqp_uri)
    before = received_ids(world, A)
    more = work(world["a"], "341721101001", "341721101", children=1, elderly=1)
    eventually(lambda: archive_ids(world["a"]) - before, what="A's new events")
    time.sleep(1.0)
    assert received_ids(world, A) == before          # nothing crossed while the link was down
    held = figures(world["p"], "county", A)["figures"]["clients_registered"]["value"]
    eventually(lambda: figures(world["a"], "county", A)["figures"]["clients_registered"][
        "value"] == held + len(more), what="A to count its new clients")

    # a delivery the province already has comes round again (as after a crash before an ack)
    with world["a"].db("intake") as conn:
        old = conn.execute("SELECT event FROM hub_outbox ORDER BY published_seq LIMIT 1"
                           ).fetchone()[0]
    with kombu.Connection(world["a"].settings.amqp_uri) as conn:
        conn.Producer().publish(json.dumps(old), exchange="", content_type="application/json",
                                routing_key=province.outbox_queue(world["a"].settings.db_prefix))

    sp = world["p"].settings
    env = {"HUB_DB_PREFIX": sp.db_prefix, "HUB_AMQP_URI": sp.amqp_uri,
           "HUB_DATA_KEY": sp.data_key, "HUB_JWT_SECRET": sp.jwt_secret, "HUB_SERVICES": "stats"}
    linked = CliRunner().invoke(main, ["province", "link", A, "--amqp-uri",
                                       world["a"].settings.amqp_uri, "--prefix",
                                       world["a"].settings.db_prefix], env=env)
    assert linked.exit_code == 0 and f"shovel province-{A}" in linked.output, linked.output
    eventually(lambda: settled(world, "a", A), 60, "A's link to catch up")
    status = CliRunner().invoke(main, ["province", "status"], env=env)
    assert status.exit_code == 0 and f"{A}  shovel=running" in status.output, status.output

    # the province's figures of each county are the county's own, and its totals their sums
    for key, county in (("a", A), ("b", B)):
        own = figures(world[key], "county", county)
        held = figures(world["p"], "county", county)
        assert held["figures"] == own["figures"], county
        assert (figures(world["p"], "county", county, breakdown="category")["breakdown"] ==
                figures(world[key], "county", county, breakdown="category")["breakdown"])
    total = figures(world["p"], "province", PROVINCE)["figures"]
    a, b = (figures(world["p"], "county", c)["figures"] for c in (A, B))
    for f in domain.FIGURES:
        assert total[f.key]["value"] == a[f.key]["value"] + b[f.key]["value"], f.key
    assert total["clients_registered"]["value"] == 4 + 4 + 2
    assert total["allocations_person_times"]["value"] == 10
    assert total["allocations_value_fen"]["value"] == 10 * 30_000
    assert {k: v["value"] for k, v in total["person_times"]["by"]["source"].items()} == {
        "visit": 10, "allocation": 10, "referral": 0, "activity": 0}
    assert total["donations_money_fen"]["value"] == 3 * 2_000_000
    assert total["visits_done"]["value"] == 10
    assert total["station_coverage_percent"]["townships"] == 15 + 2

    # no event counted twice
    with world["p"].db("stats") as conn:
        received = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM "
                                "stats_received").fetchone()
        counted = conn.execute("SELECT sum(counted + ignored) FROM stats_event_counts"
                               ).fetchone()[0]
    assert received[0] == received[1] == counted == len(archive_ids(world["a"])) + len(
        archive_ids(world["b"]))


def test_the_province_never_receives_personal_details(world):
    with world["p"].db("stats") as conn:
        events = [r[0] for r in conn.execute("SELECT event FROM stats_received")]
    assert events
    for event in events:
        assert not personal_fields(event["data"]), event["type"]
        text = json.dumps(event, ensure_ascii=False)
        assert not any(p in text for p in PERSONAL), event["type"]
    # a message carrying a name is refused and not kept; so is one the rules cannot read
    leaked = make_event("client.registered.v1", f"/hub/{B}/intake", "client/x", {
        "client_id": str(uuid.uuid4()), "county_code": B, "township_code": "341722100",
        "village_code": "341722100001", "categories": ["solitary_elderly"],
        "age_group": "elderly", "age_band": "70-79", "sex": "female", "risk_level": "low",
        "risk_flags": [], "status": "active", "effective_date": f"{YEAR}-01-02"})
    leaked["data"]["name"] = "测试对象"

    broken = dict(leaked, id=str(uuid.uuid4()), data={**leaked["data"], "client_id": "x"})
    del broken["data"]["name"]
    with kombu.Connection(world["p"].settings.amqp_uri) as conn:
        for message in (leaked, broken):
            conn.Producer().publish(json.dumps(message, ensure_ascii=False),
                                    content_type="application/json", routing_key=message["type"],
                                    exchange=province.ingest_exchange(
                                        world["p"].settings.db_prefix))

    def refused():
        with world["p"].db("stats") as conn:
            return conn.execute("SELECT reason FROM stats_rejected ORDER BY id").fetchall()
    assert eventually(lambda: len(refused()) == 2 and refused()) == [
        ("personal fields name",), ("invalid client.registered.v1: ValueError",)]
    assert not {leaked["id"], broken["id"]} & received_ids(world, B)


def test_operations_metrics_per_county_and_link_lag(world):
    url = world["p"].settings.service_url("stats") + "/metrics"

    def samples():
        text = requests.get(url, timeout=5).text
        return {(s.name, tuple(sorted(s.labels.items()))): s.value
                for fam in text_string_to_metric_families(text) for s in fam.samples}
    a = figures(world["a"], "county", A)["figures"]

    def gauges_current():
        now = samples()
        return (now.get(("stats_county_active_clients", (("county", A),))) ==
                a["clients_active"]["value"] and now)
    now = eventually(gauges_current, what="the province's gauges")
    assert now[("stats_county_person_times_year", (("county", A),))] == a["person_times"]["value"]
    assert ("stats_county_overdue_visits", (("county", B),)) in now
    lag = now[("stats_province_link_lag_seconds", (("county", A),))]
    assert 0 <= lag < 10
    links = {r["county_code"]: r for r in ok(world["p"].client().get("/stats/links"))["items"]}
    assert set(links) == {A, B} and links[A]["events"] >= len(archive_ids(world["a"]))
    shovels = province.links(world["p"].settings.amqp_uri)
    assert shovels == {A: "running", B: "running"}


def snapshot(hub):
    with hub.db("stats") as conn:
        return conn.execute("SELECT place_code, kind, period, measure, category, age_group, "
                            "detail, n FROM stats_rollup WHERE n <> 0 ORDER BY 1, 2, 3, 4, 5, 6, "
                            "7").fetchall()


def test_rebuild_equals_live_in_a_county_and_in_the_province(world):
    for key, config in (("a", StatsConfig()),
                        ("p", StatsConfig(role="province", province_code=PROVINCE))):
        live = snapshot(world[key])
        assert live
        rebuild(world[key].settings, config, progress=False)
        assert snapshot(world[key]) == live, key
