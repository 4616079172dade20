"""Tilt estimates on masks drawn here: a mirror-symmetric garment is stood upright, a shoe laid on its sole."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from fmnist_lib.images.deskew import SOLE_MAX, SOLE_MIN, Turn, sole_angle, upright_angle
from tests.support.images import SNEAKER_OUTLINE as SNEAKER

# A T-shirt: mirror-symmetric about x = 150.
T_SHIRT = [
    (110, 60),
    (190, 60),
    (250, 100),
    (225, 135),
    (200, 120),
    (200, 240),
    (100, 240),
    (100, 120),
    (75, 135),
    (50, 100),
]


def shape(polygon, angle: float = 0.0) -> np.ndarray:
    """The polygon filled on a 300x300 black canvas and turned by angle (PIL: anticlockwise): float64 [300, 300]."""
    img = Image.new("L", (300, 300), 0)
    ImageDraw.Draw(img).polygon(polygon, fill=200)
    if angle:
        img = img.rotate(angle, resample=Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float64)


def test_a_flat_sole_is_left_alone():
    assert sole_angle(shape(SNEAKER) > 100) == 0.0


@pytest.mark.parametrize("angle", [-40, -25, 25, 40])
def test_a_tilted_sneaker_is_turned_back_onto_its_sole(angle):
    assert sole_angle(shape(SNEAKER, angle) > 100) == pytest.approx(-angle, abs=1.5)


def test_a_slight_tilt_is_left_to_the_upright_rule():
    """Below SOLE_MIN the lowest edge is as often a 3/4 view's as a tilt's (Fashion-MNIST's own shoes)."""
    assert sole_angle(shape(SNEAKER, SOLE_MIN - 6) > 100) == 0.0
    assert sole_angle(shape(SNEAKER, SOLE_MIN + 4) > 100) == pytest.approx(-(SOLE_MIN + 4), abs=1.5)


def test_a_sneaker_standing_on_its_toe_is_not_laid_on_a_steep_edge():
    """Turned past SOLE_MAX, the sole is no longer the lower edge taken: never a turn of more than SOLE_MAX."""
    assert abs(sole_angle(shape(SNEAKER, 70) > 100)) <= SOLE_MAX


def test_a_leaning_lowest_edge_is_not_a_sole_when_laying_it_flat_takes_more_room():
    """A tall garment cut at a slant (or a shoe seen from three quarters): its lowest edge leans 35 degrees,
    but it stands as it is; laid on that edge its box would grow, as a shoe's leaning on its toe shrinks."""
    slanted = shape([(100, 50), (200, 50), (200, 250), (100, 180)])
    assert sole_angle(slanted > 100) == 0.0


def test_upright_angle_lays_a_shoe_on_its_sole_and_says_so():
    garment = shape(SNEAKER, 30)
    turn = upright_angle(garment > 100, garment)
    assert turn.on_sole and turn.angle == pytest.approx(-30, abs=1.5)
    assert upright_angle(garment > 100, garment, lay_on_sole=False) == Turn()


def test_a_symmetric_garment_is_never_laid_on_a_sole():
    """A T-shirt 30 degrees off is beyond DESKEW_MAX: left as it is, not turned by its hem."""
    garment = shape(T_SHIRT, 30)
    assert upright_angle(garment > 100, garment) == Turn()
    tilted = shape(T_SHIRT, 6)
    turn = upright_angle(tilted > 100, tilted)
    assert not turn.on_sole and turn.angle == pytest.approx(-6, abs=1.0)
