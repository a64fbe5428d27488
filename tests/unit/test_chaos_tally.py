"""The kill-and-count harness's arithmetic: what counts as lost and as doubled."""
from chaos.tally import of_numbers, of_sets, of_states


def test_ids_missing_are_lost_and_ids_beyond_the_truth_or_twice_are_doubled():
    assert of_sets("x", {"a", "b", "c"}, ["a", "b", "c"]).agrees
    row = of_sets("x", {"a", "b", "c"}, ["a", "b", "b", "z"])
    assert (row.truth, row.found, row.lost, row.doubled) == (3, 4, 1, 2)
    assert not row.agrees


def test_a_state_that_differs_counts_as_lost():
    row = of_states("x", {"a": "active", "b": "closed"}, {"a": "active", "b": "active"})
    assert (row.lost, row.doubled, row.agrees) == (1, 0, False)
    assert of_states("x", {"a": "active"}, {"a": "active"}).agrees


def test_figures_short_are_lost_and_over_are_doubled():
    assert (of_numbers("f", 10, 7).lost, of_numbers("f", 10, 7).doubled) == (3, 0)
    assert (of_numbers("f", 10, 12).lost, of_numbers("f", 10, 12).doubled) == (0, 2)
    assert of_numbers("f", 5, 5).agrees
