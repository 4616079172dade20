"""AppTest: the Upload page — real image bytes give the Top-3; every bad file a clear error,
after which the page keeps working. Uses the generated cases of tests/support/images.py."""

from __future__ import annotations

import re

import pytest

from lab_ui import state
from lab_ui.upload_page import uploads
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
    caption = next(t for t in texts(at.caption) if "Why it is wrong in general" in t)
    assert "trained on pixels in [0, 1]" in caption


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


# --- the photo kept across pages ---------------------------------------------------------------


def predicted(at) -> list[str]:
    return [t for t in texts(at.success) if t.startswith("Predicted: ")]


def test_the_photo_survives_a_page_switch_and_can_be_forgotten():
    at = open_page("app_pages/upload.py")
    upload(at, "my *shirt*.png", encode(garment(), "PNG"), "image/png")
    answer = predicted(at)
    assert answer and not any("Your last photo" in t for t in texts(at.markdown))  # the uploader shows it
    at.switch_page("app_pages/softmax.py").run()
    at.switch_page("app_pages/upload.py").run()
    assert_ok(at)
    assert predicted(at) == answer, "Upload shows the same photo again"
    assert "Your last photo: **my \\*shirt\\*.png**" in texts(at.markdown), "named, as plain text"
    at.button(key=state.FORGET_PHOTO_BUTTON).click().run()
    assert_ok(at)
    assert not predicted(at) and any("Upload a photo" in t for t in texts(at.info))
    at.switch_page("app_pages/softmax.py").run()
    set_widget(at, "radio", state.INSIDE_SOURCE, "upload")
    assert any("No photo yet" in t for t in texts(at.info)), "forgotten for Inside softmax too"


def test_a_new_photo_replaces_the_kept_one_and_removing_it_forgets_it():
    at = open_page("app_pages/upload.py")
    upload(at, "first.png", encode(garment(), "PNG"), "image/png")
    upload(at, "shoe.png", right_pointing_shoe_png(), "image/png")
    assert at.session_state[state.UPLOAD_PHOTO].name == "shoe.png"
    at.file_uploader(key=state.IMAGE_UPLOAD).set_value(None)  # the uploader's x
    at.run()
    assert_ok(at)
    assert not predicted(at) and not any("Your last photo" in t for t in texts(at.markdown))


# --- one reading of the image on the whole page ---------------------------------------------------

# What a page may only say when the mirror step is on: that the mirror image is what was read.
READS_THE_MIRROR = ("reads its mirror image", "the mirror image read", "in the mirror", "reads the mirror")


def page_text(at) -> list[str]:
    return texts(at.markdown) + texts(at.caption) + texts(at.success) + texts(at.info)


def test_with_the_mirror_step_on_every_section_reads_the_same_view_and_says_so_once():
    from fmnist_lib.tutorial_scaling import one_image
    from lab_ui import resources
    from lab_ui.upload_page import tutorial_view

    at = open_page("app_pages/upload.py")
    upload(at, "shoe.png", right_pointing_shoe_png(), "image/png")  # faces right: the step reads its mirror image
    assert at.toggle(key=state.widget_key(state.MIRROR)).value is True
    assert sum(uploads.SAME_READING in t for t in page_text(at)) == 1, "said once"
    label, prob = re.match(r"Predicted: \*\*(.+)\*\* \((.+)\)", predicted(at)[0]).groups()
    # The temperature demo at T = 1 is the Top-3's answer, not the image alone's.
    assert at.select_slider(key=state.widget_key(state.TEMPERATURE)).value == 1.0
    assert any(t.startswith(f"At **T = 1**, {label} gets **{prob}**") for t in texts(at.markdown))
    # The tutorial's comparison goes through the same step, for its own 28x28.
    clf = resources.DEFAULT_RUN.get().classifier()
    tutorial = at.session_state[state.UPLOAD_MEMO].pipelines["tutorial"].pixels
    facts = one_image(clf, tutorial, mirror=True)
    table = next(t for t in texts(at.markdown) if "| as written | own scaling |" in t)
    assert [row.strip("| ").split(" | ")[1:] for row in table.splitlines()[2:]] == [
        [tutorial_view.cell(a), tutorial_view.cell(o)] for a, o in zip(facts.as_written, facts.own, strict=True)
    ]


def test_with_the_mirror_step_off_no_text_says_the_mirror_image_is_read():
    at = open_page("app_pages/upload.py")
    upload(at, "shoe.png", right_pointing_shoe_png(), "image/png")
    set_widget(at, "toggle", state.MIRROR, False)
    said = [t for t in page_text(at) if any(p in t for p in READS_THE_MIRROR) or uploads.SAME_READING in t]
    assert not said, said
    assert any(t.startswith("The mirror step is off: the model reads your image as it is") for t in texts(at.caption))
    label, prob = re.match(r"Predicted: \*\*(.+)\*\* \((.+)\)", predicted(at)[0]).groups()
    assert any(t.startswith(f"At **T = 1**, {label} gets **{prob}**") for t in texts(at.markdown))


def test_a_balanced_garment_shows_the_evidence_of_both_views_it_averages():
    """A top is balanced left to right: the mirror step averages both views, so the evidence shows both."""
    at = open_page("app_pages/upload.py")
    upload(at, "shirt.png", encode(garment(), "PNG"), "image/png")
    assert any("averages both views" in t for t in texts(at.caption))
    logits = [t for t in texts(at.caption) if "= logit" in t]
    assert len(logits) == 6, "three classes, for each of the two views"
    set_widget(at, "toggle", state.MIRROR, False)
    assert len([t for t in texts(at.caption) if "= logit" in t]) == 3


# --- the tutorial's comparison, for this image ------------------------------------------------------


def test_the_tutorials_comparison_says_what_happened_here_with_the_test_set_figure(monkeypatch):
    from lab_ui.upload_page import tutorial_view

    calls = []
    measure = tutorial_view.on_test_set
    monkeypatch.setattr(tutorial_view, "on_test_set", lambda *a: calls.append(1) or measure(*a))
    at = open_page("app_pages/upload.py")
    upload(at, "shirt.png", encode(garment(), "PNG"), "image/png")
    table = next(t for t in texts(at.markdown) if "| as written | own scaling |" in t)
    first = table.splitlines()[2].strip("| ").split(" | ")
    agree = first[1].rsplit(" ", 1)[0] == first[2].rsplit(" ", 1)[0]
    caption = next(t for t in texts(at.caption) if "Why it is wrong in general" in t)
    assert caption.startswith("Here the tutorial's scaling")
    assert ("happens to give the same answer" in caption) is agree
    assert ("changes the answer" in caption) is not agree
    assert "On the 10,000 test images it gets" in caption and "against 82.3% with the model's own scaling" in caption
    assert agree, "the tutorial's 28x28 of this shirt: Sneaker either way (100% as written, 41% own scaling)"
    assert "and sounds sure of it" in caption and "That is luck, not a working pipeline." in caption
    upload(at, "shoe.png", right_pointing_shoe_png(), "image/png")  # as written: Sneaker 98.3%; own: Sandal 50.3%
    caption = next(t for t in texts(at.caption) if "Why it is wrong in general" in t)
    assert caption.startswith("Here the tutorial's scaling changes the answer to **Sneaker** (98.3%)"), caption
    assert "its confidence says nothing about the photo" in caption
    set_widget(at, "select_slider", state.TEMPERATURE, 2.0)
    set_widget(at, "toggle", state.MIRROR, False)
    assert len(calls) <= 1, "the test-set figure is measured once per model"


NOT_A_GARMENT = "doesn't look like anything in Fashion-MNIST"


def _caveats(at) -> list[str]:
    return [t for t in texts(at.warning) if NOT_A_GARMENT in t]


def _png(kind: str) -> bytes:
    """A non-garment as a PNG: a blank page, a checkerboard test pattern or a page of text."""
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (600, 400), (250, 250, 248))
    draw = ImageDraw.Draw(img)
    if kind == "checkerboard":
        for y in range(0, 400, 50):
            for x in range((y // 50) % 2 * 50, 600, 100):
                draw.rectangle([x, y, x + 49, y + 49], fill=(20, 20, 20))
    elif kind == "text":
        font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 36)
        for i, line in enumerate(["Not a garment:", "just a few lines", "of plain text."]):
            draw.text((30, 40 + 60 * i), line, fill=(0, 0, 0), font=font)
    return encode(img, "PNG")


@pytest.mark.parametrize("kind", ["blank", "checkerboard", "text"])
def test_a_blank_page_a_test_pattern_or_text_gets_the_not_a_garment_caveat(at, kind):
    upload(at, f"{kind}.png", _png(kind), "image/png")
    assert shows_top3(at), "the Top-3 is still shown"
    assert _caveats(at), f"no caveat for {kind}: {texts(at.warning)}"
    assert any("flagged above" in t for t in texts(at.caption)), "the score and its threshold"


@pytest.mark.parametrize("index", [0, 1, 2, 3])
def test_a_fashion_mnist_test_image_saved_as_png_gets_no_caveat(at, index):
    from PIL import Image

    from fmnist_lib import load_fashion_mnist

    pixels = load_fashion_mnist(download=False).test_images[index].numpy()
    upload(at, f"test-{index}.png", encode(Image.fromarray(pixels), "PNG"), "image/png")
    assert shows_top3(at) and not _caveats(at)


def test_a_trained_runs_caveat_uses_its_own_thresholds():
    at = train_on_the_train_page(epochs=1)
    at.switch_page("app_pages/upload.py").run()
    upload(at, "text.png", _png("text"), "image/png")
    assert shows_top3(at) and _caveats(at)
    run_id = at.session_state[state.RUNS][-1].id
    assert at.session_state[state.NOVELTY_MEMO][0][0] == run_id, "the check was fitted for the trained run"
