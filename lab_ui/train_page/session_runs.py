"""The Train page's lower half: the session's runs in a table, their curves overlaid, a run's downloads."""

from __future__ import annotations

import streamlit as st

from fmnist_lib import checkpoint_bytes
from lab_ui import charts, state
from lab_ui.text import plain
from lab_ui.train_page import live


def draw(busy: bool) -> None:
    notice = dropped_notice(st.session_state.get(state.DROPPED, []))
    if notice:
        st.info(notice, icon=":material/delete_sweep:")
    lab_runs = state.runs()
    if not lab_runs:
        st.caption(
            "Runs you train (or load from a checkpoint) are kept here, and for 12 hours in this browser: a reload finds them again."
        )
        return
    training_id = state.job().run_id if busy else None
    rows = table_rows(lab_runs, training_id)
    st.table(rows, border="horizontal")  # static HTML: lighter to draw than a data grid, for a handful of runs
    _keep_or_delete(lab_runs, training_id)
    _compare(lab_runs, busy)
    _downloads(lab_runs, busy)


def dropped_notice(names: list[str]) -> str:
    """Which runs were dropped to keep the session at state.MAX_RUNS runs, as plain text (names may be file names)."""
    if not names:
        return ""
    which = ", ".join(plain(n) for n in names)
    one = len(names) == 1
    return (
        f"This session keeps {state.MAX_RUNS} runs (each holds its model and history in the server's memory), "
        f"so the oldest {'run' if one else f'{len(names)} runs'} you did not keep "
        f"{'was' if one else 'were'} dropped: {which}. To keep a run, tick its **Keep** box under "
        "*Keep or delete runs* (or download its checkpoint, which you can load back later)."
    )


def _keep_or_delete(lab_runs: list[state.LabRun], training_id: int | None) -> None:
    """Each run's Keep box (pinned: never dropped to make room) and Delete button; open when the session is full."""
    full = not state.room_for_a_run()
    kept = sum(r.pinned for r in lab_runs)
    # A fixed label: a label that changed with the counts would be a new expander, closed after each tick.
    with st.expander("Keep or delete runs", expanded=full):
        st.caption(
            f"{len(lab_runs)} of {state.MAX_RUNS} runs, {kept} kept. When another run comes to a full session, the "
            "oldest run not kept makes room (never the active model or the run training). Tick **Keep** to keep "
            "a run, or delete the ones you are done with."
        )
        for r in lab_runs:
            name, keep, delete = st.columns([6, 2, 2], vertical_alignment="center")
            name.text(r.name)  # user text (a file name): plain, never Markdown
            box = f"{state.KEEP_BOX}.{r.id}"
            keep.checkbox("Keep", value=r.pinned, key=box, on_change=_pin, args=(r.id, box))
            delete.button(
                "Delete",
                icon=":material/delete:",
                key=f"{state.DELETE_BUTTON}.{r.id}",
                on_click=state.delete_run,
                args=(r.id,),
                disabled=r.id == training_id,
                help="Removes this run from the session (download it first to keep a copy).",
            )


def _pin(run_id: int, box: str) -> None:
    state.set_pinned(run_id, bool(st.session_state.get(box)))


# The runs table's origin column in a word each, so the table fits a 390 px phone (the full names are in the
# comparison picker and the downloads below).
ORIGINS = {"trained": "trained", "checkpoint": "loaded"}


def table_rows(lab_runs: list[state.LabRun], training_id: int | None) -> list[dict]:
    """The runs table's rows, every cell short text: a run as "#3 CNN" (its full name is long: the table
    did not fit a phone and cut its last column) and seconds to a tenth (st.table printed 4.6 as "4.6000")."""
    return [
        {
            "run": f"#{r.id} {state.SHORT_MODEL.get(r.run.kind, plain(r.run.kind))}",
            "status": "training" if r.id == training_id else r.run.status,
            "epochs": str(r.run.epochs_done),
            "test acc.": f"{r.run.test_acc:.1%}" if r.run.test_acc is not None else "—",
            "time": f"{sum(e.seconds for e in r.run.history):.1f} s",
            "origin": ORIGINS.get(r.origin, plain(r.origin)),
        }
        for r in lab_runs
    ]


def _compare(lab_runs: list[state.LabRun], busy: bool) -> None:
    ids = state.compare_options()  # runs it can draw (and the one training): a diverged run is not offered
    names = {r.id: r.name for r in lab_runs}
    picked = st.multiselect(
        "Compare runs",
        ids,
        format_func=names.get,
        help="Overlay the curves of several runs: colour = run, dashes = training/test accuracy.",
        **state.bind_compare(ids),
    )
    chosen = [r for r in lab_runs if r.id in picked and r.run.history]
    note = missing_note([r for r in lab_runs if r.id not in ids or (r.id in picked and not r.run.history)])
    if note:
        st.caption(note)
    if len(chosen) >= 2 and not busy:
        live.draw_history([(r.name, r.run.history) for r in chosen], memo="compare", run_ids=[r.id for r in chosen])
    else:
        st.caption("Pick two or more runs (with at least one epoch) to overlay their curves.")


def missing_note(undrawable: list[state.LabRun]) -> str:
    """Why runs are not in the comparison: they have no epoch to draw (a run that diverged in its first epoch
    was rolled back to nothing, so it is not offered; a run still training has none yet)."""
    if not undrawable:
        return ""

    def why(r: state.LabRun) -> str:
        if r.run.status == "diverged":
            return "diverged in its first epoch and was rolled back, so it has no curve"
        return "has no finished epoch yet"

    return "Not in the comparison: " + "; ".join(f"{plain(r.name)} {why(r)}" for r in undrawable) + "."


def _downloads(lab_runs: list[state.LabRun], busy: bool) -> None:
    st.markdown("**Download a run**")
    with_history = [r for r in lab_runs if r.run.history]
    if not with_history:
        return
    names = {r.id: r.name for r in lab_runs}
    pick = st.selectbox("Run", [r.id for r in with_history], format_func=names.get, index=len(with_history) - 1)
    lab_run = state.find_run(pick)
    run, stem = lab_run.run, f"run{lab_run.id}"
    # (label, the file's bytes or how to make them when clicked, file name, MIME type, icon, disabled while
    # training, help): the file-making ones wait for the click, so a rerun costs nothing.
    files = (
        ("History (CSV)", charts.history_csv(run.history, {"run": lab_run.name, **run.config.to_dict()}),
         f"{stem}_history.csv", "text/csv", ":material/table:", False, None),
        ("Model checkpoint (.pt)", lambda: checkpoint_bytes(run),
         f"{stem}_{run.kind}.pt", "application/octet-stream", ":material/download:", busy, None),
        ("Notebook (.ipynb)", lambda: _notebook(run),
         f"{stem}_{run.kind}.ipynb", "application/x-ipynb+json", ":material/code:", busy,
         "This run as a Jupyter notebook (plain PyTorch, for Colab or Jupyter) that trains it again "
         "with the same settings and seed, and reaches the same test accuracy."),
    )  # fmt: skip
    *columns, d4 = st.columns(4)
    for column, (label, data, name, mime, icon, disabled, why) in zip(columns, files, strict=True):
        with column:
            st.download_button(
                label, data, file_name=name, mime=mime, on_click="ignore", icon=icon, disabled=disabled, help=why
            )
    with d4:
        st.button(
            "Make it the active model",
            on_click=state.set_active,
            args=(lab_run.id,),
            disabled=busy or state.active_id() == lab_run.id,
        )


def _notebook(run) -> bytes:
    """The run as an .ipynb file, made when the button is clicked."""
    # Imported here: nbformat (and its JSON-schema checks) costs a few tenths of a second, paid only by a click.
    from fmnist_lib.notebook import notebook_args, notebook_bytes

    return notebook_bytes(**notebook_args(run))
