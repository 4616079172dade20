"""The Lesson page: a lesson's steps and exercises, the checks decided from this session, the report.

The lesson model and the checks live in fmnist_lib.lessons; this module only gathers what the
session did (its runs and recorded events) and draws. Lesson text is the teacher's Markdown with
raw HTML already escaped (lessons.safe_markdown); anything the learner or an uploaded file's name
supplied is shown as plain text.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import parse_qsl

import pandas as pd
import streamlit as st

from fmnist_lib import links
from fmnist_lib.lessons import (
    REVEALED_PRECISION,
    Catalogue,
    CheckResult,
    Item,
    Lesson,
    LessonError,
    RunFacts,
    SessionRecord,
    evaluate,
    exp_limits,
    find_lessons,
    parse_lesson,
    report,
)
from lab_ui import resources, state
from lab_ui.text import plain

SHIPPED = Path(__file__).resolve().parents[2] / "lessons"  # the tutorial's lesson and any others shipped
DEFAULT_LESSON = "tutorial"
UPLOADED = "<uploaded>"  # the picker's option for a teacher's uploaded file (never a lesson file's name)
# url path (links.PAGES) -> the page's script, for st.page_link
PAGE_FILES = {
    "": "app_pages/home.py",
    "lesson": "app_pages/lesson.py",
    "train": "app_pages/train.py",
    "browse": "app_pages/browse.py",
    "upload": "app_pages/upload.py",
    "softmax": "app_pages/softmax.py",
}


def catalogue() -> Catalogue:
    """The lessons offered: those in $FMNIST_LESSONS (a teacher's folder) first, then the shipped ones."""
    folders = [os.environ["FMNIST_LESSONS"]] if os.environ.get("FMNIST_LESSONS") else []
    return find_lessons([*folders, SHIPPED])


def run_facts(lab_run: state.LabRun) -> RunFacts:
    run, config = lab_run.run, lab_run.run.config
    return RunFacts(
        id=lab_run.id,
        name=lab_run.name,
        settings={param: getattr(config, name) for param, name in links.TRAIN_FIELDS.items()},
        end_reason=run.status,
        epochs_done=run.epochs_done,
        train_acc=tuple(e.train_acc for e in run.history),
        test_acc=tuple(e.test_acc for e in run.history),
        seconds=sum(e.seconds for e in run.history),
    )


def session_record() -> SessionRecord:
    """The session's runs (also those dropped since the page last saw them: a check once done stays done)
    and the events the pages recorded."""
    seen: dict[int, RunFacts] = st.session_state.setdefault(state.LESSON_RUNS, {})
    for lab_run in state.runs():
        if lab_run.origin == "trained":  # a loaded checkpoint was not trained by the learner
            seen[lab_run.id] = run_facts(lab_run)
    return SessionRecord(tuple(seen.values()), state.events())


# Measured with torch once per server (a bisection per type), like resources' defaults.
_EXP_LIMITS = resources.Shared(exp_limits)


def _handle_upload(offered: dict[str, Lesson]) -> None:
    """A teacher's lesson file: used for this session if valid, else refused with its problems."""
    ss = st.session_state
    upload = st.file_uploader(
        "Use your own lesson file (YAML, see docs/lessons.md): for this session only",
        key=state.LESSON_UPLOAD,
    )
    if upload is not None and ss.get(state.LESSON_UPLOAD_SEEN) != upload.file_id:
        ss[state.LESSON_UPLOAD_SEEN] = upload.file_id
        try:
            lesson = parse_lesson(upload.getvalue(), upload.name)
        except LessonError as e:
            ss[state.LESSON_UPLOAD_PROBLEMS] = (upload.name, e.problems)
        else:
            ss[state.LESSON_UPLOADED] = lesson
            ss[state.LESSON_UPLOAD_PROBLEMS] = None
            state.put(state.LESSON_PICK, UPLOADED)
            _pick_to_url()
    refused = ss.get(state.LESSON_UPLOAD_PROBLEMS)
    if refused:
        name, problems = refused
        lines = "\n".join(f"- {plain(p)}" for p in problems)
        st.error(
            f"**{plain(name)}** was refused; the lesson shown is unchanged.\n\n{lines}",
            icon=":material/block:",
        )


def _remember_url(query: dict) -> None:
    """Note a query the Lesson page's address bar held, so that the next page, whose navigation entry
    still carries it, does not take it for a link (state.open_url)."""
    texts = st.session_state.setdefault(state.URL_HISTORY, {}).setdefault("lesson", [])
    if query and query not in texts:
        texts.append(query)
        del texts[: -state.URL_HISTORY_KEPT]


def _pick_to_url() -> None:
    """The URL names the lesson shown (an uploaded one has no name to share), so a link copied from the
    address bar opens it, and the picker is not overruled by a `lesson` parameter it has left behind."""
    pick = state.get(state.LESSON_PICK)
    if pick == UPLOADED:
        st.query_params.pop("lesson", None)
    else:
        st.query_params["lesson"] = pick
        _remember_url({"lesson": pick})


def _pick(offered: dict[str, Lesson]) -> Lesson | None:
    """The lesson to show: the URL's `lesson` parameter, else the picker's choice (a teacher's upload included)."""
    uploaded: Lesson | None = st.session_state.get(state.LESSON_UPLOADED)
    options = list(offered) + ([UPLOADED] if uploaded else [])
    if not options:
        return None
    raw = {k: st.query_params.get_all(k) for k in st.query_params}
    flat = {k: v[0] if len(v) == 1 else v for k, v in raw.items()}
    written = st.session_state.get(state.URL_HISTORY, {})
    if any(flat in texts for page, texts in written.items() if page != "lesson"):
        raw = {}  # the navigation's history entry still holds the previous page's query: not a link (state.open_url)
    query = links.read_query("lesson", raw)
    _remember_url(flat if raw else {})
    for note in query.ignored:
        st.warning(f"Ignored in the link: {plain(note)}", icon=":material/link_off:")
    asked = query.values.get("lesson")
    if asked is not None:
        if asked in offered:
            state.put(state.LESSON_PICK, asked)
        else:
            st.warning(
                f"There is no lesson named {plain(asked)} here; lessons: {plain(', '.join(offered))}.",
                icon=":material/link_off:",
            )
    default = DEFAULT_LESSON if DEFAULT_LESSON in options else options[0]
    if state.get(state.LESSON_PICK) not in options:
        state.put(state.LESSON_PICK, default)

    def title(o: str) -> str:
        return f"{uploaded.title} (your file)" if o == UPLOADED else offered[o].title

    if len(options) > 1:
        pick = st.selectbox(
            "Lesson",
            options,
            format_func=title,
            **state.bind(state.LESSON_PICK, default, options=options, on_change=_pick_to_url),
        )
    else:
        pick = options[0]
    return uploaded if pick == UPLOADED else offered[pick]


def _links(item: Item) -> None:
    for link in item.links:
        st.page_link(
            PAGE_FILES[link.page],
            label=link.label,
            icon=":material/arrow_forward:",
            query_params=parse_qsl(link.query) or None,
        )


def _precision_table(record: SessionRecord) -> None:
    if REVEALED_PRECISION not in record.events:
        st.button(
            "Reveal the table",
            icon=":material/visibility:",
            key=state.REVEAL_PRECISION_BUTTON,
            on_click=state.record_event,
            args=(REVEALED_PRECISION,),
        )
        return
    rows = _EXP_LIMITS.get()
    st.dataframe(
        pd.DataFrame(
            {
                "type": [r.dtype for r in rows],
                "exp overflows to inf above": [f"{r.overflow_above:.4g}" for r in rows],
                "exp underflows to 0 below": [f"{r.underflow_below:.4g}" for r in rows],
                "largest number": [f"{r.largest:.4g}" for r in rows],
                "smallest normal number": [f"{r.smallest_normal:.4g}" for r in rows],
            }
        ),
        hide_index=True,
    )
    st.caption(
        "Computed now with PyTorch: `torch.finfo(type)` gives the largest and smallest normal numbers; the "
        "boundaries are where `torch.exp` of a number of that type becomes inf or 0 (found by bisection). "
        "Below the smallest normal number, exp still returns subnormal numbers, with fewer digits, before 0."
    )


def _exercise(n: int, item: Item, lesson: Lesson, record: SessionRecord) -> CheckResult:
    result = evaluate(item.check, record)
    with st.container(border=True):
        mark = ":material/check_circle:" if result.done else ":material/radio_button_unchecked:"
        st.subheader(f"{mark} Exercise {n}: {item.title}")
        st.markdown(item.text)
        _links(item)
        st.markdown(f"**Question.** {item.question}")
        st.text_area("Your answer", height=90, **state.bind(state.lesson_answer(lesson.name, n), ""))
        if item.check.kind == "precision_table":
            _precision_table(record)
        if result.done:
            st.success(f"**Done.** {plain(result.saw)}", icon=":material/check_circle:")
        else:
            st.info(f"**Not yet.** {plain(result.saw)}", icon=":material/pending:")
        with st.expander("Answer" if result.done else "Answer (try first, or open to look)", expanded=result.done):
            st.markdown(item.answer)
            if result.numbers:
                st.markdown(f"**With your numbers.** {plain(result.numbers)}")
            for r in result.runs:
                st.caption(plain(r.line()))
    return result


def draw() -> None:
    cat = catalogue()
    with st.expander("For teachers: your own lesson", icon=":material/edit_note:"):
        st.markdown(
            "A lesson is a YAML file of steps, links, questions, answers and checks (see `docs/lessons.md`); "
            "`python -m fmnist_lib lesson check FILE` validates it. Start the app with `FMNIST_LESSONS=DIR` "
            "to offer the lessons of a folder, or upload one here."
        )
        _handle_upload(cat.lessons)
        for line in cat.refused:
            st.warning(plain(line), icon=":material/block:")
    lesson = _pick(cat.lessons)
    if lesson is None:
        st.error("No lesson found.", icon=":material/error:")
        return
    record = session_record()
    results = [evaluate(e.check, record) for e in lesson.exercises]
    done, total = sum(r.done for r in results), len(results)
    st.header(lesson.title)
    answers = {i: state.get(state.lesson_answer(lesson.name, i), "") for i in range(1, total + 1)}
    with st.container(horizontal=True, vertical_alignment="bottom"):
        if total:
            st.progress(done / total, text=f"**{done} of {total} exercises done** (kept for this session)")
        st.download_button(
            "Report",
            report(lesson, record, answers),
            file_name=f"lesson-{lesson.name}-report.md",
            mime="text/markdown",
            icon=":material/download:",
            help="Your report (Markdown): each exercise done or not yet, the runs behind it and your answers.",
            key=state.LESSON_REPORT_BUTTON,
        )
    if lesson.intro:
        st.markdown(lesson.intro)
    n = 0
    for item in lesson.items:
        if item.is_exercise:
            n += 1
            _exercise(n, item, lesson, record)
        else:
            st.subheader(item.title)
            st.markdown(item.text)
            _links(item)
