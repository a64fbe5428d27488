"""Two county hubs, their prefecture's aggregator and the provincial aggregator, each on its own
RabbitMQ vhost (made with `rabbitmqctl add_vhost` for this test and deleted afterwards) and its
own databases: county → prefecture → province.

Each county is linked to the prefecture's aggregator by a dynamic shovel (ack-mode on-confirm),
which forwards everything it takes in to the province with another. Both counties register
clients, visit them, receive donations and allocate them through their HTTP APIs; one county's
link is cut while it keeps working, then the prefecture's link to the province while the other
county works, a redelivered event is thrown in, and both links are restored. The prefecture and
the province then hold exactly each county's figures, every total is the sum of its parts, no
event is counted twice, and no personal detail ever reached them.
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
PREFECTURE = "341700"       # 池州市: both counties are in it
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
PERSONAL = ("测试对象", "13900001111", "13900002222", "监护人", "志愿者甲", "社工乙", "持证人丙")
FAST = {"HUB_STATS_HEARTBEAT_SECONDS": "0.5", "HUB_STATS_GAUGES_SECONDS": "0.5",
        "HUB_STATS_BATCH_WAIT": "0.02"}
CITY = {"HUB_ROLE": "prefecture", "HUB_PROVINCE_CODE": PREFECTURE, "HUB_PROVINCE_NAME": "池州市"}


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
    vhosts = {k: f"stats-{k}-{tag}" for k in ("a", "b", "m", "p")}
    for vhost in vhosts.values():
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    yaml_b = tmp_path_factory.mktemp("province") / "shitai.yaml"
    yaml_b.write_text(B_YAML, encoding="utf-8")
    base = test_settings(prefix=f"pa{tag}").port_offset + 10    # four hubs, ten ports apart
    sa = test_settings(prefix=f"pa{tag}", HUB_AMQP_URI=uri(vhosts["a"]),
                       HUB_PORT_OFFSET=str(base))
    sb = dataclasses.replace(test_settings(prefix=f"pb{tag}", HUB_AMQP_URI=uri(vhosts["b"]),
                                           HUB_PORT_OFFSET=str(base + 10)),
                             county_config=str(yaml_b))
    sm = test_settings(prefix=f"pm{tag}", HUB_AMQP_URI=uri(vhosts["m"]),
                       HUB_PORT_OFFSET=str(base + 20))
    sp = test_settings(prefix=f"pp{tag}", HUB_AMQP_URI=uri(vhosts["p"]),
                       HUB_PORT_OFFSET=str(base + 30))
    county_services = list(manifests())      # every service, the gateway too
    hubs = {"a": Hub(sa, county_services, FAST), "b": Hub(sb, county_services, FAST),
            "m": Hub(sm, ["stats"], {**FAST, **CITY}),
            "p": Hub(sp, ["stats", "gateway"], {**FAST, "HUB_ROLE": "province",
                                               "HUB_PROVINCE_CODE": PROVINCE,
                                               "HUB_PREFECTURES": f"{PREFECTURE}=池州市"})}
    try:
        # link first, so that the counties' outbox queues hold everything from their first event
        for key, county in (("a", A), ("b", B)):
            province.link(county, hubs[key].settings.amqp_uri, hubs[key].settings.db_prefix,
                          sm.amqp_uri, sm.db_prefix)
        province.forward(sm.amqp_uri, sm.db_prefix, sp.amqp_uri, sp.db_prefix)
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
                province.unlink(county, sm.amqp_uri)
            except province.LinkError:
                pass
        try:
            province.unforward(sm.amqp_uri)
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
    # a holder of the certificate on the civil-affairs roster, working at the station
    ok(api.post("/certificates", json={"certificate_number": township + "01", "name": "持证人丙",
                                        "level": "assistant", "passed_year": date.today().year,
                                        "township_code": township}))
    return kids + olds


def archive_ids(hub):
    """The ids of every event the county published (its outboxes)."""
    ids = set()
    for service in hub.settings.data_services():
        with hub.db(service) as conn:
            ids |= {str(r[0]) for r in conn.execute(
                "SELECT event_id FROM hub_outbox WHERE published_seq IS NOT NULL")}
    return ids


def received_ids(world, county, at="p"):
    with world[at].db("stats") as conn:
        return {str(r[0]) for r in conn.execute(
            "SELECT event_id FROM stats_received WHERE county_code = %s", (county,))}


def settled(world, key, county, at=("m", "p")):
    """True once the aggregators `at` hold exactly the county's events and the county has
    counted them itself."""
    published = archive_ids(world[key])
    with world[key].db("stats") as conn:
        counted = {str(r[0]) for r in conn.execute("SELECT event_id FROM hub_inbox")}
    return published and published <= counted and all(
        published == received_ids(world, county, aggregator) for aggregator in at)


def figures(hub, level, code, **extra):
    service = "gateway" if "gateway" in hub.services else "stats"
    return ok(hub.client(service=service).get("/stats", params={
        "level": level, "code": code, "period": YEAR, **extra}))


def without_risk(figures):
    """A county's figures as an aggregator has them: it keeps no risk (stats/minimise.py)."""
    for f in figures.values():
        if (f.get("by") or {}).pop("risk", None) is not None and not f["by"]:
            del f["by"]
    return figures


def aggregator_env(hub, **extra):
    s = hub.settings
    return {"HUB_DB_PREFIX": s.db_prefix, "HUB_AMQP_URI": s.amqp_uri, "HUB_DATA_KEY": s.data_key,
            "HUB_JWT_SECRET": s.jwt_secret, "HUB_SERVICES": "stats", **extra}


def test_the_prefecture_and_the_province_hold_every_countys_figures_exactly_once(world):
    work(world["a"], "341721100001", "341721100")
    work(world["b"], "341722100001", "341722100", children=1, elderly=3)
    eventually(lambda: settled(world, "a", A) and settled(world, "b", B), 60,
               "both counties' events at the prefecture and the province")

    # cut county A's link to the prefecture; A keeps working, and its events wait on A's broker
    sm = world["m"].settings
    province.unlink(A, sm.amqp_uri)
    before = received_ids(world, A, "m")
    more = work(world["a"], "341721101001", "341721101", children=1, elderly=1)
    eventually(lambda: archive_ids(world["a"]) - before, what="A's new events")
    # cut the prefecture's link to the province; B keeps working, and its events reach the
    # prefecture and wait on its broker for the province
    province.unforward(sm.amqp_uri)
    assert province.forwarding(sm.amqp_uri) is None
    b_before = received_ids(world, B)
    more += work(world["b"], "341722101001", "341722101", children=1, elderly=0)
    eventually(lambda: settled(world, "b", B, at=("m",)), 60, "B's new events at the prefecture")
    time.sleep(1.0)
    assert received_ids(world, A, "m") == received_ids(world, A) == before   # none crossed
    assert received_ids(world, B) == b_before
    held = figures(world["m"], "county", A)["figures"]["clients_registered"]["value"]
    eventually(lambda: figures(world["a"], "county", A)["figures"]["clients_registered"][
        "value"] == held + 2, what="A to count its new clients")

    # a delivery the aggregators already have comes round again (as after a crash before an ack)
    with world["a"].db("intake") as conn:
        old = conn.execute("SELECT event FROM hub_outbox ORDER BY published_seq LIMIT 1"
                           ).fetchone()[0]
    with kombu.Connection(world["a"].settings.amqp_uri) as conn:
        conn.Producer().publish(json.dumps(old), exchange="", content_type="application/json",
                                routing_key=province.outbox_queue(world["a"].settings.db_prefix))

    # heal A's link: its backlog reaches the prefecture, and waits there for the province
    env = aggregator_env(world["m"], **CITY)
    linked = CliRunner().invoke(main, ["province", "link", A, "--amqp-uri",
                                       world["a"].settings.amqp_uri, "--prefix",
                                       world["a"].settings.db_prefix], env=env)
    assert linked.exit_code == 0 and f"shovel province-{A}" in linked.output, linked.output
    eventually(lambda: settled(world, "a", A, at=("m",)), 60, "A's link to catch up")
    assert received_ids(world, A) == before
    # heal the prefecture's link: everything it took in meanwhile reaches the province
    sp = world["p"].settings
    forwarded = CliRunner().invoke(main, ["province", "forward", "--upstream-uri", sp.amqp_uri,
                                          "--upstream-prefix", sp.db_prefix], env=env)
    assert forwarded.exit_code == 0 and "shovel upward" in forwarded.output, forwarded.output
    eventually(lambda: settled(world, "a", A) and settled(world, "b", B), 60,
               "the prefecture's link to catch up")
    status = CliRunner().invoke(main, ["province", "status"], env=env)
    assert status.exit_code == 0, status.output
    assert "forwarding to the province: shovel=running" in status.output, status.output
    assert f"{A}  shovel=running" in status.output, status.output

    # every county's figures are the county's own at the prefecture and at the province
    for key, county in (("a", A), ("b", B)):
        own = figures(world[key], "county", county)
        for at in ("m", "p"):
            held = figures(world[at], "county", county)
            assert held["figures"] == without_risk(own["figures"]), (county, at)
            assert (figures(world[at], "county", county, breakdown="category")["breakdown"] ==
                    figures(world[key], "county", county, breakdown="category")["breakdown"])
    # the prefecture's figures are the same at both aggregators, and the sums of its counties';
    # the province (of this one prefecture) has the same
    city = figures(world["m"], "prefecture", PREFECTURE)
    assert city["name"] == "池州市"
    for level, code in (("prefecture", PREFECTURE), ("province", PROVINCE)):
        assert figures(world["p"], level, code)["figures"] == city["figures"], level
    assert (figures(world["p"], "prefecture", PREFECTURE, breakdown="group")["breakdown"] ==
            figures(world["m"], "prefecture", PREFECTURE, breakdown="group")["breakdown"])
    total = city["figures"]
    a, b = (figures(world["p"], "county", c)["figures"] for c in (A, B))
    for f in domain.FIGURES:
        assert total[f.key]["value"] == a[f.key]["value"] + b[f.key]["value"], f.key
    assert total["clients_registered"]["value"] == 4 + 4 + len(more) == 11
    assert total["allocations_person_times"]["value"] == 11
    assert total["allocations_value_fen"]["value"] == 11 * 30_000
    assert {k: v["value"] for k, v in total["person_times"]["by"]["source"].items()} == {
        "visit": 11, "allocation": 11, "referral": 0, "activity": 0}
    assert total["donations_money_fen"]["value"] == 4 * 2_000_000
    assert total["visits_done"]["value"] == 11
    assert total["station_coverage_percent"]["townships"] == 15 + 2
    rooms = total["village_room_coverage_percent"]
    assert rooms["villages"] == (a["village_room_coverage_percent"]["villages"]
                                 + b["village_room_coverage_percent"]["villages"]) > 0
    assert rooms["rooms_open"] == (a["village_room_coverage_percent"]["rooms_open"]
                                   + b["village_room_coverage_percent"]["rooms_open"])

    # the prefecture's annual report, the same at both, speaks of the whole city (全市)
    report = ok(world["p"].client().get("/reports/annual", params={"year": YEAR,
                                                                   "code": PREFECTURE}))
    assert report == ok(world["m"].client(service="stats").get("/reports/annual", params={
        "year": YEAR, "code": PREFECTURE}))
    assert report["level"] == "prefecture" and report["narrative"].startswith(f"{YEAR}年，池州市")
    assert report["figures"][domain.CERTIFIED_WORKERS_FIGURE]["value"] == 4
    assert "全市取得社会工作者职业水平证书的人员已达到4人" in report["narrative"]

    # no event counted twice, at either aggregator
    everything = len(archive_ids(world["a"])) + len(archive_ids(world["b"]))
    for at in ("m", "p"):
        with world[at].db("stats") as conn:
            received = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM "
                                    "stats_received").fetchone()
            counted = conn.execute("SELECT sum(counted + ignored) FROM stats_event_counts"
                                   ).fetchone()[0]
        assert received[0] == received[1] == counted == everything, at


def test_the_province_never_receives_personal_details(world):
    with world["p"].db("stats") as conn:
        events = [r[0] for r in conn.execute("SELECT event FROM stats_received")]
    assert events
    for event in events:
        assert not personal_fields(event["data"]), event["type"]
        text = json.dumps(event, ensure_ascii=False)
        assert not any(p in text for p in PERSONAL), event["type"]
    # and it keeps no village, no risk and no county's client id (stats/minimise.py)
    with world["a"].db("intake") as conn:
        clients = {r[0]["data"].get("client_id") for r in conn.execute(
            "SELECT event FROM hub_outbox")} - {None}
    for at in ("m", "p"):
        with world[at].db("stats") as conn:
            kept = conn.execute("SELECT string_agg(event::text, ' ') FROM stats_received"
                                ).fetchone()[0]
            states = conn.execute("SELECT count(*) FROM stats_client_states WHERE village <> '' "
                                  "OR risk <> ''").fetchone()[0]
        assert clients and not [c for c in clients if c in kept], at
        assert not [f for f in ('"village_code"', '"risk_level"', '"risk_flags"', '"subject"')
                    if f in kept] and states == 0, at
    # a province_viewer reads the province's figures of a county with small counts hidden
    exact = figures(world["p"], "county", A)["figures"]["workers_registered"]
    seen = ok(world["p"].client(role="province_viewer").get("/stats", params={
        "level": "county", "code": A, "period": YEAR}))["figures"]["workers_registered"]
    assert exact["value"] == 2 and (seen["value"], seen["text"]) == (None, "<5")
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

    def labels(county):
        return (("county", county), ("prefecture", PREFECTURE))

    def gauges_current():
        now = samples()
        return (now.get(("stats_county_active_clients", labels(A))) ==
                a["clients_active"]["value"] and now)
    now = eventually(gauges_current, what="the province's gauges")
    assert now[("stats_county_person_times_year", labels(A))] == a["person_times"]["value"]
    assert ("stats_county_overdue_visits", labels(B)) in now
    # the counties' heartbeats pass through the prefecture: the province sees each one's lag
    lag = now[("stats_province_link_lag_seconds", (("county", A),))]
    assert 0 <= lag < 10
    links = {r["county_code"]: r for r in ok(world["p"].client().get("/stats/links"))["items"]}
    assert set(links) == {A, B} and links[A]["events"] >= len(archive_ids(world["a"]))
    sm = world["m"].settings
    assert province.links(sm.amqp_uri) == {A: "running", B: "running"}
    assert province.forwarding(sm.amqp_uri) == "running"
    assert province.links(world["p"].settings.amqp_uri) == {}    # the province pulls no county


def snapshot(hub):
    with hub.db("stats") as conn:
        return conn.execute("SELECT place_code, kind, period, measure, category, age_group, "
                            "detail, n FROM stats_rollup WHERE n <> 0 ORDER BY 1, 2, 3, 4, 5, 6, "
                            "7").fetchall()


def test_rebuild_equals_live_in_a_county_the_prefecture_and_the_province(world):
    for key, config in (("a", StatsConfig()),
                        ("m", StatsConfig(role="prefecture", province_code=PREFECTURE)),
                        ("p", StatsConfig(role="province", province_code=PROVINCE))):
        live = snapshot(world[key])
        assert live
        rebuild(world[key].settings, config, progress=False)
        assert snapshot(world[key]) == live, key


def test_a_rebuild_reduces_an_event_the_province_stored_whole(world):
    """An archive from before events were kept reduced: the rebuild reduces it, and the figures
    (no risk at the province) are the same."""
    live = snapshot(world["p"])
    with world["p"].db("stats") as conn:
        event_id, event = conn.execute(
            "SELECT event_id, event FROM stats_received WHERE type = 'client.registered.v1' "
            "LIMIT 1").fetchone()
        whole = {**event, "subject": "client/x",
                 "data": {**event["data"], "village_code": "341721100001",
                          "risk_level": "critical", "risk_flags": ["self_harm"]}}
        conn.execute("UPDATE stats_received SET event = %s WHERE event_id = %s",
                     (json.dumps(whole), event_id))
    rebuild(world["p"].settings, StatsConfig(role="province", province_code=PROVINCE),
            progress=False)
    assert snapshot(world["p"]) == live
    with world["p"].db("stats") as conn:
        assert conn.execute("SELECT event FROM stats_received WHERE event_id = %s",
                            (event_id,)).fetchone()[0] == event
