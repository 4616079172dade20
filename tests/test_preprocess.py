"""The upload pipelines: every bad-input case refused with its message, every odd-but-valid image
preprocessed, and the steps of "ours" doing what they claim, on images generated here."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFile, ImageFilter

from fmnist_lib.images import preprocess as pp
from fmnist_lib.images.decode import MAX_UPLOAD_BYTES, WORK_SIZE, ImageError, decode_image, open_image
from fmnist_lib.images.preprocess import PIPELINES, Preprocessed, preprocess_image
from tests.support.images import all_cases, case, encode, error_cases, exif_jpeg, garment, sneaker, turned, valid_cases

ROOT = Path(__file__).resolve().parent.parent


def _bbox(pixels: np.ndarray, level: int = 0) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(pixels > level)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _mad(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 images, in grey levels."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_cases_module_is_complete():
    names = [c.name for c in all_cases()]
    assert len(names) == len(set(names))
    for required in [
        "empty",
        "text_as_png",
        "html_as_jpg",
        "svg",
        "truncated_png",
        "truncated_jpeg",
        "bomb_png_400mp",
        "one_pixel",
        "all_white",
        "all_black",
        "rgba_png",
        "palette_gif",
        "animated_gif",
        "png_16bit",
        "cmyk_jpeg",
        "webp",
        "bmp",
        "strip_100_to_1",
        "phone_jpeg_12mp",
    ]:
        assert required in names
    assert all(c.expect == "error" and c.message for c in error_cases())
    assert all(c.expect == "prediction" and c.message is None for c in valid_cases())
    assert len(case("bomb_png_400mp").data) < 1_000_000  # a real bomb: tiny file, 400 MP
    assert Image.open(io.BytesIO(case("png_16bit").data)).mode == "I;16"
    assert Image.open(io.BytesIO(case("cmyk_jpeg").data)).mode == "CMYK"
    assert Image.open(io.BytesIO(case("animated_gif").data)).n_frames == 2


# ---------------------------------------------------------------------------------------------
# Every case, both pipelines
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize("c", error_cases(), ids=lambda c: c.name)
def test_bad_input_gets_its_message(c, pipeline):
    with pytest.raises(ImageError) as info:
        preprocess_image(c.data, pipeline)
    assert c.message in str(info.value)
    assert "Traceback" not in str(info.value) and len(str(info.value)) < 200


@pytest.mark.parametrize("pipeline", PIPELINES)
@pytest.mark.parametrize("c", valid_cases(), ids=lambda c: c.name)
def test_odd_but_valid_images_are_preprocessed(c, pipeline):
    out = preprocess_image(c.data, pipeline)
    assert isinstance(out, Preprocessed) and out.pipeline == pipeline
    assert out.pixels.dtype == np.uint8 and out.pixels.shape == (28, 28)
    assert out.stages, "the Upload page shows every step"
    for st in out.stages:
        assert st.name and st.caption
        assert isinstance(st.image, Image.Image) and max(st.image.size) <= WORK_SIZE
    np.testing.assert_array_equal(np.asarray(out.stages[-1].image), out.pixels)


def test_the_same_file_from_a_path_and_a_file_object(tmp_path):
    data = case("webp").data
    p = tmp_path / "shirt.webp"
    p.write_bytes(data)
    a = preprocess_image(data).pixels
    np.testing.assert_array_equal(preprocess_image(p).pixels, a)
    np.testing.assert_array_equal(preprocess_image(str(p)).pixels, a)
    np.testing.assert_array_equal(preprocess_image(io.BytesIO(data)).pixels, a)


def test_missing_file_and_folder_are_clear_errors(tmp_path):
    with pytest.raises(ImageError, match="Cannot read"):
        preprocess_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="is a folder"):
        preprocess_image(tmp_path)


def test_unknown_pipeline_is_a_value_error():
    with pytest.raises(ValueError, match="ours, tutorial"):
        preprocess_image(case("bmp").data, "fancy")


def test_bomb_is_refused_before_any_pixel_is_decoded(monkeypatch):
    def no_decoding(self, *a, **k):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    for name, mp in [("bomb_png_400mp", "400 megapixels"), ("bomb_png_60mp", "60 megapixels")]:
        with pytest.raises(ImageError, match=mp):
            preprocess_image(case(name).data)


def test_upload_cap_matches_streamlit_config():
    text = (ROOT / ".streamlit" / "config.toml").read_text()
    mb = int(re.search(r"^\s*maxUploadSize\s*=\s*(\d+)", text, re.M).group(1))
    assert mb * 1024 * 1024 == MAX_UPLOAD_BYTES


# ---------------------------------------------------------------------------------------------
# Decoding
# ---------------------------------------------------------------------------------------------


def test_decode_gives_upright_grey_at_most_work_size():
    img = decode_image(case("phone_jpeg_12mp").data)
    assert img.mode == "L" and max(img.size) <= WORK_SIZE
    w, h = img.size
    assert w > h, "stored 3000x4000 sideways, EXIF orientation 6: upright it is landscape"


def test_large_jpeg_is_decoded_reduced_with_draft(monkeypatch):
    from PIL import JpegImagePlugin

    seen = []
    real_draft = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        seen.append(size)
        return real_draft(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    dec = open_image(case("phone_jpeg_12mp").data)
    assert dec.size == (3000, 4000)
    assert seen == [(384, WORK_SIZE)]  # the image's shape at WORK_SIZE: as much reduction as keeps that
    assert any("decoded reduced" in s for s in dec.steps)


def test_exif_orientation_is_applied():
    upright = garment((300, 200), colour=(120, 30, 35))
    stored = exif_jpeg(upright, 6, quality=95)  # the viewer must rotate 270 degrees (clockwise 90) to show it upright
    plain = encode(upright, "JPEG", quality=95)
    assert open_image(stored).image.size == (300, 200)
    assert _mad(preprocess_image(stored).pixels, preprocess_image(plain).pixels) < 3
    # The tutorial ignores the tag: it sees the garment lying on its side.
    assert _mad(preprocess_image(stored, "tutorial").pixels, preprocess_image(plain, "tutorial").pixels) > 10


def test_transparency_is_composited_on_white():
    data = case("rgba_png").data
    rgba = Image.open(io.BytesIO(data))
    on_white = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba.convert("RGBA"))
    flat = encode(on_white.convert("RGB"), "PNG")
    np.testing.assert_array_equal(preprocess_image(data).pixels, preprocess_image(flat).pixels)
    assert any("composited onto white" in s for s in open_image(data).steps)


def test_sixteen_bit_is_scaled_not_clipped():
    data = case("png_16bit").data
    eight = encode(garment((160, 160)).convert("L"), "PNG")
    np.testing.assert_array_equal(np.asarray(decode_image(data)), np.asarray(decode_image(eight)))
    np.testing.assert_array_equal(preprocess_image(data).pixels, preprocess_image(eight).pixels)


def test_animated_gif_uses_the_first_frame():
    data = case("animated_gif").data
    first = Image.open(io.BytesIO(data)).convert("RGB")  # frame 0
    out = preprocess_image(data)
    np.testing.assert_array_equal(out.pixels, preprocess_image(encode(first, "PNG")).pixels)
    assert out.pixels.max() == 255  # frame 1 is all black: using it would give an empty image
    assert any("first frame" in s for s in open_image(data).steps)


def test_cmyk_jpeg_matches_its_rgb_version():
    rgb = garment((180, 150))
    cmyk = encode(rgb.convert("CMYK"), "JPEG", quality=95)
    assert _mad(preprocess_image(cmyk).pixels, preprocess_image(encode(rgb, "JPEG", quality=95)).pixels) < 4


# ---------------------------------------------------------------------------------------------
# Our pipeline's steps
# ---------------------------------------------------------------------------------------------


def test_ours_gives_a_light_garment_on_black_filling_28_px_centred():
    photo = garment((400, 300), box=(0.3, 0.2, 0.6, 0.9))  # small garment, wide margins, off-centre
    px = preprocess_image(encode(photo, "PNG")).pixels
    x0, y0, x1, y1 = _bbox(px, 10)
    assert max(x1 - x0, y1 - y0) >= 27, "longest side resized to 28 px"
    assert abs((y0 + y1) / 2 - 14) <= 1 and abs((x0 + x1) / 2 - 14) <= 1, "centred"
    assert px.max() == 255 and px[0, 0] == 0 and px[27, 27] == 0, "light garment on black"
    assert px[14, 14] > 200, "the garment's body is bright"


def test_ours_gives_a_black_image_with_a_note_when_no_core_is_left(monkeypatch):
    # A fine texture (bench/not_garment's marble, seed [0, 8, 1]) differs from its background estimate, yet
    # Otsu's threshold leaves no core pixel: the crop's box was then taken of an empty array (ValueError).
    monkeypatch.setattr(pp, "_core", lambda g: np.zeros(g.pixels.shape, dtype=bool))
    out = preprocess_image(encode(garment((120, 90)), "PNG"))
    assert out.pixels.shape == (28, 28) and out.pixels.max() == 0
    assert out.notes == ["No garment stands out from the background: the model sees an empty image."]
    assert "black" in out.stages[-1].caption


def test_tutorial_shrinks_to_20_px_without_cropping():
    photo = garment((400, 300), box=(0.3, 0.2, 0.6, 0.9))
    px = preprocess_image(encode(photo, "PNG"), "tutorial").pixels
    x0, y0, x1, y1 = _bbox(px, 10)
    assert max(x1 - x0, y1 - y0) <= 20
    assert y1 - y0 < 16, "no crop: the garment is only part of the 20 px"


def test_polarity_light_garment_on_dark_matches_dark_on_light():
    dark_on_light = preprocess_image(encode(garment(colour=(30, 30, 30), background=(240, 240, 240)), "PNG"))
    light_on_dark = preprocess_image(encode(garment(colour=(240, 240, 240), background=(30, 30, 30)), "PNG"))
    assert _mad(dark_on_light.pixels, light_on_dark.pixels) < 3
    assert "lighter than the background" in " ".join(s.caption for s in light_on_dark.stages)


def test_uneven_light_is_removed():
    """The same garment under a strong left-to-right gradient and a shadowed corner gives the same 28x28."""
    flat = garment((300, 240), colour=(40, 40, 40), background=(235, 235, 235))
    a = np.asarray(flat, dtype=np.float64)
    ramp = np.linspace(0.55, 1.0, a.shape[1])[None, :, None] * np.linspace(0.85, 1.0, a.shape[0])[:, None, None]
    uneven = Image.fromarray(np.clip(a * ramp, 0, 255).astype(np.uint8))
    ours_flat = preprocess_image(encode(flat, "PNG")).pixels
    ours_uneven = preprocess_image(encode(uneven, "PNG")).pixels
    assert _mad(ours_flat, ours_uneven) < 12
    assert _mad(preprocess_image(encode(uneven, "PNG"), "tutorial").pixels, ours_flat) > 2 * _mad(
        ours_flat, ours_uneven
    )


def test_garment_touching_the_border_still_found():
    photo = garment((200, 200), box=(0.25, 0.0, 0.75, 1.0))  # the neck and hem touch the frame
    px = preprocess_image(encode(photo, "PNG")).pixels
    x0, y0, x1, y1 = _bbox(px, 10)
    assert y1 - y0 >= 27 and px.max() == 255


def test_a_fashion_mnist_style_image_is_left_almost_unchanged():
    """A 28x28 light-on-black image (what the model was trained on) goes through "ours" nearly unchanged."""
    g = np.asarray(garment((28, 28), colour=(0, 0, 0), background=(255, 255, 255), box=(0.0, 0.0, 1.0, 1.0)))
    fm = 255 - np.asarray(Image.fromarray(g).convert("L"))
    out = preprocess_image(encode(Image.fromarray(fm), "PNG")).pixels
    assert _mad(out, fm) < 8


def test_empty_images_give_a_black_28x28_and_a_note():
    for name in ("all_white", "all_black", "one_pixel"):
        out = preprocess_image(case(name).data)
        assert out.pixels.max() == 0
        assert out.notes and "No garment" in out.notes[0]


def test_jpeg_noise_and_shadow_do_not_become_garment():
    """Background noise (JPEG, sensor) stays black: the corners of the 28x28 are 0."""
    rng = np.random.default_rng(1)
    a = np.asarray(garment((300, 300), box=(0.2, 0.1, 0.8, 0.9)), dtype=np.float64)
    noisy = np.clip(a + rng.normal(0, 4, a.shape), 0, 255).astype(np.uint8)
    px = preprocess_image(encode(Image.fromarray(noisy), "JPEG", quality=40)).pixels
    assert px[:3, :3].max() == 0 and px[-3:, -3:].max() == 0
    assert px.max() == 255


def test_preprocess_module_does_not_normalise_or_import_streamlit():
    src = Path(pp.__file__).read_text()
    assert not re.search(r"^\s*(import|from)\s+(streamlit|torch)", src, re.M)
    assert "scaling import" not in src and ".std" not in src and "/ 0.3530" not in src


def test_a_soft_shadow_beside_the_garment_is_blackened():
    photo = garment((300, 300), colour=(30, 40, 90), box=(0.2, 0.15, 0.75, 0.8))
    mask = (np.asarray(photo.convert("L")) < 128).astype(np.uint8) * 255
    blur = np.asarray(Image.fromarray(mask).filter(ImageFilter.GaussianBlur(10)), dtype=np.float64) / 255
    shadow = np.roll(np.roll(blur, 12, axis=0), 12, axis=1)  # down and to the right
    a = np.asarray(photo, dtype=np.float64)
    is_bg = mask[:, :, None] == 0
    shadowed = np.where(is_bg, a * (1 - 0.25 * shadow[:, :, None]), a)
    with_shadow = preprocess_image(encode(Image.fromarray(shadowed.astype(np.uint8)), "PNG")).pixels
    without = preprocess_image(encode(photo, "PNG")).pixels
    assert _mad(with_shadow, without) < 6
    x0, y0, x1, y1 = _bbox(with_shadow, 0)
    assert max(x1 - x0, y1 - y0) >= 27 and abs((x0 + x1) / 2 - 14) <= 1.5, "the box is the garment's, not the shadow's"


def test_a_garment_lying_at_an_angle_is_straightened():
    upright = Image.new("RGB", (300, 300), (245, 245, 245))  # trousers: two legs joined at the top
    ImageDraw.Draw(upright).polygon(
        [(110, 40), (190, 40), (195, 260), (160, 260), (150, 110), (140, 260), (105, 260)], fill=(20, 20, 20)
    )
    tilted = upright.rotate(8, resample=Image.Resampling.BICUBIC, fillcolor=(245, 245, 245))
    out = preprocess_image(encode(tilted, "PNG"))
    assert abs(_turned(out) - (-8)) <= 1, "8° clockwise"
    assert _mad(out.pixels, preprocess_image(encode(upright, "PNG")).pixels) < 15
    big = upright.resize((512, 512)).rotate(8, fillcolor=(245, 245, 245))
    assert all(max(st.image.size) <= WORK_SIZE for st in preprocess_image(encode(big, "PNG")).stages)


def _turned(out: Preprocessed) -> float:
    """The straightening angle the pipeline applied (anticlockwise positive), 0 when it did not turn the garment."""
    return turned(out)[0]


def _dress(angle: float = 0.0) -> Image.Image:
    """A dress: narrow shoulders flaring to a wide hem (its smallest box is not the upright one), turned by angle."""
    img = Image.new("RGB", (300, 300), (200, 200, 200))
    ImageDraw.Draw(img).polygon(
        [(125, 40), (175, 40), (185, 110), (230, 260), (70, 260), (115, 110)], fill=(40, 80, 45)
    )
    return img.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=(200, 200, 200)) if angle else img


@pytest.mark.parametrize("angle", [-5, 5])
@pytest.mark.parametrize("shape", ["t-shirt", "dress"])
def test_a_garment_tilted_by_5_degrees_comes_out_straight(shape, angle):
    upright = garment(size=(300, 300), box=(0.2, 0.15, 0.8, 0.85)) if shape == "t-shirt" else _dress()
    tilted = upright.rotate(angle, resample=Image.Resampling.BICUBIC, fillcolor=upright.getpixel((0, 0)))
    out = preprocess_image(encode(tilted, "JPEG", quality=85))
    assert abs(_turned(out) + angle) <= 1.0, f"turned {_turned(out)}°, expected {-angle}°"
    straight = preprocess_image(encode(upright, "JPEG", quality=85)).pixels
    assert _mad(out.pixels, straight) < 12


@pytest.mark.parametrize("shape", ["t-shirt", "dress", "trousers"])
def test_an_upright_garment_is_not_turned(shape):
    if shape == "trousers":
        upright = Image.new("RGB", (300, 300), (245, 245, 245))
        ImageDraw.Draw(upright).polygon(
            [(110, 40), (190, 40), (195, 260), (160, 260), (150, 110), (140, 260), (105, 260)], fill=(20, 20, 20)
        )
    else:
        upright = garment(size=(300, 300)) if shape == "t-shirt" else _dress()
    assert _turned(preprocess_image(encode(upright, "JPEG", quality=60))) == 0.0


@pytest.mark.parametrize("angle", [-30, 30])
def test_a_shoe_drawn_tilted_is_laid_on_its_sole(angle):
    """Emoji shoes lean 20-45 degrees; Fashion-MNIST's all stand on their soles."""
    out = preprocess_image(encode(sneaker(angle), "PNG"))
    assert abs(_turned(out) + angle) <= 1.5, f"turned {_turned(out)}°, expected {-angle}°"
    assert "on its sole" in next(st.caption for st in out.stages if st.name == "Straightened")
    flat = preprocess_image(encode(sneaker(), "PNG")).pixels
    assert _mad(out.pixels, flat) < 15
    left_as_is = preprocess_image(encode(sneaker(angle), "PNG"), lay_on_sole=False)
    assert _turned(left_as_is) == 0.0 and _mad(left_as_is.pixels, flat) > 30


def test_a_shoe_on_its_sole_is_not_turned():
    assert _turned(preprocess_image(encode(sneaker(), "JPEG", quality=80))) == 0.0


def test_the_reduced_decoding_note_appears_only_when_the_jpeg_was_reduced():
    import io as _io

    from PIL import Image as _Image

    from fmnist_lib.images.preprocess import preprocess_image as _pre

    def first_caption(size):
        buf = _io.BytesIO()
        _Image.new("RGB", size, "white").save(buf, "JPEG")
        return _pre(buf.getvalue()).stages[0].caption

    assert "decoded reduced" not in first_caption((800, 1000))  # draft cannot halve it without going below 512 px
    assert "decoded reduced to 1000×750" in first_caption((4000, 3000))
