"""The visit policy's rules (strictest wins, first visits, re-dating) and worker choice, without a database."""
import uuid
from datetime import date, timedelta

import pytest

from visits.domain import Policy, StationLoads, policy_errors, round_due_dates, week_start

# The brief's defaults (the migration seeds the same document).
BRIEF = {
    "risk_levels": {"critical": 7, "high": 14, "medium": 30, "low": 90},
    "categories": {"left_behind_child": 30, "child_in_difficulty": 30, "unsupported_child": 30,
                   "solitary_elderly": 30},
    "first_visit_days": {"critical": 1},
    "grace_days": 3, "missed_retry_days": 7,
    "escalation": {"township_after_days": 7, "county_after_days": 30},
}
POLICY = Policy.from_document(BRIEF)
DAY = date(2026, 3, 2)   # a Monday


@pytest.mark.parametrize("risk, categories, days", [
    ("critical", [], 7), ("high", [], 14), ("medium", [], 30), ("low", [], 90),
    ("low", ["left_behind_child"], 30),          # the category is stricter than the level
    ("low", ["solitary_elderly"], 30),
    ("low", ["disabled", "extreme_poverty"], 90),  # categories without a rule change nothing
    ("high", ["solitary_elderly"], 14),           # the level is stricter than the category
    ("critical", ["unsupported_child"], 7),
])
def test_strictest_rule_wins(risk, categories, days):
    assert POLICY.interval_days(risk, categories) == days


def test_a_stricter_category_rule_wins_over_every_other():
    policy = Policy.from_document({**BRIEF, "categories": {**BRIEF["categories"], "disabled": 10}})
    assert policy.interval_days("low", ["disabled", "solitary_elderly"]) == 10


def test_document_round_trip():
    assert Policy.from_document(POLICY.to_document()) == POLICY


def test_critical_first_visit_within_a_day_others_one_interval():
    assert POLICY.first_due("critical", [], DAY) == DAY + timedelta(days=1)
    assert POLICY.first_due("high", [], DAY) == DAY + timedelta(days=14)
    assert POLICY.first_due("low", ["left_behind_child"], DAY) == DAY + timedelta(days=30)


def test_first_visit_rule_never_later_than_the_interval():
    policy = Policy.from_document({**BRIEF, "first_visit_days": {"low": 120}})
    assert policy.first_due("low", [], DAY) == DAY + timedelta(days=90)


def test_next_due_and_retry_after_a_missed_visit():
    assert POLICY.next_due("medium", [], DAY) == DAY + timedelta(days=30)
    assert POLICY.retry_due("medium", [], DAY) == DAY + timedelta(days=7)
    assert POLICY.retry_due("critical", [], DAY) == DAY + timedelta(days=7)
    short = Policy.from_document({**BRIEF, "risk_levels": {**BRIEF["risk_levels"], "critical": 3}})
    assert short.retry_due("critical", [], DAY) == DAY + timedelta(days=3)


def test_raising_the_risk_moves_the_next_visit_earlier():
    last, current = DAY, DAY + timedelta(days=30)          # medium: due 30 days after
    changed_on = DAY + timedelta(days=5)
    assert POLICY.rescheduled_due("high", [], last, current, changed_on, risk_changed=True) \
        == DAY + timedelta(days=14)


def test_raising_to_critical_makes_the_visit_due_within_a_day_of_the_change():
    changed_on = DAY + timedelta(days=3)
    due = POLICY.rescheduled_due("critical", [], DAY, DAY + timedelta(days=90), changed_on,
                                 risk_changed=True)
    assert due == changed_on + timedelta(days=1)


def test_lowering_the_risk_moves_it_later_but_a_policy_change_does_not_pull_critical_in():
    current = DAY + timedelta(days=14)
    assert POLICY.rescheduled_due("low", [], DAY, current, DAY + timedelta(days=2)) \
        == DAY + timedelta(days=90)
    # a critical client re-dated by a policy change keeps the interval rule, not the first-visit rule
    assert POLICY.rescheduled_due("critical", [], DAY, DAY + timedelta(days=7),
                                  DAY + timedelta(days=1)) == DAY + timedelta(days=7)


def test_rescheduling_never_dates_before_the_change_nor_erases_lateness():
    changed_on = DAY + timedelta(days=20)
    # the new interval has already passed since the last visit: due on the day of the change
    assert POLICY.rescheduled_due("high", [], DAY, DAY + timedelta(days=30), changed_on) == changed_on
    # a visit already due when the change came keeps its date
    overdue = DAY + timedelta(days=10)
    assert POLICY.rescheduled_due("low", [], DAY, overdue, changed_on) == overdue


def test_policy_errors_name_the_fields():
    bad = {**BRIEF, "escalation": {"township_after_days": 30, "county_after_days": 7}}
    assert "escalation" in policy_errors(bad)
    assert "grace_days" in policy_errors({**BRIEF, "grace_days": 10})
    assert policy_errors(BRIEF) == {}


def test_round_due_dates_spread_over_the_weeks_and_end_on_the_deadline():
    opened, deadline = date(2026, 3, 4), date(2026, 3, 25)        # a Wednesday to a Wednesday
    assert round_due_dates(opened, deadline) == [date(2026, 3, 8), date(2026, 3, 15),
                                                 date(2026, 3, 22), deadline]
    assert round_due_dates(deadline, deadline) == [deadline]
    assert week_start(date(2026, 3, 8)) == date(2026, 3, 2)


def _workers(*caps, township="341721100"):
    return {uuid.UUID(int=i + 1): (township, cap) for i, cap in enumerate(caps)}


def test_assignment_balances_open_load_within_the_station():
    workers = _workers(5, 5, 5)
    loads = StationLoads(workers, open_load={uuid.UUID(int=1): 4})
    picks = [loads.assign("341721100", [DAY])[0] for _ in range(8)]
    assert uuid.UUID(int=1) not in picks            # the busy worker gets none until level
    assert loads.open_load == {uuid.UUID(int=1): 4, uuid.UUID(int=2): 4, uuid.UUID(int=3): 4}


def test_assignment_respects_weekly_capacity_and_uses_later_candidate_weeks():
    workers = _workers(2)
    loads = StationLoads(workers)
    week2 = DAY + timedelta(days=7)
    got = [loads.assign("341721100", [DAY, week2]) for _ in range(5)]
    worker = uuid.UUID(int=1)
    assert got[:2] == [(worker, DAY)] * 2
    assert got[2:4] == [(worker, week2)] * 2
    assert got[4] == (None, week2)                  # nobody has room: unassigned, last date


def test_assignment_keeps_the_preferred_worker_when_they_have_room():
    workers = _workers(1, 9)
    loads = StationLoads(workers, open_load={uuid.UUID(int=1): 50})
    assert loads.assign("341721100", [DAY], preferred=uuid.UUID(int=1))[0] == uuid.UUID(int=1)
    # now full that week: the other worker takes the next one
    assert loads.assign("341721100", [DAY], preferred=uuid.UUID(int=1))[0] == uuid.UUID(int=2)


def test_assignment_only_within_the_station():
    loads = StationLoads(_workers(9, township="341721101"))
    assert loads.assign("341721100", [DAY]) == (None, DAY)
