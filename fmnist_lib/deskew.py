"""How far a garment lies off upright: three tilt estimates on its mask and their median.

Arrays are float64 [H, W] (the garment, light on black) or bool [H, W] (its core).
"""

from __future__ import annotations

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
# Every Fashion-MNIST shoe stands on its sole; drawn ones are often tilted 20-40 degrees (emoji).
SOLE_MIN = 20.0
SOLE_MAX = 45.0


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


def _mirror_angle(small: np.ndarray) -> tuple[float, float]:
    """(the rotation within +-DESKEW_MAX (0.5-degree steps) at which the garment is most left-right
    symmetric about a vertical line through its centre, that symmetry: its correlation with its mirror image)."""
    im = Image.fromarray(small.astype(np.float32), "F")
    best, best_angle = -np.inf, 0.0
    for angle in np.arange(-DESKEW_MAX, DESKEW_MAX + 0.01, 0.5):
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


def _hull(points: np.ndarray) -> np.ndarray:
    """The convex hull of integer points [N, 2] (x, y), anticlockwise on screen (Andrew's monotone chain)."""
    pts = sorted(set(map(tuple, points.tolist())))
    if len(pts) < 3:
        return np.array(pts, dtype=np.float64)

    def chain(seq):
        out: list = []
        for p in seq:
            while len(out) >= 2 and (
                (out[-1][0] - out[-2][0]) * (p[1] - out[-2][1]) - (out[-1][1] - out[-2][1]) * (p[0] - out[-2][0]) <= 0
            ):
                out.pop()
            out.append(p)
        return out[:-1]

    return np.array(chain(pts) + chain(pts[::-1]), dtype=np.float64)


def sole_angle(core: np.ndarray) -> float:
    """The rotation (degrees, anticlockwise as PIL's rotate) that lays the garment's sole flat, or 0.

    The sole is the longest edge of the outline's convex hull below the garment's centre and within
    SOLE_MAX of horizontal: the line a shoe would stand on. Its tilt is returned when at least SOLE_MIN.
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
    return angle if abs(angle) >= SOLE_MIN else 0.0


def upright_angle(core: np.ndarray, garment: np.ndarray) -> float:
    """The rotation (degrees, anticlockwise as PIL's rotate) that stands the garment upright, or 0.

    Three estimates of how the garment lies, each turning with it: the angle at which its box is
    smallest, the angle that turns its edges to horizontal and vertical, and the angle at which it
    is most mirror-symmetric. Each fails on some garments (a dress flares, a shoe is not symmetric),
    rarely two on the same one, so their median is used. Below DESKEW_MIN degrees, or when the garment
    is not mirror-symmetric (SYMMETRY_MIN), it is left as it is: product photos are usually upright,
    and no turn costs less than a wrong one.
    """
    if not DESKEW_MAX:
        return 0.0
    ys, xs = np.nonzero(core)
    if len(xs) < 20:
        return 0.0
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
        return 0.0
    mirror, symmetry = _mirror_angle(small)
    if symmetry < SYMMETRY_MIN:  # a shoe: the three estimates disagree; lay it on its sole when that is well off
        return sole_angle(core)
    angle = float(np.median([_box_angle(core), _edge_angle(small), mirror]))
    if abs(angle) < DESKEW_MIN or abs(angle) > DESKEW_MAX:
        return 0.0
    return angle
