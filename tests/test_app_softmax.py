"""AppTest: the Inside softmax page, for the default model, a trained softmax run and a CNN run,
with each of its three image sources (a random test image, one by index, the last upload)."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from fmnist_lib import TrainingRun, checkpoint_bytes, default_config
from lab_ui import state
from tests.support.apptest import assert_ok, open_page, set_widget, texts, train_on_the_train_page, upload_checkpoint
from tests.support.data import make_tiny_data
from tests.support.images import encode, garment
from tests.support.inside import KEY_FORMULAS

pytestmark = pytest.mark.integration

PAGE = "app_pages/softmax.py"
LOSS_LABELS = ("F.cross_entropy(z, y)", "F.nll_loss(F.log_softmax(z), y)", "-log(softmax(z)[y])")


def losses(at) -> list[str]:
    shown = {m.label: m.value for m in at.metric}
    return [shown[label] for label in LOSS_LABELS]


def probs_table(at):
    """The step-2 table: one row per class with z_c, exp(z_c) and p_c (the raw numbers)."""
    return next(d.value for d in at.dataframe if "p_c" in d.value.columns and "exp(z_c)" in d.value.columns)


def check_page(at, softmax: bool) -> None:
    assert_ok(at)
    assert not at.exception
    formulas = " ".join(texts(at.latex))
    for tex in KEY_FORMULAS:
        assert tex in formulas
    assert len(set(losses(at))) == 1, losses(at)
    table = probs_table(at)
    assert len(table) == 10 and abs(table["p_c"].sum() - 1) < 1e-5
    assert any(t.startswith("Broken: ") for t in texts(at.error)), "the naive softmax breaks at the default shift"
    assert (r"\odot" in formulas) == softmax, "evidence maps only for softmax regression"
    assert softmax or any("not a weighted sum of the pixels" in t for t in texts(at.info))


def use_sources(at, softmax: bool) -> None:
    """Each of the three image sources in turn (an upload must already have been processed)."""
    set_widget(at, "radio", state.INSIDE_SOURCE, "random")
    check_page(at, softmax)
    at.button(key=state.INSIDE_RANDOM_BUTTON).click().run()
    check_page(at, softmax)
    set_widget(at, "radio", state.INSIDE_SOURCE, "index")
    set_widget(at, "number_input", state.INSIDE_INDEX, 42)
    assert any("Test image #42, a **Dress**" in t for t in texts(at.markdown))
    set_widget(at, "number_input", state.INSIDE_INDEX, 0)  # an Ankle boot: "an", not "a"
    assert any("Test image #0, an **Ankle boot**" in t for t in texts(at.markdown))
    check_page(at, softmax)
    set_widget(at, "radio", state.INSIDE_SOURCE, "upload")
    assert any("Your last photo on Upload" in t for t in texts(at.markdown))
    set_widget(at, "selectbox", state.INSIDE_CLASS, 7)
    check_page(at, softmax)


def upload_photo(at) -> None:
    at.switch_page("app_pages/upload.py").run()
    at.file_uploader(key=state.IMAGE_UPLOAD).set_value(("shirt.png", encode(garment(), "PNG"), "image/png")).run()
    assert_ok(at)
    assert any(t.startswith("Predicted: ") for t in texts(at.success))
    at.switch_page(PAGE).run()
    assert_ok(at)


def test_default_model_before_and_after_an_upload():
    at = open_page(PAGE)
    assert any("Default" in t for t in texts(at.info))
    check_page(at, softmax=True)
    set_widget(at, "radio", state.INSIDE_SOURCE, "upload")
    assert any("No photo yet" in t for t in texts(at.info)), "the upload source says where to get a photo"
    upload_photo(at)
    use_sources(at, softmax=True)


def test_a_trained_softmax_run_and_one_sgd_step_on_a_copy():
    at = train_on_the_train_page()
    upload_photo(at)
    assert any("Active model:** #1" in t for t in texts(at.info))
    use_sources(at, softmax=True)
    model = at.session_state[state.RUNS][0].run.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    set_widget(at, "select_slider", state.INSIDE_LR, 0.01)
    at.button(key=state.INSIDE_STEP_BUTTON).click().run()
    assert_ok(at)
    shown = {m.label: m.value for m in at.metric}
    assert float(shown["loss after one step"]) < float(shown["loss before"])
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items()), "the active model changed"


def test_a_cnn_run_loaded_from_a_checkpoint():
    run = TrainingRun(default_config("cnn", epochs=1, batch_size=64))
    run.fit(make_tiny_data(n_train=128, n_test=32))
    at = open_page("app_pages/train.py")
    upload_checkpoint(at, "cnn.pt", checkpoint_bytes(run))
    assert_ok(at)
    upload_photo(at)
    assert any("loaded from cnn" in t for t in texts(at.info))
    use_sources(at, softmax=False)
    at.button(key=state.INSIDE_STEP_BUTTON).click().run()
    assert_ok(at)
    assert "loss after one step" in {m.label for m in at.metric}


def test_the_page_and_the_cli_show_the_same_numbers(tmp_path, capsys):
    """One checkpoint, one test index and one image: the page's table and losses are the CLI's JSON."""
    import json

    import numpy as np

    from fmnist_lib.cli import main

    run = TrainingRun(default_config("softmax", epochs=1, batch_size=64, seed=3))
    run.fit(make_tiny_data(n_train=256, n_test=32))
    ckpt = tmp_path / "agree.pt"
    ckpt.write_bytes(checkpoint_bytes(run))
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(encode(garment(), "JPEG"))

    def cli(*args):
        assert main(["explain", "--checkpoint", str(ckpt), *args]) == 0
        return json.loads(capsys.readouterr().out)

    at = open_page("app_pages/train.py")
    upload_checkpoint(at, "agree.pt", ckpt.read_bytes())
    assert_ok(at)
    at.switch_page(PAGE).run()
    set_widget(at, "radio", state.INSIDE_SOURCE, "index")
    set_widget(at, "number_input", state.INSIDE_INDEX, 123)
    by_index = cli("--test-index", "123")
    table = probs_table(at)
    np.testing.assert_array_equal(table["z_c"].to_numpy(np.float64), np.array(by_index["logits"]))
    np.testing.assert_array_equal(table["p_c"].to_numpy(np.float64), np.array(by_index["probs"]))
    assert losses(at) == [f"{by_index['loss']:.6f}"] * 3
    assert any(f"y = {by_index['label']}:" in t for t in texts(at.latex))

    at.switch_page("app_pages/upload.py").run()
    at.file_uploader(key=state.IMAGE_UPLOAD).set_value(("photo.jpg", photo.read_bytes(), "image/jpeg")).run()
    at.switch_page(PAGE).run()
    set_widget(at, "radio", state.INSIDE_SOURCE, "upload")
    by_image = cli(str(photo))
    table = probs_table(at)
    np.testing.assert_array_equal(table["z_c"].to_numpy(np.float64), np.array(by_image["logits"]))
    np.testing.assert_array_equal(table["p_c"].to_numpy(np.float64), np.array(by_image["probs"]))


def right_facing_boot_png() -> bytes:
    """A dark boot on white, its shaft on the left: it faces right, unlike Fashion-MNIST's shoes."""
    img = Image.new("L", (240, 200), 255)
    img.paste(0, (20, 40, 120, 160))  # the shaft
    img.paste(0, (20, 160, 220, 190))  # the sole, pointing right
    return encode(img.convert("RGB"), "PNG")


def explain_the_uploaded_boot(at, mirror_line: str) -> None:
    """Upload the right-facing boot (the Upload page's mirror line starting with mirror_line), then pick
    "your last photo on Upload" on Inside softmax."""
    at.switch_page("app_pages/upload.py").run()
    at.file_uploader(key=state.IMAGE_UPLOAD).set_value(("boot.png", right_facing_boot_png(), "image/png")).run()
    assert any(t.startswith(mirror_line) for t in texts(at.caption))
    at.switch_page(PAGE).run()
    set_widget(at, "radio", state.INSIDE_SOURCE, "upload")
    set_widget(at, "selectbox", state.INSIDE_CLASS, 9)  # what it shows: an Ankle boot
    check_page(at, softmax=True)


def test_the_upload_source_is_the_view_the_mirror_step_reads():
    at = open_page()
    explain_the_uploaded_boot(at, "It faces right")
    assert any("in the mirror, as the Upload page's mirror step reads it" in t for t in texts(at.markdown))
    mirrored = probs_table(at)["p_c"].tolist()
    # With the mirror step switched off (as the Upload page's toggle stores it), Inside explains the
    # photo as it is: other probabilities.
    at.session_state[state.value_key(state.MIRROR)] = False
    at.run()
    check_page(at, softmax=True)
    assert any("Your last photo on Upload, which you say" in t for t in texts(at.markdown))
    assert probs_table(at)["p_c"].tolist() != mirrored


def test_a_softmax_trained_on_mirror_images_explains_the_upload_as_it_is():
    at = train_on_the_train_page(augment="mirror")
    explain_the_uploaded_boot(at, "This model was trained on mirror images too")
    # Its mirror step averages both views, so the one input explained is the photo as it is, not its mirror.
    assert any("Your last photo on Upload, which you say" in t for t in texts(at.markdown))
    assert not any("in the mirror" in t for t in texts(at.markdown))


NEEDS = ("The loss needs the true class", "The gradient needs the true class", "A step of gradient descent needs")


def test_a_photo_has_no_class_until_the_learner_says_one_and_a_test_image_keeps_its_own():
    at = open_page()
    upload_photo(at)
    set_widget(at, "radio", state.INSIDE_SOURCE, "upload")
    assert at.selectbox(key=state.widget_key(state.INSIDE_CLASS)).value is None, "no class invented"
    assert any("whose class you have not said yet" in t for t in texts(at.markdown))
    assert not any("which you say" in t for t in texts(at.markdown))
    infos = " ".join(texts(at.info))
    assert all(n in infos for n in NEEDS), infos
    assert not at.metric, "no loss without a class"
    assert not any("\ny = " in t for t in texts(at.latex)), "no y, no loss"
    assert not _has_button(at), "no step without a class"
    assert probs_table(at) is not None  # the logits and probabilities need no class
    set_widget(at, "selectbox", state.INSIDE_CLASS, 2)
    check_page(at, softmax=True)
    assert any("which you say is a **Pullover**" in t for t in texts(at.markdown))
    assert not any(n in " ".join(texts(at.info)) for n in NEEDS)
    # A test image keeps its real label: test image #0 is an Ankle boot, class 9.
    set_widget(at, "radio", state.INSIDE_SOURCE, "index")
    set_widget(at, "number_input", state.INSIDE_INDEX, 0)
    assert any("\ny = 9:" in t for t in texts(at.latex))
    # A new photo: its class is asked again.
    at.switch_page("app_pages/upload.py").run()
    at.file_uploader(key=state.IMAGE_UPLOAD).set_value(("boot.png", right_facing_boot_png(), "image/png")).run()
    at.switch_page(PAGE).run()
    set_widget(at, "radio", state.INSIDE_SOURCE, "upload")
    assert at.selectbox(key=state.widget_key(state.INSIDE_CLASS)).value is None
    assert not at.metric


def _has_button(at) -> bool:
    return any(b.key == state.INSIDE_STEP_BUTTON for b in at.button)
