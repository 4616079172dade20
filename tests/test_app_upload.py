"""AppTest: the Upload page — real image bytes give the Top-3; every bad file a clear error,
after which the page keeps working. Uses the generated cases of tests/support/images.py."""

from __future__ import annotations

import re

import pytest

from lab_ui import state
from tests.support.apptest import assert_ok, open_page, set_widget, texts, train_on_the_train_page
from tests.support.images import all_cases, encode, garment, sneaker

pytestmark = pytest.mark.integration

ALLOWED = {"png", "jpg", "jpeg", "webp", "gif", "bmp"}  # the uploader's types


@pytest.fixture(scope="module")
def at():
    return open_page("app_pages/upload.py")


def upload(at, name: str, data: bytes, mime: str):
    at.file_uploader(key=state.IMAGE_UPLOAD).set_value((name, data, mime))
    at.run()
    assert_ok(at)
    return at


def shows_top3(at) -> bool:
    return any(t.startswith("Predicted: ") for t in texts(at.success)) and len(at.get("vega_lite_chart")) >= 1


def test_nothing_uploaded_yet(at):
    assert any("Upload a photo" in t for t in texts(at.info))
    assert not at.error


def test_a_photo_gives_the_top3_evidence_and_temperature(at):
    upload(at, "shirt.png", encode(garment(), "PNG"), "image/png")
    assert shows_top3(at)
    assert not at.error
    captions = " ".join(texts(at.caption))
    assert captions.count("logit") >= 3, "per-pixel evidence for each of the Top-3"
    assert any("tutorial" in t.lower() for t in texts(at.markdown)), "the tutorial's pipeline beside ours"
    set_widget(at, "select_slider", state.TEMPERATURE, 5.0)
    assert shows_top3(at)


def test_broken_bytes_give_an_error_and_the_page_recovers(at):
    upload(at, "broken.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50, "image/png")
    assert at.error and "broken.png" in at.error[0].value
    assert not any(t.startswith("Predicted: ") for t in texts(at.success))
    upload(at, "shirt.jpg", encode(garment(), "JPEG"), "image/jpeg")
    assert shows_top3(at) and not at.error


def test_every_generated_case(at):
    """Each odd-but-valid image gives a Top-3; each bad file its specific message."""
    problems = []
    for c in all_cases():
        if c.over_upload_cap or c.filename.rsplit(".", 1)[-1].lower() not in ALLOWED:
            continue  # refused by the uploader itself before the app sees it
        upload(at, c.filename, c.data, c.mime)
        if c.expect == "prediction":
            if not shows_top3(at) or at.error:
                problems.append(f"{c.name}: no Top-3 ({texts(at.error)})")
        else:
            errors = " ".join(texts(at.error))
            if c.message not in errors or shows_top3(at):
                problems.append(f"{c.name}: expected an error with {c.message!r}, got {errors!r}")
    assert not problems, "\n".join(problems)


def test_the_camera_is_offered(at):
    set_widget(at, "toggle", state.USE_CAMERA, True)
    assert at.camera_input(key=state.CAMERA)
    set_widget(at, "toggle", state.USE_CAMERA, False)


def right_pointing_shoe_png() -> bytes:
    """A Fashion-MNIST sneaker mirrored (pointing right, as none of its training shoes do), dark on white."""
    import io

    from PIL import Image

    from fmnist_lib import load_fashion_mnist

    data = load_fashion_mnist(download=False)
    index = int((data.test_labels == 7).nonzero()[0])
    px = 255 - data.test_images[index].flip(-1).numpy()
    buf = io.BytesIO()
    Image.fromarray(px).resize((280, 280), Image.Resampling.BICUBIC).save(buf, "PNG")
    return buf.getvalue()


def test_the_mirror_step_is_shown_and_switchable(at):
    upload(at, "shoe.png", right_pointing_shoe_png(), "image/png")
    assert shows_top3(at)

    def mirror_line() -> str:
        return next(t for t in texts(at.caption) if "Your image alone:" in t)

    def views(line: str) -> str:
        return line.split("Your image alone:")[1].split(". ")[0]

    on_line, on_answer = mirror_line(), [t for t in texts(at.success) if t.startswith("Predicted: ")]
    assert on_line.startswith("It faces right"), "says why: a right-pointing shoe is read in the mirror"
    # The evidence is the mirror image's, the view the model read: its top class has the highest logit.
    logits = [float(re.search(r"logit \*\*([-+.\d]+)\*\*", t)[1]) for t in texts(at.caption) if "= logit" in t]
    assert len(logits) == 3 and logits[0] == max(logits), logits
    assert "its mirror image:" in on_line and "mirror-aware:" in on_line
    assert at.toggle(key=state.widget_key(state.MIRROR)).value is True  # on by default
    set_widget(at, "toggle", state.MIRROR, False)
    off_answer = [t for t in texts(at.success) if t.startswith("Predicted: ")]
    assert off_answer != on_answer, "the Top-3 is the image's own once the mirror step is off"
    assert views(mirror_line()) == views(on_line), "the same three views, either way"
    set_widget(at, "toggle", state.MIRROR, True)
    assert [t for t in texts(at.success) if t.startswith("Predicted: ")] == on_answer


def test_a_leaning_shoe_is_shown_laid_on_its_sole(at):
    """Emoji shoes lean; the pipeline's step says it turned this one onto its sole, and by how much."""
    upload(at, "leaning.png", encode(sneaker(30), "PNG"), "image/png")
    assert shows_top3(at)
    step = next(t for t in texts(at.caption) if "on its sole" in t)
    turned = re.match(r"Turned ([\d.]+)° clockwise, to lay it on its sole", step)
    assert turned and abs(float(turned[1]) - 30) <= 1.5, step


def test_a_model_trained_on_mirror_images_averages_both_views():
    at = train_on_the_train_page(augment="mirror")
    at.switch_page("app_pages/upload.py").run()
    upload(at, "shoe.png", right_pointing_shoe_png(), "image/png")
    line = next(t for t in texts(at.caption) if "Your image alone:" in t)
    assert line.startswith("This model was trained on mirror images too"), line
    assert "averages both views" in line


def test_the_tutorials_answer_as_written_beside_the_models_own_scaling(at):
    upload(at, "shirt.png", encode(garment(), "PNG"), "image/png")
    shown = " ".join(texts(at.markdown))
    assert "normalisation `(x − 0.2860) / 0.3530`" in shown and "| as written | own scaling |" in shown
    caption = next(t for t in texts(at.caption) if "The tutorial's answer as written" in t)
    assert "Why the first is wrong" in caption and "trained on pixels in [0, 1]" in caption


def test_a_file_name_is_shown_as_text_not_markdown(at):
    upload(at, "**bold** :red[x] $y$.png", b"not an image", "image/png")
    assert at.error and r"\*\*bold\*\* \:red\[x\] \$y\$.png" in at.error[0].value


def _outline_drawing() -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (240, 240), "white")
    pts = [(80, 40), (160, 40), (210, 90), (185, 115), (165, 95), (165, 210), (75, 210), (75, 95), (55, 115), (30, 90)]
    ImageDraw.Draw(img).line([*pts, pts[0]], fill="black", width=5)
    return encode(img, "PNG")


def test_an_outline_drawing_is_filled_in_its_own_step_unless_switched_off(at):
    upload(at, "drawing.png", _outline_drawing(), "image/png")
    assert shows_top3(at)
    assert "**Filled outline**" in texts(at.markdown)
    set_widget(at, "toggle", state.FILL, False)
    assert shows_top3(at) and "**Filled outline**" not in texts(at.markdown)
    set_widget(at, "toggle", state.FILL, True)


def test_the_canvas_is_offered(at):
    set_widget(at, "toggle", state.USE_CANVAS, True)
    assert_ok(at)
    assert any("draw" in t for t in texts(at.info)), "an empty canvas: the page asks for a drawing"
    assert at.select_slider(key=state.widget_key(state.PEN_WIDTH)).value == 8
    assert not any(t.startswith("Predicted: ") for t in texts(at.success))
    set_widget(at, "toggle", state.USE_CANVAS, False)
