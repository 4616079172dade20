"""The fill step: outline drawings made here (closed, open, nested, slightly open) are filled where they
enclose and left open where they do not; filled shapes, textured insides and photos are left alone."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fmnist_lib.images import outline as ol
from fmnist_lib.images.preprocess import preprocess_image
from tests.support.images import encode, garment, sneaker

SIZE = 120


def _strokes(draw, size: int = SIZE) -> np.ndarray:
    """A bool mask of strokes drawn by draw(ImageDraw, colour) on a size x size canvas."""
    img = Image.new("L", (size, size), 0)
    draw(ImageDraw.Draw(img), 255)
    return np.asarray(img) > 0


def _interior(strokes: np.ndarray) -> np.ndarray | None:
    found = ol.outline_interior(strokes * 200.0, strokes)
    return None if found is None else found.inside


def _square(d, c, width=2):
    d.rectangle((20, 20, 100, 100), outline=c, width=width)


def _trousers(d, c, width=2):
    # The gap between the legs opens at the bottom: it is outside.
    d.line([(30, 10), (90, 10), (100, 110), (70, 110), (60, 50), (50, 110), (20, 110), (30, 10)], fill=c, width=width)


def _bag(d, c, width=2):
    # A body and a handle band with a hole: outer contour, then the hole's contour.
    d.rectangle((15, 55, 105, 110), outline=c, width=width)
    d.arc((30, 10, 90, 100), 180, 360, fill=c, width=width)
    d.arc((42, 22, 78, 88), 180, 360, fill=c, width=width)


def test_label_counts_4_connected_regions():
    m = np.array(
        [
            [1, 1, 0, 1],
            [0, 1, 0, 1],
            [1, 0, 0, 1],
            [1, 1, 1, 1],
        ],
        dtype=bool,
    )
    labels, n = ol.label(m)
    assert n == 2  # the diagonal touch at (1,1)-(2,0) does not join: 4-connectivity
    assert labels[0, 0] == labels[1, 1] != labels[2, 0] == labels[0, 3] == labels[3, 3]
    assert (labels == 0).sum() == (~m).sum()


def test_label_of_an_empty_mask():
    labels, n = ol.label(np.zeros((3, 4), dtype=bool))
    assert n == 0 and not labels.any()


def test_stroke_width_measures_lines():
    assert ol.stroke_width(_strokes(lambda d, c: d.line([(10, 60), (110, 60)], fill=c, width=4))) == pytest.approx(
        4, abs=0.5
    )


def test_a_closed_outline_is_filled_inside_only():
    s = _strokes(_square)
    inside = _interior(s)
    assert inside is not None
    assert inside[60, 60] and inside[25, 25] and inside[97, 97]  # the whole inside, up to the stroke
    assert not inside[10, 10] and not inside[110, 60]  # never outside
    assert not (inside & s).any()  # the strokes stay as they are


def test_an_opening_that_reaches_the_outside_stays_open():
    inside = _interior(_strokes(_trousers))
    assert inside is not None
    assert inside[30, 60] and inside[80, 35] and inside[80, 85]  # the waist and both legs
    assert not inside[100, 60]  # between the legs: open to the outside


def test_a_narrow_gap_between_trouser_legs_stays_open():
    # Traced trousers: the legs almost touch, a channel 4-8 px wide up to the crotch, narrower than the
    # bridging reaches (two strokes thickened by GAP each side), so bridging alone would fill it.
    def narrow_trousers(d, c):
        d.line([(30, 10), (90, 10), (100, 110), (64, 110), (61, 40), (59, 40), (56, 110), (20, 110), (30, 10)],
               fill=c, width=2)  # fmt: skip

    s = _strokes(narrow_trousers)
    inside = _interior(s)
    assert inside is not None
    assert inside[25, 60] and inside[90, 35] and inside[90, 85]  # the waist and both legs
    # Between the inner leg lines, which close in by 3 px over 70 rows from x = 56 and 64 at the bottom.
    channel = [
        (y, x) for y in range(45, 110) for x in range(56, 65) if abs(x - 60) < 4 - 3 * (110 - y) / 70 and not s[y, x]
    ]
    assert len(channel) > 50
    assert not any(inside[y, x] for y, x in channel), "the gap between the legs was filled"


def test_a_hole_behind_a_second_stroke_stays_open():
    inside = _interior(_strokes(_bag))
    assert inside is not None
    assert inside[80, 60] and inside[35, 35]  # the body and the handle band
    assert not inside[45, 60]  # the handle's hole, inside the band's inner contour


def test_nested_outlines_fill_the_outer_ring_and_keep_the_inner_hole():
    def nested(d, c):
        d.ellipse((10, 10, 110, 110), outline=c, width=2)
        d.ellipse((40, 40, 80, 80), outline=c, width=2)

    inside = _interior(_strokes(nested))
    assert inside is not None
    assert inside[20, 60] and not inside[60, 60]


def test_a_slightly_open_stroke_is_still_filled():
    def open_square(d, c):
        d.line([(60, 20), (20, 20), (20, 100), (100, 100), (100, 20), (64, 20)], fill=c, width=2)  # 4 px gap

    inside = _interior(_strokes(open_square))
    assert inside is not None and inside[60, 60] and inside[90, 30]
    assert not inside[10, 60]


def test_a_wide_opening_is_not_bridged():
    def cup(d, c):
        d.line([(20, 20), (20, 100), (100, 100), (100, 20)], fill=c, width=2)  # open at the top

    assert _interior(_strokes(cup)) is None  # nothing enclosed: not an outline


@pytest.mark.parametrize(
    "draw",
    [
        lambda d, c: d.rectangle((20, 20, 100, 100), fill=c),  # a filled shape
        lambda d, c: d.rectangle((20, 20, 100, 100), outline=c, width=30),  # thick strokes, small inside
        lambda d, c: d.line([(10, 10), (110, 110)], fill=c, width=3),  # a line encloses nothing
    ],
    ids=["filled", "thick", "line"],
)
def test_shapes_that_are_not_outlines_are_left_alone(draw):
    assert _interior(_strokes(draw)) is None


def test_an_inside_with_its_own_texture_is_not_filled():
    s = _strokes(_square)
    g = s * 200.0
    g[30:90, 30:90] = np.random.default_rng(0).uniform(0, 120, (60, 60))  # a garment's own shading, below the strokes
    assert ol.outline_interior(g, s) is None


def test_fill_raises_the_inside_to_the_strokes_level():
    s = _strokes(_square)
    g = s * 200.0
    found = ol.outline_interior(g, s)
    filled = ol.fill(g, found)
    assert filled[60, 60] == pytest.approx(200.0 * ol.FILL_LEVEL) and filled[5, 5] == 0


def _drawing(draw, ink: int, paper: int, size: int = 240) -> bytes:
    img = Image.new("RGB", (size, size), (paper,) * 3)
    draw(ImageDraw.Draw(img), (ink,) * 3, width=5)
    return encode(img, "PNG")


@pytest.mark.parametrize("ink,paper", [(0, 255), (255, 0), (40, 230)], ids=["black-on-white", "white-on-black", "pen"])
def test_the_pipeline_fills_a_drawing_in_its_own_step(ink, paper):
    data = _drawing(lambda d, c, width: d.rectangle((40, 40, 200, 200), outline=c, width=width), ink, paper)
    pre = preprocess_image(data)
    names = [s.name for s in pre.stages]
    assert "Filled outline" in names and names.index("Filled outline") == names.index("Difference") + 1
    caption = pre.stages[names.index("Filled outline")].caption
    assert "filled" in caption and "open" in caption
    hollow = preprocess_image(data, fill_outlines=False)
    assert "Filled outline" not in [s.name for s in hollow.stages]
    assert pre.pixels[14, 14] > 150 and hollow.pixels[14, 14] < 50  # the centre: filled / hollow


@pytest.mark.parametrize(
    "photo",
    [
        lambda: encode(garment(), "PNG"),
        lambda: encode(garment(size=(300, 200)), "JPEG"),
        lambda: encode(sneaker(0.0), "PNG"),
        lambda: _drawing(lambda d, c, width: d.rectangle((40, 40, 200, 200), fill=c), 0, 255),
    ],
    ids=["t-shirt", "t-shirt-jpeg", "sneaker", "filled-drawing"],
)
def test_photos_and_filled_drawings_pass_unchanged(photo):
    data = photo()
    pre = preprocess_image(data)
    assert "Filled outline" not in [s.name for s in pre.stages]
    assert np.array_equal(pre.pixels, preprocess_image(data, fill_outlines=False).pixels)
