"""Intake's rules (category age limits, required details) and the shared words of
contracts.clients (age groups and bands, the categories)."""
from datetime import date

from contracts import clients
from intake import domain


def test_age_counts_birthdays():
    assert clients.age_on(date(1966, 6, 1), date(2026, 5, 31)) == 59
    assert clients.age_on(date(1966, 6, 1), date(2026, 6, 1)) == 60


def test_age_groups_and_bands():
    assert [clients.age_group(a) for a in (0, 17, 18, 59, 60, 95)] == \
        ["child", "child", "other", "other", "elderly", "elderly"]
    assert [clients.age_band(a) for a in (3, 11, 17, 30, 59, 65, 75, 90)] == \
        ["0-5", "6-11", "12-17", "18-44", "45-59", "60-69", "70-79", "80+"]


def test_elderly_categories_need_sixty():
    errors = domain.category_errors(["solitary_elderly"], 59, None, None)
    assert "age 60 or over" in errors["categories"][0]
    assert domain.category_errors(["solitary_elderly", "extreme_poverty"], 60, None, None) == {}


def test_child_categories_need_under_eighteen_and_a_guardian():
    assert "age under 18" in domain.category_errors(["left_behind_child"], 18, None, None)["categories"][0]
    assert "guardian" in domain.category_errors(["left_behind_child"], 10, None, None)
    guardian = {"name": "x", "phone": "13900000000", "relation": "祖母"}
    assert domain.category_errors(["left_behind_child"], 10, None, guardian) == {}


def test_disability_details_go_with_the_disabled_category():
    assert "disability" in domain.category_errors(["disabled"], 40, None, None)
    assert "disability" in domain.category_errors(["other_hardship"], 40, {"type": "visual", "grade": 1}, None)
    assert domain.category_errors(["disabled"], 40, {"type": "visual", "grade": 1}, None) == {}


def test_every_category_of_the_brief_is_known():
    assert set(clients.CATEGORIES) == {
        "solitary_elderly", "left_behind_elderly", "left_behind_child", "child_in_difficulty",
        "unsupported_child", "disabled", "extreme_poverty", "minimum_living_allowance",
        "low_income_marginal", "serious_illness", "other_hardship"}
