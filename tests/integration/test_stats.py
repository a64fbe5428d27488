"""The stats service of a county hub over the real broker and database.

Events are published the way producers publish them, through an outbox (here the stats
database's own, so that they are also in the archive a rebuild reads). The station is the seed's
新开岭镇社工站: a year of its work comes back as the seed's figures exactly.
"""
import csv
import dataclasses
import io
import time
import uuid
from datetime import date

import kombu
import openpyxl
import pytest
from click.testing import CliRunner
from marshmallow import Schema, fields
from psycopg.types.json import Jsonb

from hub import events as hub_events
from stats import domain
from stats.disclosure import BALANCES, FOLLOWS, NOT_PEOPLE
from stats.rebuild import rebuild
from stats.role import StatsConfig
from stats.sample import Sample
from support import solving
from support.hub import running_hub, test_settings, wait_for
from tooling.cli import main

COUNTY_YAML = """
county: {code: "659002", name: 阿拉尔市, population: 5000}
townships:
  - {code: "659002100", name: 新开岭镇, population: 1218, station_opened_on: 2021-03-01,
     villages: [{code: "659002100001", name: 幸福村, population: 600}]}
  - {code: "659002101", name: 托喀依乡, population: 3782, station_opened_on: null,
     villages: [{code: "659002101001", name: 团结村, population: 900}]}
"""
TOWN = "659002100"
S = Sample(county="659002", township=TOWN, village="659002100001")


@pytest.fixture(scope="module")
def shub(tmp_path_factory):
    path = tmp_path_factory.mktemp("stats") / "alar.yaml"
    path.write_text(COUNTY_YAML, encoding="utf-8")
    settings = test_settings(prefix=f"st{uuid.uuid4().hex[:6]}")
    settings = dataclasses.replace(settings, county_config=str(path),
                                   port_offset=settings.port_offset + 15)
    with running_hub(settings, ["stats", "gateway"]) as hub:
        yield hub


@pytest.fixture(scope="module")
def api(shub):
    return shub.client()


def publish(hub, events):
    """Write events to an outbox (as a producer's transaction does) and wait until stats has
    processed them all."""
    with hub.db("stats") as conn:
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO hub_outbox (event_id, type, subject, event) "
                            "VALUES (%s, %s, %s, %s)",
                            [(e["id"], e["type"], e["subject"], Jsonb(e)) for e in events])
    ids = [e["id"] for e in events]

    def processed():
        with hub.db("stats") as conn:
            return conn.execute("SELECT count(*) FROM hub_inbox WHERE event_id = ANY(%s::uuid[])",
                                (ids,)).fetchone()[0] == len(ids)
    wait_for(processed, timeout=60)


def stats(api, **params):
    resp = api.get("/stats", params=params)
    assert resp.status_code == 200, resp.text
    return resp.json()


def station_year():
    """A year (2023) of the station's work, with the year before for the growth."""
    events = []
    children = [S.client(["child_in_difficulty"], "child") for _ in range(20)]
    elderly = [S.client(["solitary_elderly", "extreme_poverty"], "elderly") for _ in range(9)]
    events += [S.registered(c, "2022-11-01") for c in children + elderly]
    # money linked in 2023: 23,456 yuan -> "2万余元" (and goods, which are not money)
    events += [S.donation("2023-01-10", 1_000_000), S.donation("2023-06-01", 845_600),
               S.donation("2023-12-31", 500_000), S.donation("2023-03-01", value_fen=300_000),
               S.donation("2022-12-31", 9_999_900)]
    # 43 person-times to children in difficulty, 17 to elderly people in hardship
    events += [S.allocation(children[i % 20], f"2023-{1 + i % 12:02d}-15", 20_000)
               for i in range(43)]
    events += [S.allocation(elderly[i % 9], f"2023-{1 + i % 12:02d}-20", 30_000)
               for i in range(17)]
    mistaken = S.allocation(elderly[0], "2023-05-05", 10_000)
    events += [mistaken, S.reversal(mistaken, "2023-05-06")]
    # certified social workers: 10 at the end of 2022, 14 at the end of 2023 (up 40%)
    certified = [S.worker("2022-03-01", "assistant", 2021) for _ in range(10)]
    events += certified
    events.append(S.worker("2023-04-01", "assistant", 2021, certified[0]["data"]["worker_id"],
                           "left"))
    events += [S.worker("2023-05-01", "intermediate", 2023) for _ in range(4)]
    uncertified = S.worker("2022-06-01")
    events += [uncertified, S.worker("2023-09-01", "assistant", 2023,
                                     uncertified["data"]["worker_id"], "certified")]
    events.append(S.worker("2023-10-01", "intermediate", 2023, certified[1]["data"]["worker_id"],
                           "certified", previous_level="assistant"))
    # the roster of certificate holders, whoever employs them: 10 at the end of 2022 and 14 at
    # the end of 2023 (up 40%), each counted from the year they passed, whenever recorded
    holders = [S.certificate("2024-01-05", [("assistant", 2021)]) for _ in range(9)]
    early = S.certificate("2022-03-01", [("assistant", 2022)])
    holders += [early, S.certificate("2023-04-01", [("assistant", 2022)],
                                     [(None, TOWN, "holding"), ("2023-04-01", TOWN, "left")],
                                     previous=early)]
    holders += [S.certificate("2024-02-01", [("intermediate", 2023)]) for _ in range(5)]
    events += holders
    # 200 real-name volunteers of a population of 1,218: 16.42%
    events += [S.volunteer(f"{2021 + i % 3}-0{1 + i % 9}-01") for i in range(200)]
    # visits and an activity
    events += [S.visit_completed(c, "2023-02-01", delay_days=i % 2)
               for i, c in enumerate(children[:10])]
    events.append(S.activity("2023-06-01", children[:5] + elderly[:3], extra_person_times=4))
    return events


def test_a_year_of_a_station_gives_the_seeds_figures(api, shub):
    publish(shub, station_year())
    report = api.get("/reports/annual", params={"year": 2023, "code": TOWN}).json()
    assert report["narrative"].startswith(
        "2023年，新开岭镇社工站链接爱心资金2万余元，为困境儿童发放43人次，为困难老人发放17人次，")
    assert "持证社工14人，同比增长40%。" in report["narrative"]
    assert "实名注册志愿者200人，占人口总数的16.42%。" in report["narrative"]
    f = report["figures"]
    assert f["donations_money_fen"]["value"] == 2_345_600
    assert f["donations_money_fen"]["text"] == "2万余元"
    assert f["donations_goods_value_fen"]["value"] == 300_000
    assert f["allocations_person_times"]["value"] == 60
    assert f["allocations_person_times"]["by_category"]["child_in_difficulty"] == 43
    assert f["allocations_person_times"]["by_group"] == {"child": 43, "elderly": 17}
    assert f["workers_certified"] == {**f["workers_certified"], "value": 14, "previous": 10,
                                      "growth_percent": 40.0}
    assert f["certified_workers"] == {**f["certified_workers"], "value": 14, "previous": 10,
                                      "growth_percent": 40.0, "label": "持证社工"}
    assert f["certified_workers"]["by"]["level"] == {
        "assistant": {"value": 9, "previous": 10}, "intermediate": {"value": 5, "previous": 0}}
    assert f["volunteers_total"]["value"] == 200
    assert f["volunteers_share_percent"]["value"] == 16.42
    assert f["visits_done"]["value"] == 10 and f["visits_on_time_rate"]["value"] == 50.0
    assert f["activities_person_times"]["value"] == 12
    assert f["clients_active"]["value"] == 29 and f["clients_active"]["previous"] == 29

    by_cat = stats(api, level="township", code=TOWN, period="2023", breakdown="category")
    cell = by_cat["breakdown"]["category"]["child_in_difficulty"]["allocations_person_times"]
    assert (cell["value"], cell["previous"], cell["growth_percent"]) == (43, 0, None)
    by_group = stats(api, level="township", code=TOWN, period="2023", breakdown="group")
    assert by_group["breakdown"]["group"]["elderly"]["allocations_person_times"]["value"] == 17
    assert by_group["figures"]["workers_certified"]["by"]["level"] == {
        "assistant": {"value": 9, "previous": 10}, "intermediate": {"value": 5, "previous": 0}}


def test_activity_attendees_count_in_person_times_by_age_group_and_sex(api, shub):
    elder = S.client(["solitary_elderly"], "elderly")
    publish(shub, [S.registered(elder, "2019-09-01"),
                   S.activity("2019-10-09", [elder], "free_clinic", attendees={
                       "total": 40, "by_age_group": {"elderly": 25, "child": 5},
                       "by_sex": {"female": 22, "male": 15}})])
    f = stats(api, level="township", code=TOWN, period="2019-10", breakdown="group")
    figures = f["figures"]
    assert figures["activities_person_times"]["value"] == 41
    assert figures["activities_attendees"]["value"] == 40
    assert figures["activities_attendees"]["by"]["sex"] == {
        "female": {"value": 22, "previous": 0}, "male": {"value": 15, "previous": 0}}
    assert figures["person_times"]["value"] == 41
    groups = f["breakdown"]["group"]
    assert groups["elderly"]["activities_person_times"]["value"] == 26
    assert groups["child"]["activities_attendees"]["value"] == 5


def test_figures_land_in_the_period_of_their_effective_date(api, shub):
    late_entry = S.donation("2021-07-09", 123_400)          # entered today, happened in 2021
    publish(shub, [late_entry])
    assert stats(api, level="county", code="659002", period="2021-07")["figures"][
        "donations_money_fen"]["value"] == 123_400
    assert stats(api, level="township", code=TOWN, period="2021-07-09")["figures"][
        "donations_money_fen"]["value"] == 123_400
    may = stats(api, level="township", code=TOWN, period="2023-05")["figures"]
    assert may["allocations_person_times"]["value"] == 6      # 4 + 2, and the reversed one not
    assert may["allocations_reversed"]["value"] == 1
    assert stats(api, level="township", code=TOWN, period=str(date.today().year))["figures"][
        "donations_money_fen"]["value"] == 0


def test_a_redelivered_event_is_counted_once(api, shub):
    event = S.donation("2020-02-02", 50_000)
    publish(shub, [event])
    with kombu.Connection(shub.settings.amqp_uri) as conn:
        producer = conn.Producer()
        for _ in range(3):
            producer.publish(event, exchange=shub.settings.exchange, routing_key=event["type"],
                             serializer="json", delivery_mode=2)
    time.sleep(0.5)
    assert stats(api, level="county", code="659002", period="2020")["figures"][
        "donations_money_fen"]["value"] == 50_000
    counts = {r["type"]: r for r in api.get("/stats/events").json()["items"]}
    assert counts["donation.received.v1"]["counted"] >= 1


class PingData(Schema):
    note_code = fields.String(required=True)


@pytest.fixture
def unknown_type():
    """A type registered for this test only (other tests check the registry is the contract)."""
    etype = hub_events.register("test.pinged", 1, PingData, "test", "A type without rules.")
    yield etype
    hub_events.REGISTRY.pop(etype.key, None)


def test_a_type_stats_does_not_know_is_ignored_but_counted(api, shub, unknown_type):
    ping = hub_events.make_event(unknown_type.key, "/hub/659002/test", "ping/1",
                                 {"note_code": "x"})
    publish(shub, [ping, S.visit_scheduled(S.client(), "2023-01-01")])
    counts = {r["type"]: r for r in api.get("/stats/events").json()["items"]}
    assert counts["test.pinged.v1"] == {"type": "test.pinged.v1", "counted": 0, "ignored": 1}
    assert counts["visit.scheduled.v1"] == {"type": "visit.scheduled.v1", "counted": 1,
                                            "ignored": 0}


def test_annual_report_downloads(api):
    resp = api.get("/reports/annual", params={"year": 2023, "code": TOWN, "format": "csv"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/csv")
    assert "annual-report-659002100-2023.csv" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    table = {r[1]: r for r in rows if len(r) >= 6}
    assert table["donations_money_fen"][2:6] == ["元", "23456.00", "99999.00", "-76.54"]
    assert table["workers_certified"][3:6] == ["14", "10", "40.0"]
    assert any("为困境儿童发放43人次" in c for r in rows for c in r)
    resp = api.get("/reports/annual", params={"year": 2023, "code": TOWN, "format": "xlsx"})
    assert resp.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(resp.content)).active
    cells = {row[1]: row for row in sheet.iter_rows(values_only=True) if row and len(row) > 4}
    assert cells["allocations_person_times"][3] == 60
    assert cells["volunteers_share_percent"][3] == 16.42


def test_bad_input_is_refused_naming_the_field(api):
    for params, field in (({"level": "country", "code": TOWN, "period": "2023"}, "level"),
                          ({"level": "township", "code": TOWN, "period": "2023-13"}, "period"),
                          ({"level": "township", "code": "659002", "period": "2023"}, "code"),
                          ({"level": "township", "code": TOWN}, "period"),
                          ({"level": "province", "code": "659002", "period": "2023"}, "level")):
        resp = api.get("/stats", params=params)
        assert resp.status_code == 422, (params, resp.text)
        assert field in resp.json()["error"]["fields"], resp.text
    resp = api.get("/stats", params={"level": "township", "code": "659002199", "period": "2023"})
    assert resp.status_code == 404 and "code" in resp.json()["error"]["fields"]
    resp = api.get("/reports/annual", params={"year": 1999, "code": TOWN})
    assert resp.status_code == 422 and "year" in resp.json()["error"]["fields"]
    resp = api.get("/reports/annual", params={"year": 2023, "code": TOWN, "format": "pdf"})
    assert resp.status_code == 422 and "format" in resp.json()["error"]["fields"]
    resp = api.post(f"/stations/{TOWN}/ratings", json={"year": 2023, "rating": "great"})
    assert resp.status_code == 422 and "rating" in resp.json()["error"]["fields"]
    resp = api.post("/stations/341721100/ratings", json={"year": 2023, "rating": "good"})
    assert resp.status_code == 422 and "code" in resp.json()["error"]["fields"]
    resp = api.post("/stats/signoff", json={"year": 2023, "code": "341721"})
    assert resp.status_code == 422 and "code" in resp.json()["error"]["fields"]
    resp = api.post("/stats/signoff", data="[]", headers={"Content-Type": "application/json"})
    assert resp.status_code == 400 and "body" in resp.json()["error"]["fields"]


def test_station_ratings_are_recorded_and_reported(api, shub):
    first = api.post(f"/stations/{TOWN}/ratings", json={"year": 2023, "rating": "good"})
    assert first.status_code == 201, first.text
    resp = api.post(f"/stations/{TOWN}/ratings", json={"year": 2023, "rating": "excellent"})
    assert resp.status_code == 201 and resp.json()["rating_label"] == "优秀"
    assert api.post("/stations/659002/ratings",
                    json={"year": 2023, "rating": "good"}).status_code == 201
    worker = shub.client(role="station_worker", township=TOWN)
    assert worker.post(f"/stations/{TOWN}/ratings",
                       json={"year": 2022, "rating": "good"}).status_code == 403
    items = api.get(f"/stations/{TOWN}/ratings").json()["items"]
    assert [(i["year"], i["rating"]) for i in items] == [(2023, "excellent")]
    report = api.get("/reports/annual", params={"year": 2023, "code": "659002"}).json()
    assert report["ratings"] == {"excellent": 1, "good": 1, "qualified": 0, "unqualified": 0}
    assert "社工站年度评定：优秀1个、良好1个。" in report["narrative"]
    assert "全县2个乡镇中已有1个建成社工站。" in report["narrative"]


def test_a_signed_off_year_is_frozen_and_late_events_are_pending(api, shub):
    child = S.client(["child_in_difficulty"], "child")
    publish(shub, [S.registered(child, "2021-01-05"), S.allocation(child, "2021-02-01", 8_000)])
    before = stats(api, level="county", code="659002", period="2021")
    assert before["signed_off"] is False
    resp = api.post("/stats/signoff", json={"year": 2021, "code": "659002"})
    assert resp.status_code == 201, resp.text
    assert api.post("/stats/signoff", json={"year": 2021, "code": "659002"}).status_code == 409
    publish(shub, [S.allocation(child, "2021-03-01", 5_000),        # late, for 2021
                   S.allocation(child, "2022-01-10", 7_000)])       # 2022 is open
    after = stats(api, level="county", code="659002", period="2021")
    assert after["signed_off"] is True and after["late_events"] == 1
    assert after["figures"]["allocations_person_times"] == before["figures"][
        "allocations_person_times"]
    assert after["pending_corrections"] == {"allocations_person_times": 1,
                                            "allocations_value_fen": 5_000, "person_times": 1}
    month = stats(api, level="township", code=TOWN, period="2021-03")
    assert month["figures"]["allocations_person_times"]["value"] == 0
    assert month["pending_corrections"]["allocations_person_times"] == 1


# -- what leaves the county: small counts suppressed (stats/disclosure.py) -----------------------
SMALL = "659002101"          # 托喀依乡: three clients in 2018, beside 新开岭镇's twelve


@pytest.fixture(scope="module")
def year_2018(shub):
    big = ([S.client(["solitary_elderly"], "elderly") for _ in range(8)]
           + [S.client(["child_in_difficulty"], "child", "high") for _ in range(4)])
    few = [S.client(["solitary_elderly"], "elderly", village="659002101001"),
           S.client(["solitary_elderly", "extreme_poverty"], "elderly", village="659002101001"),
           S.client(["child_in_difficulty"], "child", "high", village="659002101001")]
    events = [S.registered(c, "2018-03-01") for c in big + few]
    events += [S.allocation(c, "2018-06-01", 20_000) for c in big[:9] + few[:2]]
    events += [S.visit_completed(c, "2018-04-01") for c in big[:7] + few[:1]]
    publish(shub, events)


def counts_shown(answer):
    """Every number a reader sees of the figures that count people, in any breakdown."""
    tables = [answer["figures"]] + [figures for dim in (answer.get("breakdown") or {}).values()
                                    for figures in dim.values()]
    for figures in tables:
        for key, f in figures.items():
            if key in NOT_PEOPLE or key in FOLLOWS or (key in domain.DERIVED_LABELS
                                                       and key != "person_times"):
                continue
            yield from (f.get("value"), f.get("previous"))
            yield from (n for dim in ("by_category", "by_group") for n in (f.get(dim) or {})
                        .values())
            yield from (c[field] for values in (f.get("by") or {}).values()
                        for c in values.values() for field in ("value", "previous"))


def reader_equations(answers, county, townships):
    """The cells a reader outside the county sees of a county and its townships in a year, and
    the sums they know: each figure = its categories = its age groups = each detail; the county
    = its townships; person-times = their sources; a stock's change = the year's flows."""
    cells, equations = {}, []
    for place, answer in answers.items():
        for dim, values in [("", {"": answer["figures"]})] + list(answer["breakdown"].items()):
            for value, figures in values.items():
                pick = ((value, "") if dim == "category" else ("", value)) if dim else ("", "")
                for key, f in figures.items():
                    if key in NOT_PEOPLE or key in FOLLOWS or (
                            key in domain.DERIVED_LABELS and key != "person_times"):
                        continue
                    cells[(place, key) + pick + ("",)] = f["value"]
                    for detail, parts in (f.get("by") or {}).items():
                        if key != "person_times":
                            for part, n in parts.items():
                                cells[(place, key, "", "", f"{detail}:{part}")] = n["value"]
    for place in answers:
        keys = {k[1:] for k in cells if k[0] == place}
        for figure in {k[0] for k in keys}:
            total = (place, figure, "", "", "")
            for parts in ([k for k in keys if k[0] == figure and k[1]],
                          [k for k in keys if k[0] == figure and k[2]],
                          *[[k for k in keys if k[0] == figure and k[3].startswith(d + ":")]
                            for d in {k[3].partition(":")[0] for k in keys if k[3]}]):
                if parts:
                    equations.append({total: -1, **{(place,) + k: 1 for k in parts}})
        for category, group in {k[1:3] for k in keys if k[0] == "person_times"}:
            equations.append({(place, "person_times", category, group, ""): -1,
                              **{(place, s, category, group, ""): 1
                                 for s in domain.PERSON_TIME_SOURCES.values()}})
        for stock, flows in BALANCES.items():
            equations.append({(place, stock, "", "", ""): 1,
                              **{(place, f, "", "", ""): -sign for f, sign in flows}})
    for key in {k[1:] for k in cells}:
        equations.append({(county,) + key: -1, **{(t,) + key: 1 for t in townships}})
    return cells, equations


def test_a_township_of_three_clients_shows_no_small_count_outside_the_county(api, shub,
                                                                                year_2018):
    exact = stats(api, level="township", code=SMALL, period="2018", breakdown="group")
    assert exact["figures"]["clients_registered"]["value"] == 3          # county staff: exact
    assert exact["figures"]["allocations_person_times"]["value"] == 2
    viewer = shub.client(role="province_viewer")
    answers = {}
    for level, code in (("county", "659002"), ("township", TOWN), ("township", SMALL)):
        answers[code] = stats(viewer, level=level, code=code, period="2018", breakdown="category")
        answers[code]["breakdown"].update(stats(viewer, level=level, code=code, period="2018",
                                                breakdown="group")["breakdown"])
    seen = answers[SMALL]
    registered = seen["figures"]["clients_registered"]
    assert registered["value"] is None and registered["text"] == "<5"
    assert registered["suppressed"] == {"value": "<5", "growth_percent": "x",
                                        "by.risk.low.value": "<5", "by.risk.high.value": "<5"}
    assert seen["figures"]["allocations_value_fen"]["suppressed"]["value"] == "x"
    assert seen["suppression"] == {"k": 5, "count": "<5", "dependent": "x"}
    assert "pending_corrections" not in seen
    for answer in answers.values():
        assert not [n for n in counts_shown(answer) if n and abs(n) < 5], answer["code"]
    # and no hidden cell can be worked out from the shown ones and the totals they make up
    cells, equations = reader_equations(answers, "659002", [TOWN, SMALL])
    hidden = {cell for cell, n in cells.items() if n is None}
    assert (SMALL, "clients_registered", "", "", "") in hidden
    assert solving.recoverable(equations, hidden) == set()
    # the county's and the bigger township's figures are still there where they can be
    assert answers["659002"]["figures"]["clients_registered"]["value"] == 15


def test_outside_the_county_downloads_show_the_mark_and_years_down_to_townships_only(api, shub,
                                                                                     year_2018):
    viewer = shub.client(role="province_viewer")
    report = viewer.get("/reports/annual", params={"year": 2018, "code": SMALL}).json()
    assert report["figures"]["clients_registered"]["value"] is None
    assert "发放2人次" not in report["narrative"] and "3人" not in report["narrative"]
    assert report["narrative"].endswith("为保护个人信息，部分数字未予公布。")
    resp = viewer.get("/reports/annual", params={"year": 2018, "code": SMALL, "format": "csv"})
    rows = {r[1]: r for r in csv.reader(io.StringIO(resp.content.decode("utf-8-sig")))
            if len(r) >= 6}
    assert rows["clients_registered"][3:6] == ["<5", "0", "x"]
    assert rows["allocations_value_fen"][3] == "x"
    resp = viewer.get("/reports/annual", params={"year": 2018, "code": SMALL, "format": "xlsx"})
    sheet = openpyxl.load_workbook(io.BytesIO(resp.content)).active
    cells = {row[1]: row for row in sheet.iter_rows(values_only=True) if row and len(row) > 4}
    assert cells["clients_registered"][3] == "<5"
    mine = api.get("/reports/annual", params={"year": 2018, "code": SMALL, "format": "csv"})
    assert "clients_registered,人,3," in mine.content.decode("utf-8-sig")
    for params, field in (({"level": "village", "code": "659002101001", "period": "2018"},
                           "level"),
                          ({"level": "township", "code": SMALL, "period": "2018-06"}, "period")):
        resp = viewer.get("/stats", params=params)
        assert resp.status_code == 403 and field in resp.json()["error"]["fields"], resp.text
    resp = viewer.get("/reports/annual", params={"year": 2018, "code": "659002101001"})
    assert resp.status_code == 403 and "code" in resp.json()["error"]["fields"]


def rollup_snapshot(hub):
    with hub.db("stats") as conn:
        return {table: conn.execute(f"SELECT place_code, kind, period, measure, category, "
                                    f"age_group, detail, n FROM {table} WHERE n <> 0 "
                                    "ORDER BY 1, 2, 3, 4, 5, 6, 7").fetchall()
                for table in ("stats_rollup", "stats_pending")}


def test_rebuild_from_the_archive_arrives_at_the_same_figures(shub):
    live = rollup_snapshot(shub)
    assert len(live["stats_rollup"]) > 1000 and live["stats_pending"]
    s = shub.settings
    env = {"HUB_DB_PREFIX": s.db_prefix, "HUB_DATA_KEY": s.data_key, "HUB_JWT_SECRET": s.jwt_secret,
           "HUB_SERVICES": "stats", "COUNTY_CONFIG": s.county_config, "HUB_AMQP_URI": s.amqp_uri}
    result = CliRunner().invoke(main, ["stats", "rebuild"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "rebuilt from" in result.output and "event(s)" in result.output
    assert rollup_snapshot(shub) == live
    # and again, directly, with a sign-off's late event kept pending
    totals = rebuild(dataclasses.replace(s, only_services=("stats",)), StatsConfig(),
                     progress=False)
    assert totals["events"] >= 330
    assert rollup_snapshot(shub) == live
