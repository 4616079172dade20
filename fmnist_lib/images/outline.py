"""Outline drawings filled: the inside of a garment drawn as thin strokes, as Fashion-MNIST would show it.

A sketch or an outline icon of a garment is a thin ring of strokes around empty paper; every
Fashion-MNIST garment is a filled shape, so a hollow outline reads as nothing the model has seen
(it calls most of them "Bag"). `outline_interior` recognises such a drawing and returns the
pixels to fill: the regions the strokes enclose, one stroke in from the outside. Regions still
reachable from the image's edge stay open (the gap between trouser legs); a region behind a
second stroke stays open too (a bag's handle hole: outer contour, handle band, inner contour).
Small gaps in a hand-drawn stroke are bridged first, so a slightly open outline still fills; a
narrow channel that the bridging shut (thin all the way, unlike the wide inside behind a gap)
is opened again: the gap between traced trouser legs.

Arrays are bool [H, W] (masks) and float64 [H, W] (the garment, light on black). numpy only:
scipy is not a dependency of the lab, and the one thing needed from it, labelling connected
regions, takes a short run-based union-find here (rows of runs, not pixels: ~10k runs for a
512 px drawing, a few milliseconds).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A drawing is an outline when its strokes are thin, enclose more empty area than they cover, and
# what they enclose is empty (paper): a photo's garment is filled with its own colour and texture.
THIN = 0.1  # stroke width at most this fraction of the drawing's size (Phosphor's regular weight: ~0.08)
ENCLOSED_MIN = 1.0  # enclosed empty area at least this many times the strokes' area
EMPTY_MAX = 0.15  # the enclosed area's mean level at most this fraction of the strokes' median level
GAP = 0.03  # bridge gaps in a stroke up to about 2 * GAP of the drawing's size (a hand-drawn line that misses)
FILL_LEVEL = 1.0  # the inside is filled at this fraction of the strokes' median level


@dataclass(frozen=True)
class Outline:
    """What the fill step found: the pixels to fill (bool [H, W]), the stroke width, and the level to fill at."""

    inside: np.ndarray
    stroke_width: float
    level: float


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected regions of a bool [H, W] mask: (int32 [H, W] labels, 0 outside the mask, 1..n; n).

    Runs of True along each row are the nodes; a run joins every run of the row above that it
    overlaps (4-connectivity), with union-find over runs.
    """
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)  # +1 where a run starts, -1 one past where it ends
    rows, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # same order as starts: row by row, left to right
    n = len(starts)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    row_first = np.searchsorted(rows, np.arange(h + 1))  # runs of row r: row_first[r]:row_first[r + 1]
    for r in range(1, h):
        a, a_end = int(row_first[r - 1]), int(row_first[r])
        b, b_end = a_end, int(row_first[r + 1])
        while a < a_end and b < b_end:  # two sorted lists of intervals: walk them together
            if starts[a] < ends[b] and starts[b] < ends[a]:
                ra, rb = find(a), find(b)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
            if ends[a] < ends[b]:
                a += 1
            else:
                b += 1
    roots = np.array([find(i) for i in range(n)], dtype=np.int64)
    _, ids = np.unique(roots, return_inverse=True)
    labels = np.zeros((h, w), dtype=np.int32)
    for i in range(n):
        labels[rows[i], starts[i] : ends[i]] = ids[i] + 1
    return labels, int(ids.max()) + 1 if n else 0


def regions_touching(mask: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """The 4-connected regions of mask (bool [H, W]) that hold at least one seed pixel (bool [H, W])."""
    labels, _ = label(mask)
    hit = np.unique(labels[seeds & mask])
    return np.isin(labels, hit[hit > 0])


def dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Grow a bool mask by r pixels (a square), with shifted maxima along each axis."""
    out = mask.copy()
    for axis in (0, 1):
        grown = out.copy()
        n = out.shape[axis]
        for k in range(1, min(r, n - 1) + 1):
            fwd = [slice(None)] * 2
            bwd = [slice(None)] * 2
            fwd[axis], bwd[axis] = slice(k, None), slice(None, -k)
            grown[tuple(fwd)] |= out[tuple(bwd)]
            grown[tuple(bwd)] |= out[tuple(fwd)]
        out = grown
    return out


def stroke_width(strokes: np.ndarray) -> float:
    """A stroke's mean width in px: its area over half its boundary (both sides of a line are boundary)."""
    area = int(strokes.sum())
    if area == 0:
        return 0.0
    p = np.pad(strokes, 1)
    inner = p[1:-1, 1:-1] & p[:-2, 1:-1] & p[2:, 1:-1] & p[1:-1, :-2] & p[1:-1, 2:]
    boundary = area - int(inner.sum())
    return 2.0 * area / max(boundary, 1)


def _border(h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), dtype=bool)
    m[0, :] = m[-1, :] = m[:, 0] = m[:, -1] = True
    return m


def narrow_openings(inside: np.ndarray, strokes: np.ndarray, closed: np.ndarray) -> np.ndarray:
    """The parts of `inside` (bool [H, W]) that are narrow openings, not gaps in a stroke: bool [H, W].

    Thickening the strokes (`closed`) bridges a hand-drawn line that misses, but it also shuts a narrow
    channel between two strokes, such as the gap between traced trouser legs. Both are open to the
    image's edge through the paper; they differ in what lies behind: a gap leads into a wide inside (some
    of it beyond the thickened strokes' reach), a channel is thin all the way (every pixel within reach).
    """
    open_paper = regions_touching(~strokes, _border(*strokes.shape))
    labels, _ = label(inside & open_paper)
    wide = np.unique(labels[~closed & (labels > 0)])
    return (labels > 0) & ~np.isin(labels, wide)


def outline_interior(garment: np.ndarray, strokes: np.ndarray) -> Outline | None:
    """The inside to fill when `strokes` (bool [H, W], the pixels clearly off the background) are an
    outline drawing of `garment` (float64 [H, W], light on black); None for anything else.

    Regions one stroke in from the outside are filled; regions reachable from the image's edge
    (once gaps of up to ~2 * GAP of the drawing's size are bridged) or behind a second stroke stay open.
    """
    if not strokes.any():
        return None
    ys, xs = np.nonzero(strokes)
    size = max(int(np.ptp(ys)), int(np.ptp(xs))) + 1
    width = stroke_width(strokes)
    if size < 8 or width > THIN * size:
        return None
    h, w = strokes.shape
    gap = max(1, round(GAP * size))
    closed = dilate(strokes, gap)  # the strokes, thickened so that small gaps close
    outside = regions_touching(~closed, _border(h, w))
    # One stroke further in: regions within reach of the outside across one (thickened) stroke.
    across = int(np.ceil(width)) + 2 * gap + 2
    rest = ~closed & ~outside
    first = regions_touching(rest, dilate(outside, across))
    second = regions_touching(rest & ~first, dilate(first, across))  # behind another stroke: holes
    # Give back what the thickening took from the inside: all that is not outside, a hole or a stroke.
    inside = ~dilate(outside | second, gap) & ~strokes
    inside |= first
    inside &= ~narrow_openings(inside, strokes, closed)
    area = int(inside.sum())
    if area < ENCLOSED_MIN * int(strokes.sum()):
        return None
    level = float(np.median(garment[strokes]))
    if level <= 0 or float(garment[inside].mean()) > EMPTY_MAX * level:
        return None
    return Outline(inside, width, FILL_LEVEL * level)


def fill(garment: np.ndarray, outline: Outline) -> np.ndarray:
    """The garment (float64 [H, W]) with the outline's inside raised to its fill level."""
    return np.where(outline.inside, np.maximum(garment, outline.level), garment)
