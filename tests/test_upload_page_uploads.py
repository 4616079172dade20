"""lab_ui.upload_page.uploads without the app: the "Original" thumbnail shows an upload as a viewer would."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
from PIL import Image

from lab_ui.upload_page import uploads


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_a_transparent_pngs_original_shows_the_transparent_area_on_a_checkerboard_not_black():
    rgba = np.zeros((200, 160, 4), np.uint8)  # black under full transparency, as many editors store it
    rgba[60:140, 50:110] = (30, 40, 90, 255)  # an opaque dark garment in the middle
    thumb = np.asarray(uploads._original_thumbnail(png(Image.fromarray(rgba, "RGBA"))))
    assert thumb.shape == (200, 160, 3)
    corner = thumb[:40, :40]
    assert corner.min() >= 200, "the transparent area is light, as viewers show it"
    assert len(np.unique(corner)) == 2, "a checkerboard of two light greys"
    assert tuple(thumb[100, 80]) == (30, 40, 90), "the opaque garment is drawn as it is"


def test_a_palette_png_with_a_transparent_colour_is_shown_on_the_checkerboard_too():
    p = Image.new("P", (64, 64), 0)
    p.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
    p.paste(1, (16, 16, 48, 48))
    buf = io.BytesIO()
    p.save(buf, "PNG", transparency=0)
    thumb = np.asarray(uploads._original_thumbnail(buf.getvalue()))
    assert thumb[:8, :8].min() >= 200 and tuple(thumb[32, 32]) == (200, 30, 30)


def test_an_opaque_photo_is_unchanged():
    rgb = np.full((50, 40, 3), 123, np.uint8)
    thumb = np.asarray(uploads._original_thumbnail(png(Image.fromarray(rgb, "RGB"))))
    assert (thumb == 123).all()


def test_steps_are_laid_out_in_rows_of_at_most_four_in_order():
    """Issue 12: nine steps in one row left ~110 px a caption, breaking "Autocontrast" mid-word."""
    rows = uploads.in_rows(list(range(9)))
    assert [len(r) for r in rows] == [4, 4, 1]
    assert [x for r in rows for x in r] == list(range(9))
    assert uploads.in_rows([]) == []


def test_a_white_step_image_gets_a_grey_frame_and_keeps_its_inside():
    white = Image.new("L", (40, 30), 255)
    a = uploads.framed(white)
    assert a.shape == (30, 40)
    edge = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1], a[1], a[:, 1]])
    assert (edge == uploads.FRAME_GREY).all(), "a 2 px grey border on every side"
    assert (a[2:-2, 2:-2] == 255).all(), "the inside is untouched"
    rgb = uploads.framed(Image.new("RGBA", (10, 10), (255, 0, 0, 255)))
    assert rgb.shape == (10, 10, 3) and tuple(rgb[0, 0]) == (170,) * 3 and tuple(rgb[5, 5]) == (255, 0, 0)
    assert (np.asarray(white) == 255).all(), "the thumbnail itself is not changed"


def test_the_original_of_a_long_thin_jpeg_is_decoded_reduced_like_the_pipelines_image(monkeypatch):
    """Issue 11: the preview decoded a 65000×700 JPEG whole (+300 MB of server memory) while the pipelines
    decoded it at 1/8 scale."""
    from PIL import JpegImagePlugin

    from tests.support.images import encode, garment

    loaded = []
    real_load = JpegImagePlugin.JpegImageFile.load

    def spy(self):
        loaded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "load", spy)
    data = encode(garment((20000, 400), box=(0.45, 0.1, 0.55, 0.9)), "JPEG", quality=80)
    thumb = uploads._original_thumbnail(data)
    assert thumb is not None and thumb.size == (uploads.THUMB, 6)
    assert loaded and max(max(size) for size in loaded) <= 20000 // 8


def _novelty(energy: float, distance: float):
    """A judged upload: thresholds energy -5 and distance 3 (each score is over its threshold or not)."""
    from fmnist_lib.novelty import Novelty

    return Novelty(
        energy=energy,
        energy_threshold=-5.0,
        distance=distance,
        distance_threshold=3.0,
        energy_quantile=0.99,
        distance_quantile=0.995,
    )


def test_the_not_a_garment_caveat_says_why_and_that_the_top3_is_still_a_guess():
    weak = _novelty(energy=-2.0, distance=1.0)
    text = uploads.caveat(weak)
    assert text.startswith("This doesn't look like anything in Fashion-MNIST: ")
    assert "best guess among its 10 classes" in text
    assert "evidence" in text and "pixels" not in text, "only the reason that holds"
    far = uploads.caveat(_novelty(energy=-9.0, distance=4.0))
    assert "pixels" in far and "evidence" not in far
    figures = uploads.caveat_figures(weak)
    assert "-2.00" in figures and "-5.00" in figures and "3.00" in figures
    assert "0.5%" in figures and "1.0%" in figures, "how many training images each threshold lets through"
    same = dataclasses.replace(weak, energy_quantile=0.995)
    assert "Only 0.5% of the training images are above either threshold" in uploads.caveat_figures(same)
