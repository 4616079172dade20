"""AppTest: the Lesson page — it renders the shipped lesson with working links, its checks turn done after
the action each names (and not before), progress survives page switches, the report downloads, and a
teacher's file replaces the lesson (a broken one is refused with its messages)."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import pytest

from fmnist_lib import TrainingRun, default_config, links
from fmnist_lib.run import EpochStats
from lab_ui import state
from lab_ui.lesson_page import lesson_view
from tests.support.apptest import assert_ok, open_page, set_widget, texts, train_until_done

pytestmark = pytest.mark.integration

LESSON = "app_pages/lesson.py"
DONE = re.compile(r":material/check_circle: Exercise (\d+):")
PROGRESS = re.compile(r"(\d+) of (\d+) exercises done")
# The shipped lesson's exercises, by number on the page.
DIVERGE, LEARNING_RATES, LONGER, BATCH, ANSWER, OVERFLOW, PRECISION, CNN = range(1, 9)


def done(at) -> set[int]:
    return {int(m.group(1)) for t in texts(at.subheader) if (m := DONE.match(t))}


def progress(at) -> tuple[int, int]:
    (bar,) = at.get("progress")
    m = PROGRESS.search(bar.proto.text)
    return int(m.group(1)), int(m.group(2))


def go(at, page: str):
    at.switch_page(page).run()
    assert_ok(at)
    return at


def test_the_page_renders_the_shipped_lesson_with_links_that_resolve():
    at = open_page(LESSON)
    assert "Softmax regression on Fashion-MNIST, step by step" in texts(at.header)
    heads = texts(at.subheader)
    assert heads[0] == "1. The environment: PyTorch on the CPU"
    assert sum("Exercise" in h for h in heads) == 8
    assert progress(at) == (0, 8) and done(at) == set()
    page_links = at.get("page_link")
    assert len(page_links) >= 15
    for link in page_links:
        page, query = link.proto.page, dict(parse_qsl(link.proto.query_string))
        assert page in links.PAGES and lesson_view.PAGE_FILES[page]
        assert links.read_query(page, query).ignored == [], link.proto.label
    by_label = {link.proto.label: link.proto for link in page_links}
    diverge = by_label["Make it diverge: one epoch at learning rate 10"]
    assert (diverge.page, diverge.query_string) == ("train", "model=softmax&lr=10&epochs=1&opt=sgd")
    assert [b.label for b in at.get("download_button")] == ["Report"]


def test_a_diverging_run_and_three_learning_rates_turn_their_checks_done():
    at = open_page(LESSON)
    assert DIVERGE not in done(at) and LEARNING_RATES not in done(at)
    go(at, "app_pages/train.py")
    set_widget(at, "slider", state.EPOCHS, 1)
    for lr in (10.0, 0.1, 0.5):
        set_widget(at, "select_slider", state.LR, lr)
        at.button(key=state.TRAIN_BUTTON).click().run()
        train_until_done(at)
        if lr == 10.0:
            assert at.session_state[state.RUNS][-1].run.status == "diverged"
            go(at, LESSON)
            assert done(at) == {DIVERGE}, "a diverged run is exercise 1, and two runs are not three"
            assert progress(at) == (1, 8)
            go(at, "app_pages/train.py")
    go(at, LESSON)
    assert done(at) == {DIVERGE, LEARNING_RATES}
    shown = texts(at.success)
    assert any("3 runs differ only in the learning rate (10, 0.1, 0.5)" in t for t in shown), shown
    go(at, "app_pages/home.py")
    go(at, LESSON)
    assert progress(at) == (2, 8), "progress is kept across page switches"


def test_what_the_learner_opens_turns_the_event_checks_done():
    at = open_page(LESSON)
    assert not {OVERFLOW, ANSWER, PRECISION} & done(at)
    go(at, "app_pages/softmax.py")  # its shift starts at 100: the naive softmax overflows at once...
    go(at, LESSON)
    assert OVERFLOW not in done(at), "...which the learner did not do: not done by opening the page"
    go(at, "app_pages/softmax.py")
    set_widget(at, "slider", state.INSIDE_SHIFT, 0)  # the learner moves the shift: the naive form is fine...
    go(at, LESSON)
    assert OVERFLOW not in done(at)
    go(at, "app_pages/softmax.py")
    set_widget(at, "slider", state.INSIDE_SHIFT, 120)  # ...until they push it past exp's limit
    go(at, LESSON)
    assert done(at) == {OVERFLOW}
    go(at, "app_pages/browse.py")
    set_widget(at, "radio", state.VIEW, "confident")
    go(at, LESSON)
    assert done(at) == {OVERFLOW, ANSWER}
    assert not at.dataframe, "the precision table is hidden until revealed"
    at.button(key=state.REVEAL_PRECISION_BUTTON).click().run()
    assert_ok(at)
    assert done(at) == {OVERFLOW, ANSWER, PRECISION}
    table = at.dataframe[0].value
    assert list(table["type"]) == ["float64", "float32", "bfloat16", "float16"]
    assert table["exp overflows to inf above"][1] == "88.72"


def _made_up(lab_id: int, model: str, epochs: int, batch: int | None, test: list[float], seconds: float):
    """A finished run with a made-up history (training 50 epochs or a CNN is too slow for this test)."""
    config = default_config(model, epochs=epochs, **({"batch_size": batch} if batch else {}))
    run = TrainingRun(config)
    run.history = [
        EpochStats(i + 1, 0.5, min(a + 0.02, 1.0), a, seconds / epochs, 1000.0, 60_000) for i, a in enumerate(test)
    ]
    run.status = "finished"
    return state.LabRun(lab_id, f"#{lab_id} made up", run)


def test_long_runs_batch_sizes_and_a_cnn_turn_their_checks_done():
    at = open_page(LESSON)
    assert not {LONGER, BATCH, CNN} & done(at)
    at.session_state[state.RUNS] = [
        _made_up(1, "softmax", 50, None, [0.80] * 49 + [0.84], 100.0),
        _made_up(2, "softmax", 3, 16, [0.82, 0.83, 0.84], 60.0),
        _made_up(3, "softmax", 3, 1024, [0.70, 0.74, 0.77], 6.0),
        _made_up(4, "cnn", 5, None, [0.85, 0.88, 0.9, 0.91, 0.915], 300.0),
    ]
    at.run()
    assert_ok(at)
    assert done(at) == {LONGER, BATCH, CNN}
    shown = " ".join(texts(at.markdown)).replace("\\", "")  # plain() escapes the colons
    assert "a gap of 2.0 points" in shown  # the answer in the learner's numbers
    assert "batch 1024: 6.0 s (2.0 s an epoch), test accuracy 77.0%" in shown


def test_the_report_offers_the_learners_answers():
    at = open_page("app_pages/train.py")
    go(at, LESSON)
    key = state.lesson_answer("tutorial", 1)
    at.text_area(key=state.widget_key(key)).set_value("It <b>overshoots</b>").run()
    assert_ok(at)
    assert "lr" not in at.query_params and "model" not in at.query_params, "Train's settings stay off Lesson's URL"
    assert at.session_state[state.value_key(key)] == "It <b>overshoots</b>"
    (button,) = at.get("download_button")
    assert button.proto.label == "Report" and button.proto.url.endswith(".md")
    # The file is lessons.report of the session's record and these answers (tested in test_lessons);
    # the browser test downloads it.
    go(at, "app_pages/home.py")
    go(at, LESSON)
    assert at.text_area(key=state.widget_key(key)).value == "It <b>overshoots</b>", "kept across pages"


GOOD = b"""title: My own lesson
steps:
  - step: Start here
    text: "Read <b>this</b> first: $$e^{x}$$"
    links:
      - {label: "Train fast", page: train, settings: {lr: 0.5, epochs: 2}}
  - exercise: Diverge
    task: Make it diverge.
    question: Why?
    answer: Too large a step.
    check: diverged
"""


def test_an_uploaded_lesson_replaces_the_shipped_one():
    at = open_page(LESSON)
    at.file_uploader(key=state.LESSON_UPLOAD).set_value(("mine.yaml", GOOD, "application/x-yaml"))
    at.run()
    assert_ok(at)
    assert "My own lesson" in texts(at.header)
    assert texts(at.subheader)[:2] == ["Start here", ":material/radio_button_unchecked: Exercise 1: Diverge"]
    assert progress(at) == (0, 1)
    assert any("Read \\<b>this\\</b> first" in t for t in texts(at.markdown)), "raw HTML is escaped"
    (link,) = at.get("page_link")
    assert (link.proto.page, link.proto.query_string) == ("train", "lr=0.5&epochs=2")


def test_a_broken_upload_is_refused_with_its_messages_and_the_lesson_stays():
    at = open_page(LESSON)
    broken = (
        b"title: Broken\nsteps:\n  - exercise: E\n    task: t\n    question: q\n    answer: a\n    check: divrged\n"
    )
    at.file_uploader(key=state.LESSON_UPLOAD).set_value(("broken.yaml", broken, "application/x-yaml"))
    at.run()
    assert_ok(at)
    (error,) = [t for t in texts(at.error) if "refused" in t]
    assert "broken.yaml: step 1 ('E'), check: unknown check 'divrged'" in error.replace("\\", "")
    assert "Softmax regression on Fashion-MNIST, step by step" in texts(at.header)
    at.file_uploader(key=state.LESSON_UPLOAD).set_value(("pic.yaml", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"))
    at.run()
    assert_ok(at)
    assert any("a binary file, not a lesson" in t for t in texts(at.error))
    assert "Softmax regression on Fashion-MNIST, step by step" in texts(at.header)


def test_a_teachers_folder_is_offered_and_the_url_picks_a_lesson(tmp_path, monkeypatch):
    (tmp_path / "week2.yaml").write_bytes(GOOD)
    monkeypatch.setenv("FMNIST_LESSONS", str(tmp_path))
    at = open_page(LESSON)
    picker = at.selectbox(key=state.widget_key(state.LESSON_PICK))
    assert picker.options == ["My own lesson", "Softmax regression on Fashion-MNIST, step by step"]
    assert "Softmax regression on Fashion-MNIST, step by step" in texts(at.header), "the tutorial is the default"
    at.query_params["lesson"] = "week2"
    at.run()
    assert_ok(at)
    assert "My own lesson" in texts(at.header)
    at.selectbox(key=state.widget_key(state.LESSON_PICK)).set_value("tutorial").run()
    assert "Softmax regression on Fashion-MNIST, step by step" in texts(at.header), "the picker wins over the old URL"
    assert at.query_params["lesson"] in ("tutorial", ["tutorial"])
    at.query_params["lesson"] = "nope"
    at.run()
    assert any("There is no lesson named nope" in t for t in texts(at.warning))
