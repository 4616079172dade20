"""AppTest: every page takes its settings from its link, writes them back to the address bar, keeps them
across page switches, and answers a bad link with one note and its defaults (lab_ui/state.py, lab_ui/share.py)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from fmnist_lib import links
from lab_ui import state
from lab_ui.text import plain
from tests.support.apptest import APP, TIMEOUT, assert_ok, job, texts, train_until_done
from tests.support.links import BAD_TRAIN_QUERIES

pytestmark = pytest.mark.integration

PATHS = {"": None, "train": "app_pages/train.py", "browse": "app_pages/browse.py", "upload": "app_pages/upload.py"}
PATHS["softmax"] = "app_pages/softmax.py"


def open_link(page: str, query: dict) -> AppTest:
    """A new session whose first visit is `page` with `query` (name -> value, or -> several values)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if PATHS[page] is not None:
        at.switch_page(PATHS[page])
    at.query_params.update(query)
    at.run()
    assert_ok(at)
    return at


def go(at: AppTest, page: str) -> AppTest:
    """A click in the navigation: the page, without a query."""
    at.switch_page(PATHS[page] or "streamlit_app.py")
    at.query_params.clear()
    at.run()
    assert_ok(at)
    return at


def widget(at: AppTest, kind: str, name: str):
    return getattr(at, kind)(key=state.widget_key(name))


def train_widgets(at: AppTest) -> dict:
    return {
        "model": widget(at, "radio", state.MODEL).value,
        "lr": widget(at, "select_slider", state.LR).value,
        "epochs": widget(at, "slider", state.EPOCHS).value,
        "batch": widget(at, "select_slider", state.BATCH).value,
        "opt": widget(at, "selectbox", state.OPTIMIZER).value,
        "wd": widget(at, "select_slider", state.WEIGHT_DECAY).value,
        "sched": widget(at, "radio", state.SCHEDULE).value,
        "aug": widget(at, "radio", state.AUGMENT).value,
        "seed": widget(at, "number_input", state.SEED).value,
    }


def link_box(at: AppTest) -> str:
    boxes = [c.value for c in at.code]
    assert len(boxes) == 1, f"one link box expected: {boxes}"
    return boxes[0]


def notes(at: AppTest) -> list[str]:
    return [w for w in texts(at.warning) if "does not offer" in w]


EXPERIMENT = {
    "model": "cnn",
    "lr": "0.01",
    "epochs": "3",
    "batch": "64",
    "opt": "momentum",
    "wd": "0.0001",
    "sched": "cosine",
    "aug": "off",
    "seed": "7",
}


def test_train_takes_every_setting_from_its_link_and_does_not_start():
    at = open_link("train", EXPERIMENT)
    want = links.read_query("train", EXPERIMENT).values
    assert train_widgets(at) == want
    assert not notes(at)
    assert job(at) is None and not at.session_state[state.RUNS], "a link never starts training"
    assert at.query_params == EXPERIMENT  # none of them is the CNN's default, so all stay
    assert link_box(at) == links.link("train", want)


def test_a_link_leaves_out_what_is_the_models_default():
    at = open_link("train", {"model": "cnn", "seed": "3"})
    assert train_widgets(at) == {**links.train_defaults("cnn"), "seed": 3}
    assert at.query_params == {"model": "cnn", "seed": "3"}


def test_the_address_bar_follows_a_slider_reset_and_the_optimizers_rate():
    at = open_link("train", {"lr": "10"})
    widget(at, "slider", state.EPOCHS).set_value(4).run()
    assert at.query_params == {"lr": "10", "epochs": "4"}
    assert link_box(at) == "train?lr=10&epochs=4"
    widget(at, "selectbox", state.OPTIMIZER).set_value("adam").run()  # a linked rate stays
    assert at.query_params == {"lr": "10", "epochs": "4", "opt": "adam"}
    at.button(key=state.RESET_BUTTON).click().run()
    assert at.query_params == {}
    assert link_box(at) == "train"
    widget(at, "selectbox", state.OPTIMIZER).set_value("adam").run()  # now the optimizer brings its rate
    assert at.query_params == {"lr": "0.002", "opt": "adam"}


def test_switching_pages_keeps_each_pages_settings():
    at = open_link("train", {"epochs": "2", "seed": "5"})
    go(at, "browse")
    assert not at.query_params.keys() & {"epochs", "seed"}
    widget(at, "slider", state.BATCH_SIZE).set_value(12).run()
    browse_query = dict(at.query_params)
    assert browse_query["n"] == "12" and "batch" in browse_query
    go(at, "train")
    assert at.query_params == {"epochs": "2", "seed": "5"}
    assert train_widgets(at)["epochs"] == 2
    go(at, "browse")
    assert at.query_params == browse_query, "the same batch, the same size"


def test_a_link_from_inside_the_app_sets_the_widgets():
    """What a Lesson's st.page_link(page, query_params=...) does: a page change with a query."""
    at = open_link("train", {"epochs": "2"})
    go(at, "browse")
    at.switch_page(PATHS["train"])
    at.query_params.clear()
    at.query_params.update({"lr": "0.5", "seed": "9"})
    at.run()
    assert_ok(at)
    got = train_widgets(at)
    assert (got["lr"], got["seed"], got["epochs"]) == (0.5, 9, 10), "a link is the whole experiment"


def test_browse_takes_its_view_size_and_batch():
    at = open_link("browse", {"view": "mistakes", "n": "12", "batch": "42"})
    assert widget(at, "radio", state.VIEW).value == "mistakes"
    assert widget(at, "slider", state.BATCH_SIZE).value == 12
    assert at.session_state[state.BROWSE_SEED] == 42
    assert link_box(at) == "browse?view=mistakes&n=12&batch=42"
    shown = [c.value for c in at.caption if str(c.value).startswith("true: ")]
    again = open_link("browse", {"view": "all", "n": "5", "batch": "42"})
    other = open_link("browse", {"view": "all", "n": "5", "batch": "42"})
    first = [c.value for c in again.caption if str(c.value).startswith("true: ")]
    assert first and first == [c.value for c in other.caption if str(c.value).startswith("true: ")]
    assert shown, "the mistakes view shows cards"


def test_new_batch_changes_the_batch_in_the_link():
    at = open_link("browse", {"batch": "42"})
    at.button(key=state.NEW_BATCH_BUTTON).click().run()
    seed = at.session_state[state.BROWSE_SEED]
    assert seed != 42 and at.query_params["batch"] == str(seed)


def test_upload_takes_the_mirror_switch_and_says_a_photo_cannot_travel():
    at = open_link("upload", {"mirror": "off"})
    assert at.session_state[state.value_key(state.MIRROR)] is False
    assert link_box(at) == "upload?mirror=off"
    assert any("cannot travel in a link" in t for t in texts(at.caption))


def test_inside_softmax_shows_the_linked_test_image_at_the_linked_temperature():
    at = open_link("softmax", {"src": "index", "i": "4242", "t": "3"})
    assert widget(at, "radio", state.INSIDE_SOURCE).value == "index"
    assert widget(at, "number_input", state.INSIDE_INDEX).value == 4242
    assert widget(at, "select_slider", state.INSIDE_TEMPERATURE).value == 3.0
    assert any("Test image #4,242" in t for t in texts(at.markdown) + texts(at.caption))
    assert link_box(at) == "softmax?src=index&i=4242&t=3"


@pytest.mark.parametrize(("query", "named"), BAD_TRAIN_QUERIES, ids=[n[:14] for _, n in BAD_TRAIN_QUERIES])
def test_a_bad_link_gives_one_note_and_the_defaults(query, named):
    at = open_link("train", {**query, "epochs": "3"} if "epochs" not in query else query)
    found = notes(at)
    assert len(found) == 1, f"one note expected: {texts(at.warning)}"
    assert plain(named) in found[0], found[0]  # what a URL held is escaped: Markdown shows it as typed
    assert "<script>" not in found[0] and "**bold**" not in found[0]
    got = train_widgets(at)
    defaults = links.train_defaults("softmax")
    assert got == {**defaults, "epochs": 3 if "epochs" not in query else defaults["epochs"]}
    assert set(at.query_params) <= {"epochs"}, "what was ignored leaves the address bar"


def test_all_the_bad_parameters_at_once_give_one_note_naming_each():
    query = {"lr": "abc", "epochs": "-5", "model": "<script>", "seed": ["1", "2"], "wd": "x" * 10_000, "zz": "1"}
    at = open_link("train", query)
    (note,) = notes(at)
    for name in ("lr=abc", "epochs=-5", "model=<script>", "seed: given 2 times", "wd: its value", "zz: not"):
        assert plain(name) in note
    assert train_widgets(at) == links.train_defaults("softmax")


def test_a_parameter_on_home_or_the_wrong_page_is_named():
    at = open_link("", {"lr": "10"})
    assert any(plain("lr: not a setting of this page") in n for n in notes(at))
    assert at.query_params == {}
    at = open_link("browse", {"lr": "10", "n": "4"})
    assert widget(at, "slider", state.BATCH_SIZE).value == 4
    assert any(plain("lr: not a setting") in n for n in notes(at))


def test_the_note_goes_with_the_link_that_brought_it():
    at = open_link("train", {"lr": "abc"})
    assert notes(at)
    widget(at, "slider", state.EPOCHS).set_value(4).run()
    assert notes(at), "still shown while the page is open"
    go(at, "browse")
    go(at, "train")
    assert not notes(at)


def test_same_link_same_run_as_the_same_settings_by_hand():
    at = open_link("train", {"epochs": "1", "seed": "11"})
    at.button(key=state.TRAIN_BUTTON).click().run()
    from_link = train_until_done(at).session_state[state.RUNS][-1].run
    by_hand = AppTest.from_file(APP, default_timeout=TIMEOUT)
    by_hand.switch_page(PATHS["train"]).run()
    widget(by_hand, "slider", state.EPOCHS).set_value(1).run()
    widget(by_hand, "number_input", state.SEED).set_value(11).run()
    assert by_hand.query_params == {"epochs": "1", "seed": "11"}
    by_hand.button(key=state.TRAIN_BUTTON).click().run()
    typed = train_until_done(by_hand).session_state[state.RUNS][-1].run
    assert from_link.config == typed.config
    assert from_link.test_acc == typed.test_acc
