"""The Train page's controls: their options, defaults and the config they make."""

from __future__ import annotations

import streamlit as st

from fmnist_lib import DEFAULT_CONFIGS, MODEL_KINDS, OPTIMIZERS, TrainConfig
from fmnist_lib.config import AUGMENTATIONS, RECOMMENDED_LR, SCHEDULES
from fmnist_lib.links import BATCH_OPTIONS, LR_OPTIONS, MAX_EPOCHS, MAX_SEED, WEIGHT_DECAY_OPTIONS
from lab_ui import state, training
from lab_ui.labels import MODEL_TITLES, OPTIMIZER_TITLES

# The sliders' options (LR_OPTIONS, BATCH_OPTIONS, ...) come from fmnist_lib.links, which checks a link against them.
SCHEDULE_TITLES = {"constant": "constant", "cosine": "cosine", "onecycle": "one-cycle"}  # the help says what each does
AUGMENTATION_TITLES = {"off": "off", "mirror": "mirror", "mirror+shift": "mirror, shift, rescale"}

# (widget name, TrainConfig field)
FIELDS = (
    (state.LR, "lr"),
    (state.EPOCHS, "epochs"),
    (state.BATCH, "batch_size"),
    (state.OPTIMIZER, "optimizer"),
    (state.WEIGHT_DECAY, "weight_decay"),
    (state.SCHEDULE, "schedule"),
    (state.SEED, "seed"),
    (state.AUGMENT, "augment"),
)


# Times as measured (bench/results/training.md, docs/measurements.md), with where: a page that promises
# 10 s per epoch and takes 22 s loses the class's trust.
MODEL_HELP = (
    "Softmax regression: one linear layer, the tutorial's model (82% test accuracy in 10 epochs of 0.06 s each). "
    "Small CNN: two convolution blocks; much better (92% in 5 epochs) but much slower per epoch: 5.9 s measured "
    "on an idle 2-core Intel Xeon with two threads; a training worker uses one thread and shares the machine "
    "with the class, so expect 10-25 s (22 s measured on this server under load)."
)
DIVERGING_LR = 10.0  # softmax with SGD diverges at this rate in its first steps (tested); the docs say 10 too
LR_HELP = (
    "How big each step is. Too small: slow progress. Too large: the loss explodes "
    f"(try {DIVERGING_LR:g} with softmax and SGD to see it)."
)


# The learning rate each optimizer brings when it is chosen (unless the slider was moved since):
# config.RECOMMENDED_LR, measured per model and optimizer.
OPTIMIZER_LR = {m: {o: lr for (m2, o), lr in RECOMMENDED_LR.items() if m2 == m} for m in MODEL_KINDS}


def suggested_lr(model: str, optimizer: str) -> float:
    """The learning rate the slider moves to when this optimizer is chosen for this model."""
    return OPTIMIZER_LR[model][optimizer]


def _lr_moved() -> None:
    """on_change of the learning-rate slider: from now on the user's rate stays."""
    st.session_state[state.LR_MOVED] = True


def _optimizer_changed() -> None:
    """on_change of the optimizer box: its own learning rate, unless the user has moved the slider."""
    if not st.session_state.get(state.LR_MOVED, False):
        state.put(state.LR, suggested_lr(state.get(state.MODEL, "softmax"), state.get(state.OPTIMIZER)))


def _nearest(options, value):
    return min(options, key=lambda o: abs(o - value))


def defaults(model: str) -> dict:
    c = DEFAULT_CONFIGS[model]
    return {
        state.LR: _nearest(LR_OPTIONS, c.lr),
        state.EPOCHS: c.epochs,
        state.BATCH: _nearest(BATCH_OPTIONS, c.batch_size),
        state.OPTIMIZER: c.optimizer,
        state.WEIGHT_DECAY: _nearest(WEIGHT_DECAY_OPTIONS, c.weight_decay),
        state.SCHEDULE: c.schedule,
        state.SEED: c.seed,
        state.AUGMENT: c.augment,
    }


def reset_to_defaults() -> None:
    """Callback: every control to the chosen model's defaults."""
    for name, value in defaults(state.get(state.MODEL, "softmax")).items():
        state.put(name, value)
    st.session_state[state.LR_MOVED] = False


def config_from_state() -> TrainConfig:
    """The config the controls describe (raises ValueError with a readable message if invalid)."""
    model = state.get(state.MODEL, "softmax")
    d = defaults(model)
    values = {field: state.get(name, d[name]) for name, field in FIELDS}
    values["epochs"] = int(values["epochs"])
    values["batch_size"] = int(values["batch_size"])
    values["seed"] = int(values["seed"])
    return TrainConfig(model=model, **values)


def draw(disabled: bool) -> None:
    """The controls, their values kept in session state across pages."""
    st.radio(
        "Model",
        MODEL_KINDS,
        format_func=MODEL_TITLES.get,
        horizontal=True,
        disabled=disabled,
        help=MODEL_HELP,
        **state.bind(state.MODEL, "softmax", options=MODEL_KINDS, on_change=reset_to_defaults),
    )
    d = defaults(state.get(state.MODEL, "softmax"))
    st.select_slider(
        "Learning rate (log scale)",
        LR_OPTIONS,
        format_func=lambda v: f"{v:g}",
        disabled=disabled,
        help=LR_HELP,
        **state.bind(state.LR, d[state.LR], on_change=_lr_moved),
    )
    c1, c2 = st.columns(2)
    with c1:
        st.slider(
            "Epochs",
            1,
            MAX_EPOCHS,
            disabled=disabled,
            help="Passes over the 60,000 training images.",
            **state.bind(state.EPOCHS, d[state.EPOCHS]),
        )
    with c2:
        st.select_slider(
            "Batch size",
            BATCH_OPTIONS,
            disabled=disabled,
            help="Images per gradient step. Smaller batches: more, noisier steps per epoch.",
            **state.bind(state.BATCH, d[state.BATCH]),
        )
    st.selectbox(
        "Optimizer",
        OPTIMIZERS,
        format_func=OPTIMIZER_TITLES.get,
        disabled=disabled,
        help="SGD: plain steps downhill (the tutorial's). Momentum: steps keep some of their "
        "previous direction. Adam: a step size per weight, adapted as it goes. Each brings its own "
        "learning rate, unless you have moved the slider.",
        **state.bind(state.OPTIMIZER, d[state.OPTIMIZER], options=OPTIMIZERS, on_change=_optimizer_changed),
    )
    c1, c2 = st.columns(2)
    with c1:
        st.select_slider(
            "Weight decay",
            WEIGHT_DECAY_OPTIONS,
            format_func=lambda v: f"{v:g}",
            disabled=disabled,
            help="An L2 penalty pulling weights towards 0; 0 (none) is the tutorial's.",
            **state.bind(state.WEIGHT_DECAY, d[state.WEIGHT_DECAY]),
        )
    with c2:
        st.number_input(
            "Seed",
            min_value=0,
            max_value=MAX_SEED,
            step=1,
            disabled=disabled,
            help="Same seed and settings: the same run, epoch for epoch.",
            **state.bind(state.SEED, d[state.SEED]),
        )
    st.radio(
        "Learning-rate schedule",
        SCHEDULES,
        format_func=SCHEDULE_TITLES.get,
        horizontal=True,
        disabled=disabled,
        help="Cosine lowers the learning rate smoothly to 0 over the epochs: steadier final accuracy. "
        "One-cycle warms it up over the first quarter of the steps, then lowers it to 0: a short run "
        "gets large steps early and settles at the end.",
        **state.bind(state.SCHEDULE, d[state.SCHEDULE], options=SCHEDULES),
    )
    st.radio(
        "Augmentation",
        AUGMENTATIONS,
        format_func=AUGMENTATION_TITLES.get,
        horizontal=True,
        disabled=disabled,
        help="Each batch is randomly mirrored (half the images), and with shifts also moved by up to 2 pixels "
        "and sometimes rescaled by 0.9-1.1; the seed decides how. Off for the tutorial's softmax; mirror for "
        "the CNN (shifts cost it about a point of test accuracy in the same time). A model trained on mirror "
        "images reads both views of an upload, averaged, in the Upload page's mirror step.",
        **state.bind(state.AUGMENT, d[state.AUGMENT], options=AUGMENTATIONS),
    )
    st.caption(
        "Why: every Fashion-MNIST shoe points left; a model that has also seen mirrored ones is not fooled "
        "by a shoe pointing right on your own photo."
    )


def describe_config(c: TrainConfig) -> str:
    return (
        f"{MODEL_TITLES[c.model]} · {OPTIMIZER_TITLES[c.optimizer]} · lr {c.lr:g} · {c.epochs} epochs · "
        f"batch {c.batch_size} · weight decay {c.weight_decay:g} · {c.schedule} schedule · seed {c.seed}"
        + (f" · augmentation {c.augment}" if c.augment != "off" else "")
    )


def settings(busy: bool) -> None:
    """The Train page's left column: the controls, the Train / Stop / Reset buttons and the config in words.

    While a run trains the (locked) controls fold away below the buttons, so that on a phone, where the
    columns stack, the live run (with its Stop button) comes right below the Train button the user just pressed."""
    if not busy:
        draw(disabled=False)
    try:
        config = config_from_state()
    except ValueError as e:
        config = None
        st.error(str(e))
    _buttons(busy, config)
    if config is not None:
        st.caption(describe_config(config))
    if busy:
        with st.expander("Settings (locked while the run trains)"):
            draw(disabled=True)


def _buttons(busy: bool, config: TrainConfig | None) -> None:
    room = busy or state.room_for_a_run()
    b1, b3 = st.columns(2)  # Stop is beside the run's progress (live.py): its click reruns only that panel
    with b1:
        st.button(
            "Train",
            type="primary",
            icon=":material/play_arrow:",
            disabled=busy or config is None or not room,
            on_click=lambda: training.start(config_from_state()),
            key=state.TRAIN_BUTTON,
            width="stretch",
        )
    with b3:
        st.button(
            "Reset",
            icon=":material/restart_alt:",
            disabled=busy,
            on_click=reset_to_defaults,
            key=state.RESET_BUTTON,
            width="stretch",
            help="Every setting back to the chosen model's defaults (the tutorial's for softmax).",
        )
    if not room:
        st.warning(state.NO_ROOM.format(n=state.MAX_RUNS), icon=":material/push_pin:")
