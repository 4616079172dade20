"""Browse's image cards: a test image with the model's verdict, in a grid that wraps to the screen's width."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import streamlit as st

from fmnist_lib.analysis import TestPredictions
from lab_ui import pictures
from lab_ui.text import plain

# A card's width in px. The grid is a wrapping row (st.columns would stack one card per row on a
# phone): 8 cards fit a 1400 px desktop's main area (8·100 + 7·16 px gaps = 912 of its ~940 px)
# and 3 fit a 390 px phone's (3·100 + 2·16 = 332 of ~358 px).
CARD_WIDTH = 100


def verdict(pred: int, true: int, confidence: float, classes: Sequence[str]) -> str:
    """The card's Markdown under the image: ✅/❌, the predicted class in bold, the confidence."""
    mark = ":green[:material/check_circle: right]" if pred == true else ":red[:material/cancel: **wrong**]"
    return f"{mark}  \n**{plain(classes[pred])}**  \n{confidence:.0%}"


def grid(images: np.ndarray, preds: TestPredictions, classes: Sequence[str], indices) -> None:
    """One card per test image in `indices`: the image, its verdict and, in a caption, the true class."""
    if len(indices) == 0:
        st.info("No images to show here.")
        return
    with st.container(horizontal=True, gap="small"):
        for i in map(int, indices):
            p, t = int(preds.pred[i]), int(preds.labels[i])
            # height="stretch": the cards of a row as tall as the tallest (a class name may wrap)
            with st.container(border=True, width=CARD_WIDTH, height="stretch"):
                st.image(pictures.upscale(images[i], 4), width="stretch")
                st.markdown(verdict(p, t, float(preds.confidence[i]), classes))
                st.caption(f"true: {plain(classes[t])}")
