"""fmnist_lib.keeping: which run a full session drops, with the learner's pins."""

from __future__ import annotations

from fmnist_lib.keeping import drop_order, has_room, to_drop


def test_the_oldest_run_neither_pinned_nor_protected_makes_room():
    ids = [1, 2, 3, 4, 5]  # oldest first; 5 just came, the limit is 4
    assert to_drop(ids, pinned=set(), protected={5}, limit=4) == [1]
    assert to_drop(ids, pinned={1}, protected={5}, limit=4) == [2]  # the pinned oldest stays
    assert to_drop(ids, pinned={1, 2}, protected={3, 5}, limit=4) == [4]  # 3: the active model
    assert to_drop(ids, pinned=set(), protected=set(), limit=5) == []  # within the bound: nothing goes


def test_nothing_pinned_or_protected_is_dropped_even_when_the_session_stays_over():
    assert to_drop([1, 2, 3], pinned={1, 2}, protected={3}, limit=2) == []


def test_a_full_session_has_room_only_while_some_run_is_free_to_go():
    assert has_room([1, 2], pinned={1, 2}, protected=set(), limit=3)  # not full yet
    assert has_room([1, 2, 3], pinned={1, 2}, protected=set(), limit=3)  # 3 may go
    assert not has_room([1, 2, 3], pinned={1, 2}, protected={3}, limit=3)  # 3 is the active model
    assert not has_room([1, 2, 3], pinned={1, 2, 3}, protected=set(), limit=3)


def test_a_byte_bound_takes_unpinned_runs_first_and_never_a_protected_one():
    assert drop_order([1, 2, 3, 4], pinned={1, 3}, protected={4}) == [2, 1, 3]
