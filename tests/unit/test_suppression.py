"""Small-count protection (stats/suppression.py): cells in, hidden cells out.

The property that matters is tested literally: a reader who knows every shown cell and every
line (row and column totals) solves for the hidden cells; none may come out with a single
value. That is checked with a rank test of the tests' own (tests/support/solving.py: dense,
exact), independent of the module's elimination, on random tables with their margins.
"""
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stats.suppression import Line, determined, small, suppress
from support import solving


def recoverable(lines, hidden):
    return solving.recoverable([line.terms() for line in lines], hidden)


def table(values):
    """A table (rows x columns of numbers) with its row, column and grand totals: (cells, lines)."""
    n_rows, n_cols = len(values), len(values[0])
    cells = {(r, c): values[r][c] for r in range(n_rows) for c in range(n_cols)}
    for r in range(n_rows):
        cells[(r, "all")] = sum(values[r])
    for c in range(n_cols):
        cells[("all", c)] = sum(values[r][c] for r in range(n_rows))
    cells[("all", "all")] = sum(map(sum, values))
    lines = [Line(tuple((r, c) for c in range(n_cols)), (r, "all")) for r in range(n_rows)]
    lines += [Line(tuple((r, c) for r in range(n_rows)), ("all", c)) for c in range(n_cols)]
    lines += [Line(tuple((r, "all") for r in range(n_rows)), ("all", "all")),
              Line(tuple(("all", c) for c in range(n_cols)), ("all", "all"))]
    return cells, lines


def check_protected(cells, lines, hidden, k):
    for cell, value in cells.items():
        if small(value, k):
            assert cell in hidden, cell                      # no small count shown
    for line in lines:                                       # no line gives one away alone
        assert sum(1 for c in line.cells() if c in hidden) != 1, line
    assert not recoverable(lines, hidden)                    # nor all of them together


def test_small_counts_are_1_to_k_minus_1_and_zero_is_shown():
    assert [small(v, 5) for v in (0, 1, 4, 5, 6, -3, None)] == [
        False, True, True, False, False, True, False]
    hidden = suppress({"a": 0, "b": 3, "c": 5, "d": 12}, [], 5)
    assert hidden == {"b": "primary"}


def test_a_lone_small_cell_takes_the_smallest_other_with_it():
    cells = {"t": 29, "a": 3, "b": 7, "c": 19, "z": 0}
    hidden = suppress(cells, [Line(("a", "b", "c", "z"), "t")], 5)
    assert hidden == {"a": "primary", "b": "complementary"}
    # the total is a cell of its line: a line of one part hides the total with it
    assert suppress({"t": 2, "a": 2}, [Line(("a",), "t")], 5) == {"a": "primary", "t": "primary"}
    assert suppress({"t": 9, "a": 2, "b": 7}, [Line(("a", "b"), "t")], 5) == {
        "a": "primary", "b": "complementary"}
    # a zero is taken only when nothing else is shown
    assert suppress({"t": 3, "a": 3, "b": 0}, [Line(("a", "b"), "t")], 5) == {
        "a": "primary", "t": "primary"}


def test_a_seed_like_table_row_and_column():
    # clients of three townships by age group, with the county's totals
    cells, lines = table([[30, 12, 3], [2, 40, 9], [15, 0, 20]])
    hidden = suppress(cells, lines, 5)
    assert {(0, 2), (1, 0)} <= set(hidden)
    check_protected(cells, lines, hidden, 5)


def test_two_hidden_groups_joined_by_one_cell_are_widened():
    """Lines that each hide two cells can still pin one down together: here x, joining two
    cycles of hidden cells, is worked out from the rows and columns around it."""
    values = [[1, 1, 0, 0, 9], [1, 1, 0, 0, 9], [0, 0, 1, 1, 9], [0, 0, 1, 1, 9],
              [9, 9, 9, 9, 9]]
    cells, lines = table(values)
    chosen = {(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (0, 2)}
    terms = [line.terms() for line in lines]
    # (0, 2) is the only link: every line through it hides two cells or more, yet it is known
    assert determined(terms, chosen) == [(0, 2)]
    assert recoverable(lines, chosen) == {(0, 2)}        # the tests' own solver agrees
    hidden = suppress(cells, lines, 5)
    check_protected(cells, lines, hidden, 5)


def test_signed_lines_and_known_sums():
    # active at the end of the year - registered + closed = active a year earlier (known)
    line = Line(("active", "registered", "closed"), signs=(1, -1, 1))
    hidden = suppress({"active": 40, "registered": 12, "closed": 3}, [line], 5)
    assert hidden == {"closed": "primary", "registered": "complementary"}


def test_the_result_does_not_depend_on_the_order_of_the_lines():
    rng = random.Random(7)
    values = [[rng.choice((0, 1, 2, 3, 6, 9, 14, 40)) for _ in range(6)] for _ in range(5)]
    cells, lines = table(values)
    first = suppress(cells, lines, 5)
    for _ in range(5):
        rng.shuffle(lines)
        assert suppress(dict(reversed(list(cells.items()))), lines, 5) == first


@settings(max_examples=150, deadline=None)
@given(st.integers(2, 6), st.integers(2, 6), st.integers(3, 10), st.randoms(use_true_random=False))
def test_no_hidden_cell_can_be_solved_for_in_random_tables(n_rows, n_cols, k, rng):
    values = [[rng.choice((0, 0, 1, 2, 3, 4, k - 1, k, k + 3, 50)) for _ in range(n_cols)]
              for _ in range(n_rows)]
    cells, lines = table(values)
    hidden = suppress(cells, lines, k)
    check_protected(cells, lines, hidden, k)


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False))
def test_no_hidden_cell_can_be_solved_for_in_nested_tables(rng):
    """Places under a parent, each broken down two ways (as a county, its townships, and each
    place's figure by age group and by risk): every line at once."""
    k = 5
    cells, lines = {}, []
    places = ["county", "t1", "t2", "t3", "t4"]
    groups, risks = ("elderly", "child", "other"), ("low", "high")
    for place in places[1:]:
        by_group = {g: rng.choice((0, 1, 2, 3, 6, 11, 30)) for g in groups}
        total = sum(by_group.values())
        high = rng.randint(0, total)
        for g, n in by_group.items():
            cells[(place, "group", g)] = n
        cells[(place, "risk", "low")], cells[(place, "risk", "high")] = total - high, high
        cells[(place, "", "")] = total
    keys = [("", "")] + [("group", g) for g in groups] + [("risk", r) for r in risks]
    for key in keys:
        cells[("county",) + key] = sum(cells[(p,) + key] for p in places[1:])
        lines.append(Line(tuple((p,) + key for p in places[1:]), ("county",) + key))
    for place in places:
        lines.append(Line(tuple((place, "group", g) for g in groups), (place, "", "")))
        lines.append(Line(tuple((place, "risk", r) for r in risks), (place, "", "")))
    hidden = suppress(cells, lines, k)
    check_protected(cells, lines, hidden, k)


@pytest.mark.parametrize("k", [2, 5, 10])
def test_nothing_to_hide_hides_nothing(k):
    cells, lines = table([[0, 50, k], [k + 1, 0, 99]])
    assert suppress(cells, lines, k) == {}


def test_k_is_a_setting_checked_when_read():
    from stats.role import StatsConfig
    assert StatsConfig.from_env({}).suppression_k == 5
    assert StatsConfig.from_env({"HUB_SUPPRESSION_K": "10"}).suppression_k == 10
    for bad in ("1", "0", "-5", "five", "2.5"):
        with pytest.raises(ValueError, match="HUB_SUPPRESSION_K"):
            StatsConfig.from_env({"HUB_SUPPRESSION_K": bad})
