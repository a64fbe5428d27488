"""The prefecture tier, pure: where an aggregator's facts are summed (county, prefecture and its
own area, each in the same rows), the roles' settings, and the narrative of a whole area worded
as the seed's 玉溪 paragraph."""
from datetime import date

import pytest

from stats import domain
from stats.role import StatsConfig
from stats.rollups import Rollups


def test_a_county_belongs_to_the_prefecture_of_its_first_four_digits():
    assert domain.prefecture_of("341721") == "341700"
    assert domain.prefecture_of("530402") == "530400"


def facts():
    day = date(2023, 5, 14)
    return [domain.fact("visits.done", day, ("341721", "341721100", "341721100001")),
            domain.fact("visits.done", day, ("341722", "341722100", "")),
            domain.fact("visits.done", day, ("340825", "340825100", ""), n=3)]


def year_totals(rows):
    return {row[0]: n for row, n in rows.items() if row[1] == "y" and row[3:] == (
        "visits.done", "", "", "")}


def test_the_province_adds_each_fact_to_its_county_its_prefecture_and_the_province():
    rollups = Rollups(StatsConfig(role="province", province_code="340000"))
    assert year_totals(rollups.rows(facts())) == {
        "341721": 1, "341722": 1, "340825": 3, "341700": 2, "340800": 3, "340000": 5}


def test_a_prefectures_aggregator_adds_to_its_counties_and_itself_once():
    rollups = Rollups(StatsConfig(role="prefecture", province_code="341700"))
    assert year_totals(rollups.rows(facts()[:2])) == {"341721": 1, "341722": 1, "341700": 2}


def test_a_county_hub_keeps_village_township_and_county():
    rollups = Rollups(StatsConfig())
    assert year_totals(rollups.rows(facts()[:1])) == {
        "341721100001": 1, "341721100": 1, "341721": 1}


def test_the_roles_and_the_prefectures_names_come_from_the_environment():
    config = StatsConfig.from_env({"HUB_ROLE": "province", "HUB_PROVINCE_CODE": "340000",
                                   "HUB_PREFECTURES": " 341700=池州市, 340800=安庆市 ,"})
    assert config.is_province and config.prefectures == (("340800", "安庆市"),
                                                         ("341700", "池州市"))
    assert config.prefecture_name("341700") == "池州市" and config.prefecture_name("341000") is None
    city = StatsConfig.from_env({"HUB_ROLE": "prefecture", "HUB_PROVINCE_CODE": "341700",
                                 "HUB_PREFECTURES": "341700=池州市"})
    assert city.is_province and city.role == "prefecture" and city.province_name == "池州市"
    assert StatsConfig.from_env({"HUB_PREFECTURES": "nonsense"}).prefectures == ()  # a county


@pytest.mark.parametrize("env, says", [
    ({"HUB_ROLE": "prefecture", "HUB_PROVINCE_CODE": "340000"}, "HUB_PROVINCE_CODE must be a "
                                                                 "prefecture's code"),
    ({"HUB_ROLE": "province", "HUB_PROVINCE_CODE": "341700"}, "HUB_PROVINCE_CODE must be a "
                                                               "province's code"),
    ({"HUB_ROLE": "city"}, "HUB_ROLE must be one of county, province, prefecture"),
    ({"HUB_ROLE": "province", "HUB_PREFECTURES": "341700"}, "HUB_PREFECTURES: '341700' is not"),
    ({"HUB_ROLE": "province", "HUB_PREFECTURES": "341721=东至县"},
     "HUB_PREFECTURES: '341721=东至县'"),
    ({"HUB_ROLE": "province", "HUB_PREFECTURES": "530400=玉溪市"}, "530400 is not in this "
                                                                   "aggregator's area 340000"),
    ({"HUB_ROLE": "prefecture", "HUB_PROVINCE_CODE": "341700",
      "HUB_PREFECTURES": "340800=安庆市"}, "340800 is not in this aggregator's area 341700"),
    ({"HUB_ROLE": "province", "HUB_PREFECTURES": "341700=池州市,341700=池州"},
     "names 341700 twice"),
])
def test_a_setting_that_will_not_do_is_named(env, says):
    with pytest.raises(ValueError, match=says):
        StatsConfig.from_env(env)


# the seed's 玉溪 paragraph: 2,104 certified workers (+40%), 369,320 volunteers, 16.42%
SEED_FIGURES = {
    domain.CERTIFIED_WORKERS_FIGURE: {"value": 2104, "previous": 1503,
                                      "growth_percent": domain.growth(2104, 1503)},
    "volunteers_total": {"value": 369_320},
    "volunteers_share_percent": {"value": 16.42},
}


def test_a_prefectures_report_reads_like_the_seeds_yuxi_paragraph():
    text = domain.narrative(2023, "prefecture", "玉溪市", SEED_FIGURES)
    assert "全市取得社会工作者职业水平证书的人员已达到2104人，同比增长40%。" in text
    assert "全市实名注册志愿者达369320人，占全市人口总数的16.42%。" in text
    points = {**SEED_FIGURES, domain.SERVICE_POINTS_FIGURE: {"value": 711}}
    assert ("全市实名注册志愿者达369320人，占全市人口总数的16.42%，城乡社区志愿服务站点达711个。"
            in domain.narrative(2023, "prefecture", "玉溪市", points))
    province = domain.narrative(2023, "province", "云南省", SEED_FIGURES)
    assert "全省实名注册志愿者达369320人，占全省人口总数的16.42%。" in province
    county = domain.narrative(2023, "county", "东至县", SEED_FIGURES)
    assert "全县取得社会工作者职业水平证书的人员已达到2104人" in county
    town = domain.narrative(2023, "township", "新开岭镇", SEED_FIGURES)
    assert "持证社工2104人，同比增长40%。" in town and "全" not in town


def test_a_prefectures_station_coverage_speaks_of_the_whole_city():
    coverage = {"station_coverage_percent": {"value": 100.0, "stations_open": 30,
                                             "townships": 30}}
    assert "已实现全市30个乡镇社工站建设全覆盖。" in domain.narrative(2023, "prefecture", "池州市",
                                                                coverage)
