"""fmnist_lib.images.decode: unreadable sources become ImageError; the work per upload is bounded (aspect ratio,
pixels per kind, reduced decoding, nothing copied at full size after decoding). Files made here."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from fmnist_lib.images import decode
from fmnist_lib.images.decode import PIXEL_LIMITS, WORK_SIZE, ImageError, open_image
from tests.support.images import encode, garment, png_bomb


class _FailingRead(io.RawIOBase):
    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        raise OSError(5, "Input/output error")


def test_a_file_object_whose_read_fails_is_an_image_error():
    with pytest.raises(ImageError, match="could not be read: Input/output error"):
        open_image(_FailingRead())


def test_a_closed_or_text_mode_file_is_an_image_error(tmp_path):
    closed = io.BytesIO(encode(garment(), "PNG"))
    closed.close()
    with pytest.raises(ImageError, match="could not be read"):
        open_image(closed)
    with pytest.raises(ImageError, match="opened as text"):
        open_image(io.StringIO("not bytes"))


def test_a_path_with_a_nul_is_an_image_error(tmp_path):
    for path in ("shirt\x00.png", tmp_path / "shirt\x00.png"):
        with pytest.raises(ImageError, match="NUL character"):
            open_image(path)


def test_one_side_at_most_100_times_the_other():
    assert open_image(encode(garment((1000, 10), box=(0.1, 0.1, 0.9, 0.9)), "PNG")).size == (1000, 10)
    with pytest.raises(ImageError, match=r"1010×10 pixels: one side is 101 times the other.*100:1"):
        open_image(png_bomb(1010, 10))


def test_each_kind_has_its_pixel_limit(monkeypatch):
    monkeypatch.setitem(PIXEL_LIMITS, "PNG", 10_000)
    assert open_image(png_bomb(100, 100)).size == (100, 100)
    with pytest.raises(ImageError, match=r"101×100 pixels .* a PNG is decoded whole"):
        open_image(png_bomb(101, 100))
    # a sequential JPEG is decoded reduced, so it keeps the higher limit; a progressive one holds it whole
    monkeypatch.setitem(PIXEL_LIMITS, "progressive JPEG", 10_000)
    sequential = encode(Image.new("L", (101, 100), 200), "JPEG")
    assert open_image(sequential).size == (101, 100)
    with pytest.raises(ImageError, match="a progressive JPEG is decoded whole"):
        open_image(encode(Image.new("L", (101, 100), 200), "JPEG", progressive=True))


def test_a_long_thin_jpeg_is_decoded_reduced_like_a_square_one():
    dec = open_image(encode(garment((20000, 400), box=(0.45, 0.1, 0.55, 0.9)), "JPEG", quality=80))
    assert "Large JPEG decoded reduced to 2500×50." in dec.steps  # 1/8: the long side stays >= 512
    assert dec.image.size == (WORK_SIZE, 10)


def _transparent_garment(size) -> Image.Image:
    rgba = garment(size).convert("RGBA")
    a = np.asarray(rgba).copy()
    a[..., 3] = np.where(a[..., 0] < 128, 255, 0)  # the garment opaque, the background transparent
    return Image.fromarray(a, "RGBA")


@pytest.mark.parametrize("kind", ["rgba", "palette", "grey-colour-key"])
def test_a_large_image_is_reduced_before_any_full_size_copy(monkeypatch, kind):
    """Compositing, palette expansion and 16-bit scaling make copies; they work on the reduced image."""
    if kind == "rgba":
        img = _transparent_garment((2400, 1800))
    elif kind == "palette":
        img = _transparent_garment((2400, 1800)).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
        img.info["transparency"] = int(np.asarray(img)[0, 0])  # the background's palette index
    else:
        img = garment((2400, 1800)).convert("L")
        img.info["transparency"] = 245  # the background's grey level is transparent
    seen = []
    real = decode._to_8bit

    def spy(image, steps):
        seen.append(image.size)
        return real(image, steps)

    monkeypatch.setattr(decode, "_to_8bit", spy)
    dec = open_image(encode(img, "PNG", transparency=img.info.get("transparency")))
    assert seen and all(max(size) <= WORK_SIZE for size in seen)
    assert dec.image.size == (WORK_SIZE, 384)
    assert "Transparent parts composited onto white." in dec.steps
    corner = np.asarray(dec.image.convert("L"))[:20, :20]
    assert corner.min() >= 250, "the transparent background is white, as before reduction"


def test_a_large_16_bit_png_is_scaled_not_clipped():
    grey = np.asarray(garment((1200, 900)).convert("L"), dtype=np.uint16) * 257
    dec = open_image(encode(Image.fromarray(grey), "PNG"))
    assert "16-bit grey scaled to 8 bits (65535 -> 255)." in dec.steps
    a = np.asarray(dec.image.convert("L"))
    assert a.max() >= 240 and a.min() <= 60  # a light background and a dark garment: clipping makes both 255


def _png(width: int, height: int) -> bytes:
    return encode(Image.new("L", (width, height), 200), "PNG")


def test_large_full_size_decodes_take_turns_small_ones_and_jpegs_do_not_wait(monkeypatch):
    """Two sessions' 16 MP PNGs must not hold their full-size buffers at once: one waits for the other."""
    import threading

    inside, most, lock = [0], [0], threading.Lock()
    real_reduce = decode.reduce_image

    def counting_reduce(img, size=WORK_SIZE):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        threading.Event().wait(0.2)  # hold the full-size image a moment, as a slow decode would
        with lock:
            inside[0] -= 1
        return real_reduce(img, size)

    monkeypatch.setattr(decode, "reduce_image", counting_reduce)
    large = _png(2500, 2000)  # 5 MP, over LARGE_DECODE_PIXELS
    threads = [threading.Thread(target=open_image, args=(large,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] == 1, "large decodes overlapped"

    most[0] = 0
    small = [_png(600, 400), encode(Image.new("RGB", (3000, 2000), "white"), "JPEG")]
    threads = [threading.Thread(target=open_image, args=(data,)) for data in small * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most[0] >= 2, "small images and JPEGs (decoded reduced) need not wait"
