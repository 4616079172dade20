"""How far a garment lies off upright: three tilt estimates on its mask and their median, or, for a
garment that is not mirror-symmetric (a shoe), the tilt of the sole it would stand on.

Arrays are float64 [H, W] (the garment, light on black) or bool [H, W] (its core).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

DESKEW_MAX = 10  # straighten a garment lying at up to this many degrees (0: off)
DESKEW_MIN = 2.0  # ...and at least this many (a smaller estimate is left alone)
DESKEW_SIZE = 64  # px: the longest side of the copy the edge and mirror estimates use
# Straighten only a garment at least this mirror-symmetric (correlation with its mirror image at its
# best angle): tops, trousers, dresses, bags are (0.97-0.99); shoes are not (0.66-0.84), and their
# three estimates disagree, so an upright shoe was turned one time in five (bench/results/deskew.md).
SYMMETRY_MIN = 0.9
# A garment that is not mirror-symmetric (a shoe) is laid on its sole instead: turned so that the longest
# lower edge of its outline (convex hull) is flat, when that edge lies SOLE_MIN-SOLE_MAX degrees off.
# Fashion-MNIST's shoes stand on their soles; drawn ones (emoji) often lean 20-45 degrees. A shoe seen
# from three quarters (some of Fashion-MNIST's own) has a leaning lowest edge too, up to ~35 degrees, and
# the model learned it so: only a lean of 25 degrees or more counts, and only when lying flat makes the
# shoe's box smaller, as it does for a shoe tipped onto its toe (bench/results/deskew.md).
SOLE_MIN = 25.0
SOLE_MAX = 45.0
# ...unless it is clearly mirror-symmetric at some angle up to SOLE_MAX: a top lying 30 degrees off.
# Fashion-MNIST's test garments turned 30 degrees: median 0.98-0.99 for tops, trousers, dresses, coats,
# bags; no sandal, sneaker or ankle boot reaches 0.95 (bench/results/deskew.md).
SOLE_SYMMETRY_MAX = 0.95


@dataclass(frozen=True)
class Turn:
    """How to stand a garment upright: PIL's rotate(angle), anticlockwise in degrees; 0 leaves it."""

    angle: float = 0.0
    on_sole: bool = False  # True: laid on its sole (a shoe); False: the median of three tilt estimates


def _box_area(xs: np.ndarray, ys: np.ndarray, angle: float) -> float:
    """The area of the bounding box of points (xs, ys) turned by angle (degrees, as PIL's rotate)."""
    c, s = np.cos(np.deg2rad(angle)), np.sin(np.deg2rad(angle))
    return float((np.ptp(xs * c + ys * s) + 1) * (np.ptp(-xs * s + ys * c) + 1))


def _box_angle(mask: np.ndarray) -> float:
    """The rotation within +-DESKEW_MAX (0.25-degree steps) that makes the mask's bounding box smallest."""
    ys, xs = np.nonzero(mask)
    step = max(1, len(xs) // 20000)
    x, y = xs[::step].astype(np.float64), ys[::step].astype(np.float64)
    angles = np.arange(-DESKEW_MAX, DESKEW_MAX + 0.01, 0.25)
    rad = np.deg2rad(angles)[:, None]
    area = np.empty(len(angles))
    # A few angles at a time: all 81 at once would hold ~100 MB of temporaries for a large garment
    # (40,000 points), memory a server thread keeps after the upload.
    for i in range(0, len(angles), 8):
        c, s = np.cos(rad[i : i + 8]), np.sin(rad[i : i + 8])
        xr = x[None, :] * c + y[None, :] * s  # the points as PIL's rotate(angle) moves them
        yr = -x[None, :] * s + y[None, :] * c
        area[i : i + 8] = (np.ptp(xr, axis=1) + 1) * (np.ptp(yr, axis=1) + 1)
    return float(angles[int(np.argmin(area))])


def _edge_angle(small: np.ndarray) -> float:
    """The rotation that turns the garment's edges, on the whole, to horizontal and vertical.

    Each gradient's direction counts modulo 90 degrees (as exp(4i*phi)), weighted by its strength:
    the sides of trousers, the hem of a dress and the sole of a shoe all vote for one angle.
    """
    gy, gx = np.gradient(small)
    z = (np.hypot(gx, gy) * np.exp(4j * np.arctan2(gy, gx))).sum()
    return float(np.rad2deg(np.angle(z) / 4))


def _mirror_angle(small: np.ndarray, limit: float = DESKEW_MAX) -> tuple[float, float]:
    """(the rotation within +-limit (0.5-degree steps) at which the garment is most left-right
    symmetric about a vertical line through its centre, that symmetry: its correlation with its mirror image)."""
    im = Image.fromarray(small.astype(np.float32), "F")
    best, best_angle = -np.inf, 0.0
    for angle in np.arange(-limit, limit + 0.01, 0.5):
        r = np.asarray(im.rotate(float(angle), resample=Image.Resampling.BILINEAR, expand=True), dtype=np.float64)
        cols = r.sum(axis=0)
        if cols.sum() <= 0:
            continue
        xs = np.arange(r.shape[1])
        mirrored_x = 2.0 * float((cols * xs).sum() / cols.sum()) - xs
        x0 = np.floor(mirrored_x).astype(int)
        f = mirrored_x - x0
        ok = (x0 >= 0) & (x0 + 1 < r.shape[1])
        mirror = np.zeros_like(r)
        mirror[:, ok] = r[:, x0[ok]] * (1 - f[ok]) + r[:, x0[ok] + 1] * f[ok]
        score = float((r * mirror).sum() / np.sqrt((r * r).sum() * (mirror * mirror).sum() + 1e-12))
        if score > best:
            best, best_angle = score, float(angle)
    return best_angle, best


def _cross(o, a, b) -> float:
    """> 0 when o -> a -> b turns anticlockwise on screen (x right, y down): b lies left of o -> a."""
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _hull(points: np.ndarray) -> np.ndarray:
    """The convex hull of integer points [N, 2] (x, y) as its corners [M, 2] in order (Andrew's monotone chain)."""
    pts = sorted(set(map(tuple, points.tolist())))
    if len(pts) < 3:
        return np.array(pts, dtype=np.float64)

    def half(seq) -> list:
        out: list = []
        for p in seq:
            while len(out) >= 2 and _cross(out[-2], out[-1], p) <= 0:
                out.pop()
            out.append(p)
        return out[:-1]  # its last corner starts the other half

    return np.array(half(pts) + half(pts[::-1]), dtype=np.float64)


def sole_angle(core: np.ndarray) -> float:
    """The rotation (degrees, anticlockwise as PIL's rotate) that lays the garment's sole flat, or 0.

    The sole is the longest edge of the outline's convex hull below the garment's centre and within
    SOLE_MAX of horizontal: the line a shoe would stand on. Its tilt is returned when at least SOLE_MIN
    and when laying the garment on it makes the garment's box smaller.
    """
    ys, xs = np.nonzero(core)
    if len(xs) < 20:
        return 0.0
    rows = np.unique(ys)
    # The hull of a shape is the hull of each row's two ends: at most 2H points, not every pixel.
    first = np.searchsorted(ys, rows)
    last = np.searchsorted(ys, rows, side="right") - 1
    ends = np.concatenate([np.stack([xs[first], rows], 1), np.stack([xs[last], rows], 1)])
    hull = _hull(ends)
    if len(hull) < 3:
        return 0.0
    nxt = np.roll(hull, -1, axis=0)
    dx, dy = nxt[:, 0] - hull[:, 0], nxt[:, 1] - hull[:, 1]
    # Image y grows downwards: an edge going down to the right has a positive angle, undone by turning
    # anticlockwise (PIL's positive angle) by as much.
    tilt = np.rad2deg(np.arctan(dy / np.where(dx == 0, np.nan, dx)))
    lower = (hull[:, 1] + nxt[:, 1]) / 2 > ys.mean()
    length = np.where(lower & (np.abs(tilt) <= SOLE_MAX), np.hypot(dx, dy), 0.0)
    if length.max() <= 0:
        return 0.0
    angle = float(tilt[int(np.argmax(length))])
    if abs(angle) < SOLE_MIN:
        return 0.0
    # A shoe leaning on its toe or heel takes more room than one lying flat; a shoe seen from three quarters,
    # or a top whose lowest edge is a sleeve's, takes more once "laid flat": leave those as they are.
    return angle if _box_area(xs, ys, angle) < _box_area(xs, ys, 0.0) else 0.0


def upright_angle(core: np.ndarray, garment: np.ndarray, lay_on_sole: bool = True) -> Turn:
    """The turn that stands the garment upright (`Turn(0.0)`: leave it as it is).

    A mirror-symmetric garment (a top, trousers, a dress, a bag): three estimates of how it lies,
    each turning with it: the angle at which its box is smallest, the angle that turns its edges to
    horizontal and vertical, and the angle at which it is most mirror-symmetric. Each fails on some
    garments (a dress flares), rarely two on the same one, so their median is used, from DESKEW_MIN to
    DESKEW_MAX degrees: product photos are usually upright, and no turn costs less than a wrong one.
    A garment that is not (a shoe, SYMMETRY_MIN), nor clearly is at any angle up to SOLE_MAX
    (SOLE_SYMMETRY_MAX), and whose three estimates disagree: laid on its sole (sole_angle) when
    lay_on_sole, else left as it is.
    """
    if not DESKEW_MAX:
        return Turn()
    ys, xs = np.nonzero(core)
    if len(xs) < 20:
        return Turn()
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    pad = max(y1 - y0, x1 - x0) // 10 + 1
    h, w = garment.shape
    crop = garment[max(0, y0 - pad) : min(h, y1 + pad), max(0, x0 - pad) : min(w, x1 + pad)]
    # The shape, not JPEG blocks or noise: the edge and mirror estimates work on a 64 px copy (box average).
    scale = DESKEW_SIZE / max(crop.shape)
    small = Image.fromarray(crop.astype(np.float32), "F").resize(
        (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))), Image.Resampling.BOX
    )
    small = np.asarray(small, dtype=np.float64)
    if min(small.shape) < 3:  # a thin strip: no shape to judge by
        return Turn()
    mirror, symmetry = _mirror_angle(small)
    if symmetry < SYMMETRY_MIN:
        angle = sole_angle(core) if lay_on_sole else 0.0
        # A top lying 30 degrees off is not symmetric within DESKEW_MAX either, but is at its own angle:
        # it has no sole, and is left as it is.
        if angle and _mirror_angle(small, SOLE_MAX)[1] < SOLE_SYMMETRY_MAX:
            return Turn(angle, on_sole=True)
        return Turn()
    angle = float(np.median([_box_angle(core), _edge_angle(small), mirror]))
    if abs(angle) < DESKEW_MIN or abs(angle) > DESKEW_MAX:
        return Turn()
    return Turn(angle)
