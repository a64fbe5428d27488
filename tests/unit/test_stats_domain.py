"""The stats rules on their own: facts of events, stocks independent of arrival order, periods,
growth and shares, and the Chinese wording of reports."""
import copy
import itertools
import json
from collections import Counter
from datetime import date

import pytest

from stats import domain
from stats.ingest import Rejected, parse
from stats.rollups import cells_of
from stats.sample import Sample

S = Sample(county="659002", township="659002100", village="659002100001")


def summed(facts):
    total = Counter()
    for key, n in facts:
        total[key] += n
    return {k: n for k, n in total.items() if n}


def by_measure(facts, **where):
    total = Counter()
    for key, n in facts:
        if all(getattr(key, k) == v for k, v in where.items()):
            total[key.measure] += n
    return total


# -- Chinese wording ----------------------------------------------------------------------------
@pytest.mark.parametrize("fen, text", [
    (2_345_600, "2万余元"),          # the seed: 链接社会爱心资金2万余元
    (2_000_000, "2万元"),
    (2_000_001, "2万余元"),
    (52_300_000, "50余万元"),        # 整合本领域资金50余万元
    (95_000_000, "95万元"),          # 兑付奖励补助资金95万元 (exact)
    (865_000, "8000余元"),
    (800_000, "8000元"),
    (1_234, "12.34元"),
    (50_000, "500元"),
    (123_456_789_012, "10余亿元"),
    (-2_345_600, "-2万余元"),
])
def test_money_is_rounded_the_way_reports_do(fen, text):
    assert domain.approx_yuan(fen) == text


def test_growth_and_shares_round_half_up():
    assert domain.growth(14, 10) == 40.0
    assert domain.growth(2104, 1503) == 39.99          # the seed's 2,104 "up 40%"
    assert domain.percent_text(domain.growth(2104, 1503), 1) == "40%"
    assert domain.growth(5, 0) is None and domain.growth(0, 4) == -100.0
    assert domain.share(369_320, 2_249_200) == 16.42    # the seed's volunteers, 16.42%
    assert domain.share(200, 1218) == 16.42
    assert domain.share(1, 0) is None
    assert domain.percent_text(40.0) == "40%" and domain.percent_text(16.425) == "16.43%"


def test_periods_and_the_same_period_a_year_earlier():
    p = domain.parse_period("2024-02")
    assert (p.kind, p.start, p.end) == ("m", date(2024, 2, 1), date(2024, 2, 29))
    assert domain.parse_period("2024-02-29").previous_year().text == "2023-02-28"
    assert domain.parse_period("2023").previous_year().text == "2022"
    for bad in ("23", "2023-13", "2023-02-30", "May 2023", ""):
        with pytest.raises(ValueError):
            domain.parse_period(bad)


# -- facts ----------------------------------------------------------------------------------------
def test_an_allocation_counts_a_person_time_under_the_clients_categories_then():
    child = S.client(["child_in_difficulty", "left_behind_child"], "child")
    event = S.allocation(child, "2023-03-05", 5000)
    facts = domain.facts_of(event)
    keys = {k.measure: k for k, _ in facts}
    pt = keys["allocations.person_times"]
    assert (pt.day, pt.county, pt.township, pt.categories, pt.group) == (
        date(2023, 3, 5), "659002", "659002100", ("child_in_difficulty", "left_behind_child"),
        "child")
    assert by_measure(facts) == {"allocations.person_times": 1, "allocations.value_fen": 5000}
    # a reversal takes it back in the allocation's own period
    reversal = domain.facts_of(S.reversal(event, "2023-04-01"))
    assert by_measure(reversal, day=date(2023, 3, 5)) == {
        "allocations.person_times": -1, "allocations.value_fen": -5000}
    assert by_measure(reversal, day=date(2023, 4, 1)) == {"allocations.reversed": 1}


def test_certified_workers_are_a_balance_by_level():
    w = S.worker("2022-03-01", "assistant", 2021)
    up = S.worker("2023-06-01", "intermediate", 2023, w["data"]["worker_id"], "certified",
                  previous_level="assistant")
    gone = S.worker("2023-09-01", "intermediate", 2023, w["data"]["worker_id"], "left")
    facts = [f for e in (w, up, gone) for f in domain.facts_of(e)
             if f[0].measure == "workers.certified"]
    per_detail = Counter()
    for key, n in facts:
        per_detail[key.details] += n
    assert per_detail == {("level:assistant",): 0, ("level:intermediate",): 0}
    assert sum(n for k, n in facts if k.day.year == 2022) == 1      # certified at the end of 2022
    assert sum(n for k, n in facts) == 0                            # and gone by the end of 2023


def test_activity_person_times_include_people_without_a_record():
    a = S.client(["solitary_elderly"], "elderly")
    facts = domain.facts_of(S.activity("2023-05-01", [a], extra_person_times=2))
    assert by_measure(facts)["activities.person_times"] == 3
    assert by_measure(facts, group="elderly")["activities.person_times"] == 1


def test_activity_attendees_count_under_their_age_group_and_sex_where_known():
    a = S.client(["solitary_elderly"], "elderly")
    clinic = S.activity("2023-05-01", [a], "free_clinic", attendees={
        "total": 40, "by_age_group": {"elderly": 25, "child": 5},
        "by_sex": {"female": 22, "male": 15}})
    facts = domain.facts_of(clinic)
    assert by_measure(facts)["activities.person_times"] == 41
    assert by_measure(facts, group="elderly")["activities.person_times"] == 26
    assert by_measure(facts, group="child")["activities.person_times"] == 5
    attendees = [(k, n) for k, n in facts if k.measure == "activities.attendees"]
    assert sum(n for _, n in attendees) == 40
    by_sex = Counter()
    for key, n in attendees:
        by_sex[key.details] += n
    assert by_sex == {("sex:female",): 22, ("sex:male",): 15, (): 3}
    assert sum(n for k, n in attendees if k.group == "elderly") == 25
    flows = Counter()
    for key, n in facts:        # as the rollups add them up
        for cell in cells_of(key.categories, key.group, key.details):
            flows[(key.measure, *cell)] += n
    values = domain.figure_values(flows, {})
    assert values["activities_attendees"] == {"value": 40, "by": {"sex": {"female": 22,
                                                                          "male": 15}}}
    assert values["person_times"]["by"]["source"]["activity"] == 41


def test_every_published_type_is_known_to_the_rules():
    from hub.events import load_contract
    assert set(load_contract()) <= set(domain.EXTRACTORS)


# -- stocks do not depend on the order events arrive in ---------------------------------------
def client_history():
    c = S.client(["solitary_elderly"], "elderly", "medium")
    events = [S.registered(c, "2022-05-01")]
    events.append(S.updated(c, "2023-02-01", categories=["solitary_elderly", "disabled"]))
    events.append(S.closed(c, "2023-08-01"))
    c["status"] = "active"
    events.append(S.client_event("reopened", c, "2024-01-10"))
    return events


def test_active_clients_come_out_the_same_in_any_arrival_order():
    events = client_history()
    expected = summed(domain.client_contribution([domain.client_state(e) for e in events]))
    for order in itertools.permutations(events):
        history, total = [], []
        for e in order:
            before = domain.client_contribution(history)
            history = history + [domain.client_state(e)]
            total += domain.delta(before, domain.client_contribution(history))
        assert summed(total) == expected
    active_at = lambda day: sum(n for k, n in expected.items() if k.day <= day)  # noqa: E731
    assert [active_at(date(y, 12, 31)) for y in (2021, 2022, 2023, 2024)] == [0, 1, 0, 1]
    disabled_2023 = sum(n for k, n in expected.items()
                        if "disabled" in k.categories and k.day <= date(2023, 6, 30))
    assert disabled_2023 == 1


def holder_history():
    """Added to the roster in 2024 having passed in 2021; intermediate in 2023 (recorded in
    2024); moved to the county level in March 2024; left the area in June 2025."""
    recorded = S.certificate("2024-02-01", [("assistant", 2021)])
    upgraded = S.certificate("2024-02-10", [("assistant", 2021), ("intermediate", 2023)],
                             previous=recorded)
    moved = S.certificate("2024-03-01", [("assistant", 2021), ("intermediate", 2023)],
                          [(None, S.township, "holding"), ("2024-03-01", None, "holding")],
                          previous=upgraded)
    left = S.certificate("2025-06-01", [("assistant", 2021), ("intermediate", 2023)],
                         [(None, S.township, "holding"), ("2024-03-01", None, "holding"),
                          ("2025-06-01", None, "left")], previous=moved)
    return [recorded, upgraded, moved, left]


def test_certified_workers_count_from_the_year_passed_in_any_arrival_order():
    events = holder_history()
    expected = summed(domain.holder_contribution("659002", events[-1]["data"]["timeline"]))
    for order in itertools.permutations(events):
        assert summed(f for e in order for f in domain.facts_of(e)) == expected

    def held(day, **where):
        return sum(n for k, n in expected.items() if k.day <= day
                   and all(getattr(k, a) == v for a, v in where.items()))
    year_ends = [date(y, 12, 31) for y in range(2020, 2026)]
    assert [held(d) for d in year_ends] == [0, 1, 1, 1, 1, 0]
    assert [held(d, details=("level:intermediate",)) for d in year_ends] == [0, 0, 0, 1, 1, 0]
    assert [held(d, township=S.township) for d in year_ends] == [0, 1, 1, 1, 0, 0]
    assert held(date(2025, 5, 31)) == 1                    # until the day they left


def test_an_overdue_visit_stays_open_until_done_or_missed():
    c = S.client()
    overdue = S.visit_overdue(c, "2023-03-01", 10)
    done = S.visit_completed(c, "2023-03-20", delay_days=19, visit_id=overdue["data"]["visit_id"])
    flags = domain.visit_flags_after(None, overdue)
    assert flags.overdue_on == date(2023, 3, 11)
    assert summed(domain.visit_contribution(flags)) == {
        domain.fact("visits.overdue_open", date(2023, 3, 11), ("659002", "659002100",
                                                               "659002100001"))[0]: 1}
    closed = domain.visit_flags_after(flags, done)
    assert sum(n for _, n in domain.visit_contribution(closed)) == 0
    on_time = S.visit_completed(c, "2023-03-01", delay_days=0)
    assert domain.visit_flags_after(None, on_time) is None       # nothing kept for it


# -- figures and the narrative --------------------------------------------------------------------
def test_figure_values_pick_a_breakdown_cell():
    flows = {("allocations.person_times", "", "", ""): 60,
             ("allocations.person_times", "child_in_difficulty", "", ""): 43,
             ("allocations.person_times", "", "elderly", ""): 17,
             ("allocations.person_times", "", "", "kind:money"): 60}
    stocks = {("workers.certified", "", "", ""): 14,
              ("workers.certified", "", "", "level:assistant"): 14}
    values = domain.figure_values(flows, stocks)
    assert values["allocations_person_times"] == {"value": 60, "by": {"kind": {"money": 60}}}
    assert values["workers_certified"]["value"] == 14
    assert values["person_times"] == {"value": 60, "by": {"source": {
        "visit": 0, "allocation": 60, "referral": 0, "activity": 0}}}
    assert domain.figure_values(flows, stocks, category="child_in_difficulty")[
        "allocations_person_times"]["value"] == 43
    merged = domain.with_previous(values, domain.figure_values({}, {("workers.certified", "", "",
                                                                     ""): 10}))
    assert merged["workers_certified"]["growth_percent"] == 40.0


def test_the_narrative_reads_like_the_seed():
    figures = {
        "donations_money_fen": {"value": 2_345_600},
        "allocations_person_times": {"value": 60, "by_category": {"child_in_difficulty": 43},
                                     "by_group": {"elderly": 17, "child": 43}},
        "certified_workers": {"value": 2104, "previous": 1503,
                              "growth_percent": domain.growth(2104, 1503)},
        "volunteers_total": {"value": 369_320},
        "volunteers_share_percent": {"value": 16.42},
        "station_coverage_percent": {"value": 100.0, "stations_open": 15, "townships": 15},
    }
    text = domain.narrative(2023, "township", "新开岭镇", figures)
    assert text.startswith("2023年，新开岭镇社工站链接爱心资金2万余元，为困境儿童发放43人次，"
                           "为困难老人发放17人次。")
    assert "持证社工2104人，同比增长40%。" in text
    assert "实名注册志愿者369320人，占人口总数的16.42%。" in text
    county = domain.narrative(2023, "county", "东至县", figures, {"excellent": 1, "good": 2})
    assert "已实现全县15个乡镇社工站建设全覆盖。" in county and "优秀1个、良好2个" in county
    assert domain.narrative(2023, "village", "七里村", {}) == "2023年，七里村暂无统计数据。"


# -- what the province accepts ------------------------------------------------------------------
def test_the_province_refuses_personal_details_and_non_events():
    event = S.registered(S.client(), "2023-01-01")
    assert parse(json.dumps(event))["id"] == event["id"]
    for tamper, reason in ((lambda e: e["data"].update(name="张三"), "personal fields name"),
                           (lambda e: e["data"].update(extra={"phone": "1390000"}),
                            "personal fields phone"),
                           (lambda e: e.update(id="not-a-uuid"), "id is not a UUID"),
                           (lambda e: e.pop("data"), "not a CloudEvent")):
        bad = copy.deepcopy(event)
        tamper(bad)
        with pytest.raises(Rejected, match=reason):
            parse(json.dumps(bad, ensure_ascii=False))
    with pytest.raises(Rejected, match="not JSON"):
        parse("{")
