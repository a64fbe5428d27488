"""The station network of a county hub over the real broker and database: the county file's
stations opened once at start, the register through the API (open, change, close, open again)
and a spreadsheet, its events, and the figures and narrative the seed reports speak in.

The hub is the demo county's (deploy/counties/dongzhi-341721.yaml): a county station, 15
township stations, 15 village rooms and 2 volunteer service points, all opened before 2024.
"""
import csv
import io
import uuid
from datetime import date

import pytest
from click.testing import CliRunner
from psycopg.types.json import Jsonb

from hub.db import Database
from stats.county import publish_profile
from stats.sample import Sample
from support.hub import running_hub, test_settings, wait_for
from tooling.cli import main

COUNTY = "341721"
TOWN, OTHER_TOWN = "341721100", "341721101"
TODAY = date.today().isoformat()
S = Sample()


@pytest.fixture(scope="module")
def nhub():
    settings = test_settings(prefix=f"sn{uuid.uuid4().hex[:6]}")
    with running_hub(settings, ["stats", "gateway"]) as hub:
        wait_for(lambda: seeded_events(hub) == 33, timeout=30)
        yield hub


@pytest.fixture(scope="module")
def api(nhub):
    return nhub.client()


def seeded_events(hub):
    with hub.db("stats") as conn:
        return conn.execute("SELECT count(*) FROM hub_outbox WHERE type = 'station.opened.v1'"
                            ).fetchone()[0]


def ok(resp, status=200):
    assert resp.status_code == status, resp.text
    return resp.json()


def publish(hub, events):
    """Events into stats' outbox, as a producer's transaction writes them; wait until taken."""
    with hub.db("stats") as conn:
        conn.cursor().executemany(
            "INSERT INTO hub_outbox (event_id, type, subject, event) VALUES (%s, %s, %s, %s)",
            [(e["id"], e["type"], e["subject"], Jsonb(e)) for e in events])
    wait_for(lambda: taken(hub, [e["id"] for e in events]), timeout=30)


def taken(hub, ids):
    with hub.db("stats") as conn:
        return conn.execute("SELECT count(*) FROM hub_inbox WHERE event_id = ANY(%s::uuid[])",
                            (ids,)).fetchone()[0] == len(ids)


def station_events(hub, code):
    with hub.db("stats") as conn:
        return [(t, e["data"]) for t, e in conn.execute(
            "SELECT type, event FROM hub_outbox WHERE subject = %s ORDER BY position",
            (f"station/{code}",))]


def room(code, place="341721100201", **extra):
    return {"code": code, "name": "七里村社工室", "tier": "village", "parent_code": TOWN,
            "place_code": place, "opened_on": "2025-03-01", **extra}


def test_the_county_file_opens_the_network_once(nhub, api):
    towns = ok(api.get("/stations", params={"tier": "township", "limit": 10}))
    assert len(towns["items"]) == 10 and towns["next_cursor"]
    rest = ok(api.get("/stations", params={"tier": "township", "cursor": towns["next_cursor"]}))
    assert len(rest["items"]) == 5 and rest["next_cursor"] is None
    assert {s["parent_code"] for s in towns["items"] + rest["items"]} == {COUNTY}
    county = ok(api.get(f"/stations/{COUNTY}"))
    assert (county["name"], county["tier"], county["tier_label"], county["opened_on"]) == (
        "东至县社工总站", "county", "县级社工总站", "2021-03-01")
    inside = ok(api.get("/stations", params={"place_code": TOWN, "open_on": "2024-12-31"}))
    assert {s["code"] for s in inside["items"]} == {TOWN, "341721100001", "341721100001-V1"}
    # a restart (the same start-up work again) opens nothing twice
    database = Database(nhub.settings, "stats", min_size=1, max_size=1,
                        dsn=nhub.settings.database_dsn("stats"))
    try:
        publish_profile(database, nhub.settings)
    finally:
        database.close()
    assert seeded_events(nhub) == 33


def test_open_change_close_and_open_again(nhub, api):
    worker = S.worker("2024-01-05")
    publish(nhub, [worker])                         # stats hears of the worker from resources
    worker_id = worker["data"]["worker_id"]
    code = f"R{uuid.uuid4().hex[:8]}"
    made = ok(api.post("/stations", json=room(code, staff=[worker_id])), 201)
    assert (made["township_code"], made["staff"], made["open"]) == (TOWN, [worker_id], True)
    ok(api.patch(f"/stations/{code}", json={"name": "七里村社会工作室", "staff": []}))
    closed = ok(api.patch(f"/stations/{code}", json={"closed_on": "2025-09-30"}))
    assert (closed["open"], closed["closed_on"]) == (False, "2025-09-30")
    again = ok(api.patch(f"/stations/{code}", json={"closed_on": None, "opened_on": TODAY}))
    assert (again["open"], again["opening"], again["opened_on"]) == (True, 2, TODAY)
    assert ok(api.get(f"/stations/{code}"))["name"] == "七里村社会工作室"
    kinds = [(t, d["opening"], d["staff_count"], d["closed_on"])
             for t, d in station_events(nhub, code)]
    assert kinds == [("station.opened.v1", 1, 1, None), ("station.changed.v1", 1, 0, None),
                     ("station.closed.v1", 1, 0, "2025-09-30"), ("station.opened.v1", 2, 0, None)]
    assert not any("name" in d for _, d in station_events(nhub, code))
    # both openings count: open from March to September 2025, and again from today
    wait_for(lambda: rooms_at(api, "341721100201", "2025-06-30") == 1, timeout=30)
    assert rooms_at(api, "341721100201", "2025-10-01") == 0
    assert rooms_at(api, "341721100201", TODAY) == 1
    left = S.worker("2024-01-05", worker_id=worker_id, kind="left")
    publish(nhub, [left])
    refused = api.patch(f"/stations/{code}", json={"staff": [worker_id]})
    assert refused.status_code == 422 and "left on" in refused.json()["error"]["fields"]["staff"][0]


def rooms_at(api, village, day):
    figures = ok(api.get("/stats", params={"level": "village", "code": village,
                                           "period": day}))["figures"]
    return figures["stations_open"].get("by", {}).get("tier", {}).get("village", {}).get(
        "value", 0)


@pytest.mark.parametrize("change, field", [
    ({"tier": "hamlet"}, "tier"),
    ({"parent_code": "NOPE"}, "parent_code"),
    ({"parent_code": OTHER_TOWN}, "parent_code"),           # the village is not in it
    ({"place_code": "110101001001"}, "place_code"),         # not in this county
    ({"place_code": "3417211002"}, "place_code"),           # not a place code at all
    ({"closed_on": "2025-02-01"}, "closed_on"),             # before it opened
    ({"staff": [str(uuid.uuid4())]}, "staff"),              # no such worker
    ({"staff": ["not-an-id"]}, "staff"),
    ({"opened_on": "2999-01-01"}, "opened_on"),
])
def test_bad_input_is_422_naming_the_field(api, change, field):
    resp = api.post("/stations", json=room(f"B{uuid.uuid4().hex[:8]}", **change))
    assert resp.status_code == 422, resp.text
    assert field in resp.json()["error"]["fields"], resp.text


def test_conflicts_refusals_and_who_sees_what(nhub, api):
    taken_place = api.post("/stations", json={**room("dup-town"), "tier": "township",
                                              "place_code": TOWN, "parent_code": COUNTY})
    assert taken_place.status_code == 409 and "place_code" in taken_place.json()["error"]["fields"]
    same_code = api.post("/stations", json=room(COUNTY, tier="service_point"))
    assert same_code.status_code == 409 and "code" in same_code.json()["error"]["fields"]
    assert api.patch("/stations/NOPE", json={"name": "x"}).status_code == 404
    children = api.patch(f"/stations/{OTHER_TOWN}", json={"closed_on": TODAY})
    assert children.status_code == 409 and "closed_on" in children.json()["error"]["fields"]
    worker = nhub.client("station_worker", township=TOWN)
    assert worker.post("/stations", json=room("W1")).status_code == 403
    assert worker.patch(f"/stations/{TOWN}", json={"name": "x"}).status_code == 403
    own = ok(nhub.client("township_admin", township=OTHER_TOWN).get("/stations"))["items"]
    assert own and {s["township_code"] for s in own} == {OTHER_TOWN}
    assert nhub.client("township_admin", township=OTHER_TOWN).get(
        f"/stations/{TOWN}").status_code == 404
    assert ok(nhub.client("province_viewer").get("/stations", params={"limit": 200}))["items"]


def test_hub_import_stations_reports_the_bad_row(nhub, tmp_path):
    buffer = io.StringIO()
    out = csv.writer(buffer)
    out.writerow(["站点编码", "站点名称", "层级", "上级站点", "所在地", "建成日期"])
    out.writerow(["IMP-1", "东流镇敬老服务站", "志愿服务站点", OTHER_TOWN, "东流镇",
                  "2024年5月1日"])
    out.writerow(["IMP-2", "菊江村社工室", "社工室", OTHER_TOWN, "341721101201", "2024/6/1"])
    out.writerow(["IMP-3", "某站", "驿站", "", "341721", "2024-06-01"])
    path = tmp_path / "stations.csv"
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))
    s = nhub.settings
    env = {"HUB_DB_PREFIX": s.db_prefix, "HUB_DATA_KEY": s.data_key,
           "HUB_JWT_SECRET": s.jwt_secret, "HUB_PG_DSN": s.pg_dsn}
    result = CliRunner().invoke(main, ["import", "stations", str(path), "--lang", "en"], env=env)
    assert result.exit_code == 1, result.output
    assert "3 row(s) read, 2 imported, 1 rejected" in result.output
    assert "line 4: 层级 (tier): must be one of county" in result.output
    point = ok(nhub.client().get("/stations/IMP-1"))
    assert (point["tier"], point["place_code"], point["opened_on"]) == (
        "service_point", OTHER_TOWN, "2024-05-01")
    assert [t for t, _ in station_events(nhub, "IMP-2")] == ["station.opened.v1"]


def test_figures_and_the_narrative_of_the_network(api):
    def year_2024():
        return ok(api.get("/stats", params={"level": "county", "code": COUNTY,
                                            "period": "2024"}))["figures"]
    figures = wait_for(lambda: (f := year_2024())["service_points_open"]["value"] == 3 and f,
                       timeout=30)             # the county file's 2 and the import's 1
    by_tier = {k: v["value"] for k, v in figures["stations_open"]["by"]["tier"].items()}
    assert by_tier == {"county": 1, "township": 15, "village": 16}
    assert figures["stations_open"]["value"] == 32
    coverage = figures["station_coverage_percent"]
    assert (coverage["value"], coverage["stations_open"], coverage["townships"]) == (100.0, 15, 15)
    assert figures["village_room_coverage_percent"]["value"] == round(16 / 30 * 100, 2)
    assert figures["stations_open"]["previous"] == 31              # at the end of 2023
    town = ok(api.get("/stats", params={"level": "township", "code": TOWN, "period": "2024"}))
    assert town["figures"]["station_coverage_percent"]["value"] == 100.0
    report = ok(api.get("/reports/annual", params={"year": 2024, "code": COUNTY}))
    assert "已实现全县15个乡镇社工站建设全覆盖，建成村（社区）社工室16个。" in report["narrative"]
    assert "全县城乡社区志愿服务站点达3个" in report["narrative"]
