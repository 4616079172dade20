"""Small English for messages: a count with its noun, a noun with its article, how far a run got."""

from __future__ import annotations

from collections.abc import Sequence


def plural(n: int, noun: str, nouns: str | None = None) -> str:
    """'1 epoch', '0 epochs', '2 epochs' (nouns: an irregular plural)."""
    return f"{n:,} {noun if n == 1 else (nouns or noun + 's')}"


def article(noun: str) -> str:
    """'an' before 'Ankle boot', 'a' before 'T-shirt/top' or 'Bag': by the first letter, which is how every class
    name of Fashion-MNIST sounds (a name starting with a silent h or a 'yoo' sound would need a word list)."""
    return "an" if noun[:1].lower() in "aeiou" and noun[:1] else "a"


def with_article(noun: str) -> str:
    """'an Ankle boot', 'a T-shirt/top', 'a Bag'."""
    return f"{article(noun)} {noun}"


def how_far(completes: Sequence[bool]) -> str:
    """How far a run got, from its epochs' `complete` flags: 'after 2 epochs', 'after 1 full epoch and
    part of the next', 'part-way through its first epoch' (only the last epoch can be a part-epoch)."""
    full = sum(bool(c) for c in completes)
    if not completes or completes[-1]:
        return f"after {plural(full, 'epoch')}"
    if full == 0:
        return "part-way through its first epoch"
    return f"after {plural(full, 'full epoch')} and part of the next"
