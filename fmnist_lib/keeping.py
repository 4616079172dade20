"""Which runs a session keeps within its bound: the ones the learner pinned, and otherwise the newest.

A session holds at most a few runs (each a model, its optimizer state and its history, in the server's
memory and in the session store). When one more comes and the session is full, one must go: the oldest run
the learner did not pin, never one the caller protects (the active model, the run training, the new run).
When every run is pinned or protected, none goes: the caller says so and asks the learner to unpin or
delete one, rather than drop a run they chose to keep.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence


def to_drop(run_ids: Sequence[int], pinned: Collection[int], protected: Collection[int], limit: int) -> list[int]:
    """The runs to drop so that at most `limit` of `run_ids` (oldest first) remain: the oldest neither pinned
    nor protected. Fewer than needed when not enough may go (see `has_room`)."""
    excess = len(run_ids) - limit
    if excess <= 0:
        return []
    return [r for r in run_ids if r not in pinned and r not in protected][:excess]


def has_room(run_ids: Sequence[int], pinned: Collection[int], protected: Collection[int], limit: int) -> bool:
    """Whether one more run can join: the session has room, or a run that is neither pinned nor protected."""
    return len(run_ids) < limit or any(r not in pinned and r not in protected for r in run_ids)


def drop_order(run_ids: Sequence[int], pinned: Collection[int], protected: Collection[int]) -> list[int]:
    """The order in which runs leave when something must (the store's byte bound): the oldest unpinned ones
    first, then the oldest pinned ones; never a protected one."""
    free = [r for r in run_ids if r not in protected]
    return [r for r in free if r not in pinned] + [r for r in free if r in pinned]


__all__ = ["drop_order", "has_room", "to_drop"]
