"""The resources service's pure rules: earmarks, goods value, suggestions, referrals, workers."""
import itertools
import random
from datetime import date

import pytest

from hub.config import DEFAULT_COUNTY
from hub.county import load_county
from hub.sheets import header_key, to_date
from resources import domain
from resources.importer import certificate_level

ELDER = {"client_id": "c1", "categories": ["solitary_elderly", "extreme_poverty"],
         "township_code": "341721100"}


def earmark(category=None, township_code=None, client_id=None):
    return {"category": category, "township_code": township_code, "client_id": client_id}


def test_earmarks_name_the_client_field_when_they_do_not_fit():
    assert domain.earmark_conflicts(earmark(), ELDER) == {}
    assert domain.earmark_conflicts(earmark("extreme_poverty", "341721100", "c1"), ELDER) == {}
    assert list(domain.earmark_conflicts(earmark(client_id="c2"), ELDER)) == ["client_id"]
    assert domain.earmark_conflicts(earmark("left_behind_child"), ELDER)["client_id"]
    wrong_both = domain.earmark_conflicts(earmark("disabled", "341721101"), ELDER)["client_id"]
    assert len(wrong_both) == 2


@pytest.mark.parametrize("value,quantity", [(10_000, 3), (1, 7), (99_999, 13), (0, 4), (5, 5)])
def test_goods_values_add_up_to_the_estimate_in_any_order(value, quantity):
    rng = random.Random(value * quantity)
    for _ in range(20):
        remaining, total = quantity, 0
        while remaining:
            take = rng.randint(1, remaining)
            remaining -= take
            total += domain.goods_value(value, quantity, remaining, take)
            assert domain.remaining_value(value, quantity, remaining) == value - total
        assert total == value


def test_goods_value_is_proportional_within_a_fen():
    assert domain.goods_value(10_000, 4, 3, 1) == 2_500
    parts = [domain.goods_value(10_000, 3, r, 1) for r in (2, 1, 0)]
    assert sum(parts) == 10_000 and max(parts) - min(parts) <= 1


def test_allocation_date_not_before_the_donation():
    assert domain.allocation_date_errors(date(2026, 1, 2), date(2026, 1, 2)) == {}
    assert "allocated_on" in domain.allocation_date_errors(date(2026, 1, 1), date(2026, 1, 2))


def donation(seq, received_on="2026-01-01", township=None, **mark):
    return {"seq": seq, "received_on": date.fromisoformat(received_on), "township_code": township,
            "earmark_client_id": mark.get("client_id"), "earmark_category": mark.get("category"),
            "earmark_township_code": mark.get("township_code")}


def test_suggestions_rank_earmarks_for_the_client_first_and_skip_plain_or_excluding_ones():
    plain = donation(1)
    local = donation(2, township="341721100")
    category_and_town = donation(3, category="solitary_elderly", township_code="341721100")
    category_old = donation(4, "2025-06-01", category="extreme_poverty")
    category_new = donation(5, "2026-02-01", category="extreme_poverty")
    personal = donation(6, client_id="c1")
    excluded = donation(7, category="left_behind_child")
    other_person = donation(8, client_id="c9")
    ranked = domain.rank_suggestions(
        [plain, local, category_and_town, category_old, category_new, personal, excluded,
         other_person], ELDER)
    assert [d["seq"] for d in ranked] == [6, 3, 4, 5, 2]
    assert domain.rank_suggestions([plain] * 30 + [category_old] * 30, ELDER, limit=10) == \
        [category_old] * 10


def test_referral_steps():
    allowed = {("referred", "accepted"), ("referred", "declined"), ("accepted", "completed"),
               ("accepted", "declined")}
    for current, wanted in itertools.product(domain.REFERRAL_STATUSES, repeat=2):
        error = domain.referral_step_error(current, wanted)
        assert (error is None) == ((current, wanted) in allowed), (current, wanted)
    assert "already completed" in domain.referral_step_error("completed", "declined")
    assert domain.latest_referral_date({"referred_on": date(2026, 1, 1),
                                        "accepted_on": date(2026, 1, 5), "completed_on": None,
                                        "declined_on": None}) == date(2026, 1, 5)


def test_certificates():
    on = date(2026, 6, 1)
    assert domain.certificate_errors(None, None, on) == {}
    assert domain.certificate_errors("assistant", 2020, on) == {}
    assert "certified_year" in domain.certificate_errors("assistant", None, on)
    assert "certified_year" in domain.certificate_errors(None, 2020, on)
    assert "certified_year" in domain.certificate_errors("senior", 2007, on)
    assert "certified_year" in domain.certificate_errors("senior", 2027, on)
    assert domain.certification_step_error(None, "assistant") is None
    assert domain.certification_step_error("assistant", "senior") is None
    assert domain.certification_step_error("intermediate", "intermediate")
    assert domain.certification_step_error("senior", "assistant")


def test_minutes_dates_and_townships():
    assert domain.minutes_of(2.5) == 150 and domain.minutes_of("0.25") == 15
    assert domain.not_before(date(2026, 1, 1), date(2026, 1, 2), "effective_date", "x")
    assert domain.not_before(date(2026, 1, 2), None, "effective_date", "x") == {}
    county = load_county(DEFAULT_COUNTY)
    assert domain.township_errors(county, {"township_code": "341721100", "other": None}) == {}
    assert list(domain.township_errors(county, {"township_code": "341721999"})) == ["township_code"]


def test_spreadsheet_words():
    assert header_key(" ＊姓名 ") == "姓名" and header_key("Weekly Capacity*") == "weekly_capacity"
    assert to_date("2024年1月5日") == "2024-01-05" and to_date("20240105") == "2024-01-05"
    assert to_date("2024/1/5") == "2024-01-05" and to_date("soon") == "soon"
    assert certificate_level("社会工作师") == "intermediate"
    assert certificate_level("高级社会工作师") == "senior" and certificate_level("无") is None


def test_a_certificate_holders_timeline_keeps_levels_and_dated_places():
    t = domain.new_timeline("assistant", 2019, "341721100")
    up = domain.with_level(t, "intermediate", 2023)
    assert up["levels"] == [{"level": "assistant", "passed_year": 2019},
                            {"level": "intermediate", "passed_year": 2023}]
    corrected = domain.with_level(up, "assistant", 2018)        # the roster says assistant
    assert corrected["levels"] == [{"level": "assistant", "passed_year": 2018}]
    moved = domain.with_place(up, date(2024, 3, 1), None, "holding")
    assert moved["places"][-1] == {"since": "2024-03-01", "township_code": None,
                                   "status": "holding"}
    assert domain.with_place(moved, date(2024, 3, 1), "341721100", "holding") == up  # undone
    left = domain.with_place(moved, date(2025, 6, 1), None, "left")
    assert [p["status"] for p in left["places"]] == ["holding", "holding", "left"]
    assert domain.first_passed_year(left) == 2019
    assert "effective_date" in domain.holder_change_errors(moved, date(2024, 2, 1))
    assert "effective_date" in domain.holder_change_errors(t, date(2018, 12, 31))
    assert domain.holder_change_errors(moved, date(2024, 3, 1)) == {}
    gone = domain.new_timeline("senior", 2015, None, left_on=date(2020, 5, 1))
    assert gone["places"][-1] == {"since": "2020-05-01", "township_code": None, "status": "left"}
