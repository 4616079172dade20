"""fmnist_lib/lessons.py: lesson files (read, validated), the checks on made-up sessions, the table, the report."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from fmnist_lib import lessons, links
from fmnist_lib.lessons import Check, LessonError, RunFacts, SessionRecord, evaluate, parse_lesson

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "lessons" / "tutorial.yaml"


def run(rid: int, *, end: str = "finished", epochs: int = 3, test=None, train=None, seconds=3.0, **settings):
    """A made-up run: the softmax defaults changed by `settings` (Train's URL names), `epochs` trained."""
    s = {**links.train_defaults(settings.get("model", "softmax")), **settings}
    s["epochs"] = settings.get("epochs", max(epochs, 1))
    test = test if test is not None else [0.80 + 0.001 * i for i in range(epochs)]
    train = train if train is not None else [0.82 + 0.002 * i for i in range(epochs)]
    return RunFacts(rid, f"#{rid} run", s, end, epochs, tuple(train), tuple(test), seconds)


def done(kind: str, params: dict, rec: SessionRecord) -> bool:
    return evaluate(Check(kind, params), rec).done


def check_of(text: str) -> Check:
    """The check an exercise with `check: text` gets."""
    body = f"title: t\nsteps:\n  - exercise: e\n    task: t\n    question: q\n    answer: a\n    check: {text}\n"
    return parse_lesson(body.encode(), "t.yaml").items[0].check


# --- the shipped lesson -------------------------------------------------------------------------
def test_the_shipped_lesson_validates_and_follows_the_tutorial():
    lesson = lessons.load_lesson(TUTORIAL)
    titles = [i.title for i in lesson.items if not i.is_exercise]
    numbered = [t for t in titles if t[0].isdigit()]
    assert [int(t.split(".")[0]) for t in numbered] == list(range(1, 10))  # the nine sections, in order
    assert [t for t in titles if t.startswith("Quick note")] == [
        "Quick note 1: where is softmax?",
        "Quick note 2: why is it stable?",
        "Quick note 3: real-world images, and beyond a linear model",
    ]
    kinds = [e.check.kind for e in lesson.exercises]
    assert sorted(kinds) == sorted(lessons.CHECKS)  # each of the eight checks once
    assert lesson.items[-1].check.kind == "cnn_accuracy_at_least"  # it closes with the small CNN
    assert "$$" in lesson.items[4].text  # formulas as KaTeX


def test_every_link_of_the_shipped_lesson_resolves():
    lesson = lessons.load_lesson(TUTORIAL)
    hrefs = [link.href for item in lesson.items for link in item.links]
    assert len(hrefs) >= 15
    for item in lesson.items:
        for link in item.links:
            assert link.page in links.PAGES
            query = dict(p.split("=") for p in link.query.split("&")) if link.query else {}
            read = links.read_query(link.page, query)
            assert read.ignored == [], (link.label, read.ignored)
            assert links.link(link.page, read.values) == link.href
    assert "train?model=softmax&lr=0.1&epochs=10&batch=256&opt=sgd" in hrefs
    assert "train?model=softmax&lr=10&epochs=1&opt=sgd" in hrefs
    assert "softmax?src=index&i=0" in hrefs


# --- the checks: not done before the action, done after ----------------------------------------------
def test_diverged():
    before = SessionRecord((run(1, lr=0.1), run(2, lr=1.0)))
    assert not done("diverged", {}, before)
    assert "largest learning rate tried: 1" in evaluate(Check("diverged", {}), before).saw
    after = SessionRecord((*before.runs, run(3, end="diverged", epochs=0, lr=10.0)))
    res = evaluate(Check("diverged", {}), after)
    assert res.done and "#3 run" in res.saw and [r.id for r in res.runs] == [3]


def test_runs_differ_in_lr():
    p = check_of("{runs_differ_in: lr, at_least: 3}").params
    two = SessionRecord((run(1, lr=0.01), run(2, lr=0.1), run(3, lr=1.0, batch=64)))  # #3 differs in batch too
    assert not done("runs_differ_in", p, two)
    assert "2 of 3" in evaluate(Check("runs_differ_in", p), two).saw
    three = SessionRecord((*two.runs, run(4, lr=1.0)))
    res = evaluate(Check("runs_differ_in", p), three)
    assert res.done and {r.id for r in res.runs} == {1, 2, 4}
    untrained = SessionRecord((*two.runs, run(5, lr=1.0, epochs=0, end="new")))
    assert not done("runs_differ_in", p, untrained)


def test_epochs_at_least_and_the_gap_in_the_learners_numbers():
    p = check_of("{epochs_at_least: 50}").params
    assert not done("epochs_at_least", p, SessionRecord((run(1, epochs=49),)))
    test = [0.80] * 30 + [0.85] + [0.84] * 19  # best at epoch 31, then a point lower
    train = [0.80] * 49 + [0.90]
    res = evaluate(Check("epochs_at_least", p), SessionRecord((run(2, epochs=50, test=test, train=train),)))
    assert res.done
    assert "training accuracy is 90.0% and the test accuracy 84.0%: a gap of 6.0 points" in res.numbers
    assert "best test accuracy was 85.0%, at epoch 31" in res.numbers and "fallen 1.0 points" in res.numbers


def test_batch_sizes_need_the_same_epochs_and_compare_times():
    p = check_of("{batch_sizes: [16, 1024]}").params
    rec = SessionRecord((run(1, batch=16, epochs=3, seconds=30.0), run(2, batch=1024, epochs=2, seconds=2.0)))
    assert not done("batch_sizes", p, rec)
    assert "not yet with the same number of epochs" in evaluate(Check("batch_sizes", p), rec).saw
    rec = SessionRecord((*rec.runs, run(3, batch=1024, epochs=3, seconds=3.0, test=[0.7, 0.75, 0.78])))
    res = evaluate(Check("batch_sizes", p), rec)
    assert res.done and [r.id for r in res.runs] == [1, 3]
    assert "batch 16: 30.0 s (10.0 s an epoch)" in res.numbers
    assert "batch 1024: 3.0 s (1.0 s an epoch), test accuracy 78.0%" in res.numbers


def test_saw_overflow():
    assert not done("saw_overflow", {}, SessionRecord(events=frozenset({"opened:reliability"})))
    assert done("saw_overflow", {}, SessionRecord(events=frozenset({"saw_overflow"})))


def test_precision_table_is_done_once_revealed():
    assert not done("precision_table", {}, SessionRecord())
    assert done("precision_table", {}, SessionRecord(events=frozenset({lessons.REVEALED_PRECISION})))


def test_opened_needs_every_view_named():
    p = check_of("{opened: [confident_mistakes, reliability]}").params
    half = SessionRecord(events=frozenset({"opened:confident_mistakes"}))
    assert not done("opened", p, half)
    assert "reliability diagram" in evaluate(Check("opened", p), half).saw
    assert done("opened", p, SessionRecord(events=frozenset({"opened:confident_mistakes", "opened:reliability"})))
    assert check_of("{opened: confident_mistakes}").params == {"views": ["confident_mistakes"]}


def test_cnn_accuracy_at_least():
    p = check_of("{cnn_accuracy_at_least: 0.9}").params
    rec = SessionRecord((run(1, test=[0.85, 0.86]), run(2, model="cnn", epochs=2, test=[0.88, 0.895])))
    assert not done("cnn_accuracy_at_least", p, rec)
    assert "89.5%" in evaluate(Check("cnn_accuracy_at_least", p), rec).saw
    rec = SessionRecord((*rec.runs, run(3, model="cnn", epochs=5, test=[0.85, 0.88, 0.89, 0.9, 0.912])))
    assert done("cnn_accuracy_at_least", p, rec)


def test_progress_counts_the_shipped_lessons_exercises():
    lesson = lessons.load_lesson(TUTORIAL)
    assert lessons.progress(lesson, SessionRecord()) == (0, 8)
    rec = SessionRecord((run(1, end="diverged", epochs=0, lr=10.0),), frozenset({"saw_overflow"}))
    assert lessons.progress(lesson, rec) == (2, 8)


# --- broken files: one line per problem, naming file, step, field --------------------------------------
GOOD_EXERCISE = "  - exercise: E\n    task: t\n    question: q\n    answer: a\n"


@pytest.mark.parametrize(
    "body, expected",
    [
        (
            b"title: T\nsteps:\n" + GOOD_EXERCISE.encode() + b"    check: divrged\n",
            "step 1 ('E'), check: unknown check 'divrged'",
        ),
        (
            b"title: T\nsteps:\n  - step: S\n    text: x\n    links:\n      - {label: L, page: trian}\n",
            "step 1 ('S'), links[1]: there is no page 'trian'",
        ),
        (
            b"title: T\nsteps:\n  - step: S\n    text: x\n    links:\n      - {label: L, page: train, settings: {colour: red}}\n",
            "step 1 ('S'), links[1]: Train has no setting 'colour'",
        ),
        (
            b"title: T\nsteps:\n  - step: S\n    text: x\n    links:\n      - {label: L, page: train, settings: {lr: 0.15}}\n",
            "links[1]: lr=0.15: learning rate must be one of",
        ),
        (
            b"title: T\nsteps:\n  - step: S\n    text: x\n    links:\n      - {label: L, page: train, settings: {epochs: 500}}\n",
            "epochs=500: epochs must be a whole number from 1 to 50",
        ),
        (
            b"title: T\nsteps:\n" + GOOD_EXERCISE.encode() + b"    check: {epochs_at_least: 500}\n",
            "check: epochs_at_least",
        ),
        (b"title: T\nsteps:\n" + GOOD_EXERCISE.encode() + b"    check: {cnn_accuracy_at_least: 1.5}\n", "from 0 to 1"),
        (b"title: T\nsteps:\n" + GOOD_EXERCISE.encode() + b"    check: {batch_sizes: [16, 100]}\n", "batch size 100"),
        (b"title: T\nsteps:\n" + GOOD_EXERCISE.encode() + b"    check: {opened: settings}\n", "no view 'settings'"),
        (
            b"title: T\nsteps:\n" + GOOD_EXERCISE.encode() + b"    check: {runs_differ_in: colour}\n",
            "runs_differ_in must be one of Train's settings",
        ),
        (b"title: T\nsteps:\n  - exercise: E\n    task: t\n    check: diverged\n", "step 1 ('E'), question: missing"),
        (b"steps:\n  - step: S\n    text: x\n", "t.yaml: title: missing"),
        (b"title: T\nsteps:\n  - step: S\n    txet: x\n", "step 1 ('S'), 'txet': is not a field of a step"),
        (b"title: T\nsteps:\n  - step: S\n    text: [1, 2]\n", "step 1 ('S'), text: must be text"),
        (b"title: T\nsteps: []\n", "steps: must be a list"),
        (b"title: T\nsteps:\n  - just a string\n", "step 1: must be a mapping"),
        (b"title: T\nsteps:\n  - {step: A, exercise: B, text: x}\n", "exactly one of"),
        (b"title: [unclosed\n", "not valid YAML at line"),
        (b"Just some prose, not a lesson.\n", "not a lesson: a lesson is a YAML mapping"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a binary file, not a lesson"),
        (b"title: caf\xe9\n", "not UTF-8 text"),
        (b"title: T\nsteps: &a [1]\nintro: *a\n", "anchors and aliases"),
        (b"title: !!python/object/apply:os.system [echo hi]\nsteps: []\n", "not valid YAML"),
        (b"# " + b"x" * (lessons.MAX_BYTES + 1), "bytes (a lesson may be at most 200,000)"),
    ],
)
def test_a_broken_file_is_refused_with_a_line_naming_the_problem(body, expected):
    with pytest.raises(LessonError) as e:
        parse_lesson(body, "t.yaml")
    assert any(expected in line for line in e.value.problems), e.value.problems
    assert all(line.startswith("t.yaml: ") and "\n" not in line for line in e.value.problems)


def test_every_problem_is_listed_not_just_the_first():
    body = b"title: T\nsteps:\n  - step: S\n    txet: x\n" + GOOD_EXERCISE.encode() + b"    check: nope\n"
    with pytest.raises(LessonError) as e:
        parse_lesson(body, "t.yaml")
    assert len(e.value.problems) == 3  # the unknown field, the missing text, the unknown check


def test_raw_html_is_escaped_and_maths_kept():
    body = b"title: T <b>bold</b>\nsteps:\n  - step: S\n    text: '<script>alert(1)</script> $$x < y$$'\n"
    lesson = parse_lesson(body, "t.yaml")
    assert lesson.title == r"T \<b>bold\</b>"
    assert lesson.items[0].text == r"\<script>alert(1)\</script> $$x < y$$"


def test_find_lessons_offers_the_valid_ones_and_names_the_refused(tmp_path):
    (tmp_path / "mine.yaml").write_text("title: Mine\nsteps:\n  - step: S\n    text: x\n")
    (tmp_path / "broken.yml").write_text("title: [\n")
    (tmp_path / "notes.txt").write_text("not a lesson file")
    cat = lessons.find_lessons([tmp_path, TUTORIAL.parent])
    assert set(cat.lessons) == {"mine", "tutorial"}
    assert len(cat.refused) == 1 and "broken.yml: not valid YAML" in cat.refused[0]


# --- the precision table -------------------------------------------------------------------------
def test_the_exp_limits_match_the_types_largest_numbers():
    rows = {r.dtype: r for r in lessons.exp_limits()}
    assert list(rows) == ["float64", "float32", "bfloat16", "float16"]
    for name, row in rows.items():
        dt = getattr(torch, name)
        assert row.largest == torch.finfo(dt).max
        assert math.isfinite(torch.exp(torch.tensor(row.overflow_above, dtype=dt)).item())
        assert row.overflow_above <= math.log(row.largest) + 0.5  # within the type's rounding of ln(max)
        assert torch.exp(torch.tensor(row.underflow_below, dtype=dt)).item() > 0
    assert rows["float32"].overflow_above == pytest.approx(88.72, abs=0.01)
    assert rows["float64"].overflow_above == pytest.approx(709.78, abs=0.01)
    assert rows["float16"].overflow_above == pytest.approx(11.09, abs=0.01)
    assert rows["float32"].underflow_below == pytest.approx(-103.97, abs=0.01)


# --- the report -----------------------------------------------------------------------------------
def test_the_report_lists_checks_runs_and_answers_as_text():
    lesson = lessons.load_lesson(TUTORIAL)
    rec = SessionRecord((run(7, end="diverged", epochs=0, lr=10.0),))
    text = lessons.report(lesson, rec, {1: "It overshoots <b>badly</b>\n```\n[x](javascript:alert(1))", 2: ""})
    assert "**1 of 8 exercises done.**" in text
    assert "## Exercise 1: Make training diverge — done" in text
    assert "## Exercise 2: Compare learning rates — not yet" in text
    assert "- \\#7 run (model=softmax, lr=10," in text and "diverged, 0 epochs" in text
    fence = "````text\nIt overshoots <b>badly</b>\n```\n[x](javascript:alert(1))\n````"
    assert fence in text  # the learner's text in a fence longer than any of its backtick runs
    assert text.count("(none)") == 7
