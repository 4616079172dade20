"""Train: choose the settings, train live, compare runs, download and load checkpoints."""

import streamlit as st

from fmnist_lib import CheckpointError, checkpoint_bytes, load_checkpoint
from lab_ui import charts, controls, divergence, layout, resources, state, training
from lab_ui.text import plain

layout.ensure_entry_point()
st.title(":material/model_training: Train a model")
data = resources.dataset()
layout.active_model_line()

job = state.job()
busy = job is not None
left, right = st.columns([1, 2], gap="large")

with left:
    st.subheader("Settings")
    controls.draw(disabled=busy)
    try:
        config = controls.config_from_state()
    except ValueError as e:
        config = None
        st.error(str(e))
    b1, b2, b3 = st.columns(3)
    with b1:
        st.button(
            "Train",
            type="primary",
            icon=":material/play_arrow:",
            disabled=busy or config is None,
            on_click=lambda: training.start(controls.config_from_state()),
            key=state.TRAIN_BUTTON,
            width="stretch",
        )
    with b2:
        st.button(
            "Stop",
            icon=":material/stop:",
            disabled=not busy,
            on_click=training.request_stop,
            key=state.STOP_BUTTON,
            width="stretch",
            help="Ends the run within a moment and keeps everything it learned.",
        )
    with b3:
        st.button(
            "Reset",
            icon=":material/restart_alt:",
            disabled=busy,
            on_click=controls.reset_to_defaults,
            key=state.RESET_BUTTON,
            width="stretch",
            help="Every setting back to the chosen model's defaults (the tutorial's for softmax).",
        )
    if config is not None:
        st.caption(training.describe_config(config))

with right:
    shown = state.find_run(job.run_id) if busy else (state.runs()[-1] if state.runs() else None)
    if shown is not None and not busy:
        training.wait_until_idle(shown)  # an interrupted epoch still being recorded (see training.py)
    st.subheader("Live training" if busy else "Latest run")
    st.toggle(
        "Zoom the accuracy axis to the curves",
        help="Zoomed (the default), the accuracy axis starts just below the lowest accuracy plotted, so the "
        "gap between training and test accuracy and the last few points gained are easy to see; chance (10%) "
        "falls outside and is named in a note. Off, the axis runs from 0 to 100%.",
        **state.bind(state.ACC_ZOOM, True),
    )

    def live_panel() -> None:
        current = state.job()
        if current is not None and not busy:
            # Continue (below, in this fragment) was pressed: a click inside a fragment reruns only
            # the fragment, so rerun the whole page, whose controls are disabled while a run trains.
            st.rerun(scope="app")
        lab_run = state.find_run(current.run_id) if current else shown
        if lab_run is None:
            st.caption("No run yet: choose settings and press **Train**. The curves appear here, epoch by epoch.")
            return
        target = current.target_epochs if current else max(lab_run.run.config.epochs, lab_run.run.epochs_done)
        st.caption(f"**{plain(lab_run.name)}** — {training.describe_config(lab_run.run.config)}")
        # The progress bar while training; else the last run's final message (where its progress
        # bar was: the fragment's last run shows it the moment training ends, see
        # training.run_job_chunk) and, for a stopped run, Continue. One slot, always written, so
        # that neither lingers faded on the page while the next run trains.
        progress_slot = st.empty()
        if current is not None:
            progress_slot.progress(
                min(1.0, lab_run.run.epochs_done / max(target, 1)),
                text=f"Epoch {lab_run.run.epochs_done + 1} of {target}: starting…",
            )
        else:
            box = progress_slot.container()
            training.show_notice(box, lab_run)
            run = lab_run.run
            with box:
                divergence.draw(run.diverged)  # a diverged run's last epoch, step by step
            if run.can_continue:
                box.button(
                    f"Continue {plain(lab_run.name)} to {run.config.epochs} epochs",
                    icon=":material/fast_forward:",
                    on_click=training.resume,
                    args=(lab_run.id,),
                    key=state.CONTINUE_BUTTON,
                )
        chart_slot = st.empty()
        training.draw_history(chart_slot, [(lab_run.name, lab_run.run.history)], target)
        st.caption(
            "Left: the training loss (cross-entropy, lower is better) averaged over each epoch. Right: "
            "accuracy on the training images seen during the epoch and on the 10,000 test images after it. "
            "Grey lines: chance (10%), human performance (83.5%) and the best linear classifier of the "
            "Fashion-MNIST benchmark (84.2%). " + charts.HUMAN_NOTE
        )
        template_slot = st.empty()
        if lab_run.run.kind == "softmax":
            with st.expander("The 10 class templates (rows of W)", expanded=True):
                template_slot = st.empty()
                training.draw_templates(template_slot, lab_run.run)
                st.caption(
                    "Each image is one row of the weight matrix W shown as 28×28: the score of a class is the "
                    "sum of the image's pixels weighted by its template. Blue pixels raise the class's score "
                    "where the image is bright, red pixels lower it. Watch garment shapes appear as it trains."
                )
        if current is not None:
            training.run_job_chunk(data, progress_slot, chart_slot, template_slot)

    st.fragment(run_every=training.TICK_SECONDS if busy else None)(live_panel)()

st.divider()
st.subheader("Runs of this session")
lab_runs = state.runs()
if not lab_runs:
    st.caption("Runs you train (or load from a checkpoint) are kept here while this browser tab is open.")
else:
    rows = [
        {
            "run": r.name,
            "status": r.run.status,
            "epochs": r.run.epochs_done,
            "test accuracy": f"{r.run.test_acc:.1%}" if r.run.test_acc is not None else "—",
            "seconds": round(sum(e.seconds for e in r.run.history), 1),
            "origin": r.origin,
        }
        for r in lab_runs
    ]
    st.dataframe(rows, hide_index=True, width="stretch")

    ids = [r.id for r in lab_runs]
    names = {r.id: r.name for r in lab_runs}
    picked = st.multiselect(
        "Compare runs",
        ids,
        format_func=names.get,
        help="Overlay the curves of several runs: colour = run, dashes = training/test accuracy.",
        **state.bind_compare(ids),
    )
    chosen = [r for r in lab_runs if r.id in picked and r.run.history]
    if len(chosen) >= 2 and not busy:
        training.draw_history(st.empty(), [(r.name, r.run.history) for r in chosen])
    else:
        st.caption("Pick two or more runs (with at least one epoch) to overlay their curves.")

    st.markdown("**Download a run**")
    with_history = [r for r in lab_runs if r.run.history]
    if with_history:
        pick = st.selectbox("Run", [r.id for r in with_history], format_func=names.get, index=len(with_history) - 1)
        lab_run = state.find_run(pick)
        d1, d2, d3 = st.columns(3)
        with d1:
            st.download_button(
                "History (CSV)",
                charts.history_csv(lab_run.run.history, {"run": lab_run.name, **lab_run.run.config.to_dict()}),
                file_name=f"run{lab_run.id}_history.csv",
                mime="text/csv",
                on_click="ignore",
                icon=":material/table:",
            )
        with d2:
            st.download_button(
                "Model checkpoint (.pt)",
                lambda: checkpoint_bytes(lab_run.run),
                file_name=f"run{lab_run.id}_{lab_run.run.kind}.pt",
                mime="application/octet-stream",
                on_click="ignore",
                icon=":material/download:",
                disabled=busy,
            )
        with d3:
            st.button(
                "Make it the active model",
                on_click=state.set_active,
                args=(lab_run.id,),
                disabled=busy or state.active_id() == lab_run.id,
            )

# The page above grows when a checkpoint is added, so the expander is drawn anew after the rerun: keep it open
# while it holds the message about the file in it, or the "Loaded ..." confirmation would be hidden.
_pending = st.session_state.get(state.CHECKPOINT_UPLOAD)
_seen = st.session_state.get(state.CHECKPOINT_SEEN)
with st.expander(
    "Load a checkpoint", expanded=_pending is not None and _seen is not None and _seen[0] == _pending.file_id
):
    st.caption("A `.pt` file downloaded from this app. Other files are refused; nothing in them is run.")
    upload = st.file_uploader("Checkpoint file", key=state.CHECKPOINT_UPLOAD, disabled=busy)
    if upload is not None:
        seen = st.session_state.get(state.CHECKPOINT_SEEN)
        if seen is None or seen[0] != upload.file_id:
            try:
                loaded = load_checkpoint(upload.getvalue())
            except CheckpointError as e:
                seen = (upload.file_id, "error", f"**{plain(upload.name)}** was refused: {e}")
            else:
                lab_run = state.add_run(loaded, origin="checkpoint", name=f"#{{}} loaded from {upload.name}")
                lab_run.name = f"#{lab_run.id} loaded from {upload.name}"
                if loaded.history:
                    state.set_active(lab_run.id)
                acc = f" Test accuracy {loaded.test_acc:.1%}." if loaded.test_acc is not None else ""
                seen = (upload.file_id, "success", f"Loaded **{plain(upload.name)}**: {loaded.message}{acc}")
            st.session_state[state.CHECKPOINT_SEEN] = seen
            if seen[1] == "success":
                st.rerun()
        (st.success if seen[1] == "success" else st.error)(seen[2])
