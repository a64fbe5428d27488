"""The station network's rules on their own: where each tier stands and under whom, what a
change of a station is, the stations a county file opens, and the figures of its openings
(the same whatever order the events arrive in), worded as the seed reports word them."""
import itertools
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
import yaml

from hub.county import CountyConfigError, load_county
from stats import domain, network
from stats.sample import Sample

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "counties" / "dongzhi-341721.yaml"
COUNTY = load_county(DEMO)
S = Sample()
D = date.fromisoformat


def station_event(kind, code, tier, place, opened, closed=None, opening=1, parent=None):
    data = {"station_code": code, "county_code": "341721", "tier": tier, "parent_code": parent,
            "place_code": place, "opened_on": opened, "closed_on": closed, "opening": opening,
            "staff_count": 0, "effective_date": closed or opened}
    return S.event(f"station.{kind}.v1", f"station/{code}", data)


def stocks(events):
    """stations.open / service_points.open by (measure, day, place, tier) after the events, as
    rollups apply them: each opening's latest event counts."""
    latest = {}
    for event in events:
        key, opening = network.opening_of(event)
        if opening.newer_than(latest.get(key)):
            latest[key] = opening
    total = Counter()
    for (county, _, _), opening in latest.items():
        for key, n in network.opening_contribution(county, opening):
            total[(key.measure, key.day, key.township, key.village, key.details)] += n
    return {k: n for k, n in total.items() if n}


# -- where a station stands, under whom ----------------------------------------------------------
@pytest.mark.parametrize("tier, place, ok", [
    ("county", "341721", True), ("county", "341721100", False),
    ("township", "341721100", True), ("township", "341721999", False),
    ("village", "341721100001", True), ("village", "341721100999", False),
    ("service_point", "341721", True), ("service_point", "341721101201", True),
    ("service_point", "110101", False),
])
def test_each_tier_stands_at_a_place_of_its_own_kind_in_the_county(tier, place, ok):
    assert (network.place_errors(tier, place, COUNTY) == {}) is ok


def test_a_parent_is_of_the_tier_above_and_holds_the_place():
    county = {"code": "341721", "tier": "county", "place_code": "341721", "closed_on": None}
    town = {"code": "341721100", "tier": "township", "place_code": "341721100",
            "closed_on": None}
    ok = network.parent_errors
    assert ok("T", "township", "341721101", "341721", county) == {}
    assert ok("R", "village", "341721100001", "341721100", town) == {}
    assert ok("P", "service_point", "341721100001", "341721100", town) == {}
    assert ok("P", "service_point", "341721", None, None) == {}
    assert "parent_code" in ok("T", "township", "341721101", None, None)      # needed
    assert "parent_code" in ok("C", "county", "341721", "341721", county)     # none for it
    assert "parent_code" in ok("R", "village", "341721101201", "341721100", town)   # elsewhere
    assert "parent_code" in ok("R", "village", "341721100001", "341721", county)    # tier
    assert "parent_code" in ok("T", "township", "341721101", "X9", None)      # unknown
    closed = {**town, "closed_on": D("2024-01-01")}
    assert "closed" in str(ok("R", "village", "341721100001", "341721100", closed))


def test_closed_before_opened_names_closed_on():
    assert network.date_errors(D("2024-05-01"), D("2024-04-30")) == {
        "closed_on": ["must not be before opened_on (2024-05-01)"]}
    assert network.date_errors(D("2024-05-01"), D("2024-05-01")) == {}


def test_closing_reopening_and_correcting_a_station():
    station = {"name": "站", "parent_code": "341721", "staff": [], "opened_on": D("2021-06-01"),
               "closed_on": None, "opening": 1}
    assert network.change(station, {"name": "站"}).event is None
    assert network.change(station, {"name": "新站"}).event == "station.changed.v1"
    closing = network.change(station, {"closed_on": D("2023-06-30")})
    assert (closing.event, closing.opening) == ("station.closed.v1", 1)
    closed = {**station, "closed_on": D("2023-06-30")}
    again = network.change(closed, {"closed_on": None, "opened_on": D("2024-03-01")})
    assert (again.event, again.opening) == ("station.opened.v1", 2)        # a new opening
    undone = network.change(closed, {"closed_on": None})
    assert (undone.event, undone.opening) == ("station.changed.v1", 1)     # a mistake undone
    moved = network.change(closed, {"closed_on": D("2023-07-31")})
    assert (moved.event, moved.opening) == ("station.changed.v1", 1)


# -- the county file ---------------------------------------------------------------------------
def test_the_demo_county_file_opens_its_three_tiers_and_service_points():
    seeded = network.seeded(COUNTY)
    tiers = Counter(s["tier"] for s in seeded)
    assert tiers == {"county": 1, "township": 15, "village": 15, "service_point": 2}
    codes = [s["code"] for s in seeded]
    assert codes[0] == "341721" and len(set(codes)) == len(codes)
    for s in seeded:                              # parents come first
        assert s["parent_code"] is None or codes.index(s["parent_code"]) < codes.index(s["code"])
    town = next(s for s in seeded if s["code"] == "341721100")
    assert (town["name"], town["parent_code"], town["opened_on"]) == (
        "尧渡镇社工站", "341721", D("2021-06-01"))


def test_a_county_file_names_a_bad_station_key(tmp_path):
    raw = yaml.safe_load(DEMO.read_text(encoding="utf-8"))
    raw["service_points"].append({"code": "X1", "name": "点", "place": "341721100999",
                                  "opened_on": "2023-01-01", "parent": "nowhere"})
    raw["townships"][0]["station_opened_on"] = None          # its room has no station now
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CountyConfigError) as caught:
        load_county(path)
    for key in ("service_points.2.place", "service_points.2.parent",
                "townships.0.villages.0.room_opened_on"):
        assert key in str(caught.value)
    del raw["service_points"]                                # the old keys alone still load
    for town in raw["townships"]:
        town["station_opened_on"] = "2022-01-01"
        for village in town["villages"]:
            village.pop("room_opened_on", None)
    raw["county"].pop("station_opened_on")
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    old = load_county(path)
    assert old.service_points == () and old.station_opened_on == D("2022-01-01")
    assert Counter(s["tier"] for s in network.seeded(old)) == {"county": 1, "township": 15}


# -- figures -------------------------------------------------------------------------------------
def test_openings_count_the_same_whatever_order_their_events_arrive_in():
    events = [
        station_event("opened", "341721100", "township", "341721100", "2021-06-01"),
        station_event("changed", "341721100", "township", "341721100", "2021-05-01"),
        station_event("closed", "341721100", "township", "341721100", "2021-05-01",
                      "2023-06-30"),
        station_event("opened", "341721100", "township", "341721100", "2024-03-01", opening=2),
        station_event("opened", "R1", "village", "341721100001", "2022-01-01"),
        station_event("opened", "P1", "service_point", "341721100", "2023-03-05"),
    ]
    expected = {
        ("stations.open", D("2021-05-01"), "341721100", "", ("tier:township",)): 1,
        ("stations.open", D("2023-06-30"), "341721100", "", ("tier:township",)): -1,
        ("stations.open", D("2024-03-01"), "341721100", "", ("tier:township",)): 1,
        ("stations.open", D("2022-01-01"), "341721100", "341721100001", ("tier:village",)): 1,
        ("service_points.open", D("2023-03-05"), "341721100", "", ()): 1,
    }
    for order in itertools.islice(itertools.permutations(events), 0, None, 37):
        assert stocks(order) == expected


def test_coverage_comes_from_the_stations_open_and_the_narrative_words_it():
    values = domain.figure_values({}, {("stations.open", "", "", ""): 28,
                                       ("stations.open", "", "", "tier:township"): 15,
                                       ("stations.open", "", "", "tier:village"): 12,
                                       ("stations.open", "", "", "tier:county"): 1,
                                       ("service_points.open", "", "", ""): 711})
    values.update(domain.derived_values(values, 416_000, 15, villages=30))
    assert values["stations_open"]["by"]["tier"] == {"township": 15, "village": 12, "county": 1}
    assert values["station_coverage_percent"] == {"value": 100.0, "stations_open": 15,
                                                  "townships": 15}
    assert values["village_room_coverage_percent"]["value"] == 40.0
    assert values["service_points_open"]["value"] == 711
    text = domain.narrative(2023, "county", "东至县", values)
    assert "已实现全县15个乡镇社工站建设全覆盖，建成村（社区）社工室12个。" in text
    assert "城乡社区志愿服务站点达711个" in text
    values.update(domain.derived_values(values, 416_000, 18, villages=30))
    assert "全县18个乡镇中已有15个建成社工站" in domain.narrative(2023, "county", "东至县", values)
    assert domain.derived_values(values, 0, 0)["station_coverage_percent"]["value"] is None
