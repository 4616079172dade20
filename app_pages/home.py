"""Home: what softmax regression is, what each page does, the data and the active model."""

import streamlit as st

from fmnist_lib import CLASSES
from lab_ui import layout, resources, share
from lab_ui.text import plain

st.title(":material/checkroom: Fashion-MNIST softmax lab — Home")
share.notes("")

data = resources.dataset()

st.markdown(
    """
**Softmax regression** is the simplest classifier for images: it gives each of the 10 classes
a *template* — one weight per pixel — and scores an image by how well it matches each template
(a weighted sum of its 784 pixels plus a bias: the **logits**). The *softmax* function turns
the 10 scores into probabilities that add up to 100%. Training nudges the weights, batch by
batch, so that the right class gets a higher probability (it lowers the *cross-entropy loss*).

Everything here trains live on this computer's CPU, in seconds.
"""
)

st.subheader("What each page does")
PAGES = [  # (page, link label, icon, what it does)
    (
        "app_pages/lesson.py",
        "**Lesson**: start here",
        ":material/school:",
        "The tutorial as a path through the lab, step by step, with exercises the lab checks from what you "
        "do: make training diverge, compare learning rates, break the naive softmax, beat the linear model.",
    ),
    (
        "app_pages/train.py",
        "**Train** a model",
        ":material/model_training:",
        "Pick the model (softmax regression or a small CNN), learning rate, epochs, batch size and "
        "optimizer; watch the loss and accuracy curves and the class templates as it learns; "
        "compare runs, download or load checkpoints.",
    ),
    (
        "app_pages/browse.py",
        "**Browse** predictions",
        ":material/grid_view:",
        "Random test images with the model's guess and confidence; its mistakes; the confusion "
        "matrix and per-class accuracy — click a cell to see those images.",
    ),
    (
        "app_pages/upload.py",
        "**Upload** a photo",
        ":material/photo_camera:",
        "Your own photo (or the camera), turned step by step into a 28×28 Fashion-MNIST-style "
        "image, with the Top-3 classes and, for softmax, which pixels pushed the model to each.",
    ),
    (
        "app_pages/softmax.py",
        "**Inside softmax**",
        ":material/functions:",
        "One image followed through the model with the real numbers: logits, softmax, the loss computed "
        "three ways, why it is stable (log-sum-exp), the gradient p − onehot(y) and one SGD step.",
    ),
]
for column, (path, label, icon, what) in zip(st.columns(len(PAGES)), PAGES, strict=True):
    with column:
        st.page_link(path, label=label, icon=icon)
        st.caption(what)

st.subheader("The data")
st.markdown(
    f"Fashion-MNIST: 28×28 greyscale photos of clothing in 10 classes "
    f"({', '.join(CLASSES)}). **{len(data.train_labels):,} training** and "
    f"**{len(data.test_labels):,} test** images, read from `{data.source}`."
)
for note in data.notes:  # a data folder named in FMNIST_DATA that was not used, say
    st.warning(plain(note), icon=":material/folder_off:")

st.subheader("The active model")
layout.active_model_line()
st.caption(
    "Until you train your own, a default softmax regression model is used: the tutorial's settings "
    "(10 epochs of SGD, learning rate 0.1, batches of 256). It takes a second or two to train, once: "
    "`make data` (or else the app's first start) saves it in `data/models`, and each start loads it."
)
