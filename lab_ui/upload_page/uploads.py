"""Uploaded photos: the last photo kept for the session, preprocessed once per upload (both pipelines)
into small thumbnails; and the caveat beside the Top-3 when the input looks like nothing in
Fashion-MNIST (fmnist_lib.novelty).

A 12-megapixel photo is decoded by fmnist_lib.images.preprocess; what the page draws are thumbnails
(<= THUMB px), so reruns (the temperature slider, ...) cost nothing. The session keeps one file: the
last photo's bytes (`Photo`, at most the upload limit), because Streamlit's uploader and camera forget
their file when the Upload page is not drawn; Upload shows it again, and persist.py stores it.
"""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st
from PIL import Image

from fmnist_lib.images.decode import ImageError, preview_image
from fmnist_lib.images.preprocess import preprocess_image
from fmnist_lib.inference import Classifier, MirroredPrediction
from fmnist_lib.novelty import Novelty, NoveltyCheck, judge
from lab_ui import charts, state
from lab_ui.state import Photo, Processed, UploadResult
from lab_ui.text import plain

THUMB = 320
PHOTO_TYPES = ["png", "jpg", "jpeg", "webp", "gif", "bmp"]  # the uploader's; decode sniffs the real format
PIPELINES = ("ours", "tutorial")
STEPS_PER_ROW = 4  # ~260 px a step on a wide desktop page: "Autocontrast" and "transparency" fit unbroken
FRAME_PX, FRAME_GREY = 2, 170  # a white "Background" step stays visible on a white page


def keep_photo(file) -> None:
    """The widget's file becomes the session's photo; None (the learner removed it) forgets the photo."""
    if file is None:
        forget_photo()
        return
    kept = st.session_state.get(state.UPLOAD_PHOTO)
    if kept is None or kept.file_id != file.file_id:
        st.session_state[state.UPLOAD_PHOTO] = Photo(file.name or "photo", file.getvalue(), file.file_id)


def forget_photo() -> None:
    """No photo any more: Upload asks for one, and Inside softmax's "your photo" has none."""
    for name in (state.UPLOAD_PHOTO, state.UPLOAD_MEMO):
        st.session_state.pop(name, None)


def _widget_changed(widget_key: str) -> None:
    keep_photo(st.session_state.get(widget_key))


def photo_input(camera: bool) -> Photo | None:
    """The uploader (or the camera) and the session's last photo.

    A new file replaces the photo and removing it (the widget's x) forgets it. While the widget is empty
    because it was just drawn again (another page in between, a reload) the kept photo is used, named,
    with a button that forgets it: Streamlit calls no on_change then, only when the learner acts."""
    if camera:
        file = st.camera_input(
            "Take a photo of a garment", key=state.CAMERA, on_change=_widget_changed, args=(state.CAMERA,)
        )
    else:
        file = st.file_uploader(
            "Your photo (PNG, JPEG, WebP, GIF or BMP)",
            type=PHOTO_TYPES,
            key=state.IMAGE_UPLOAD,
            on_change=_widget_changed,
            args=(state.IMAGE_UPLOAD,),
        )
    if file is not None:
        keep_photo(file)  # a no-op when its callback kept it already
        return st.session_state[state.UPLOAD_PHOTO]
    kept = st.session_state.get(state.UPLOAD_PHOTO)
    if kept is not None:
        left, right = st.columns([3, 1], vertical_alignment="center")
        with left:
            st.markdown(f"Your last photo: **{plain(kept.name)}**")
            st.caption("Upload another (or take one) to replace it.")
        with right:
            st.button("Forget it", icon=":material/delete:", key=state.FORGET_PHOTO_BUTTON, on_click=forget_photo)
    return kept


def thumbnail(img: Image.Image, size: int = THUMB) -> Image.Image:
    w, h = img.size
    scale = size / max(w, h)
    if scale >= 1:
        return img.copy()
    return img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BILINEAR, reducing_gap=3.0)


def on_checkerboard(img: Image.Image, square: int = 8) -> Image.Image:
    """An RGBA image over a light grey-and-white checkerboard, as image viewers show transparency
    (dropping the alpha instead would show whatever colour is stored under it, often black)."""
    w, h = img.size
    yy, xx = np.mgrid[0:h, 0:w]
    board = np.where(((yy // square) + (xx // square)) % 2 == 0, 255, 214).astype(np.uint8)  # [h, w]
    under = Image.fromarray(np.dstack([board, board, board, np.full_like(board, 255)]), "RGBA")
    return Image.alpha_composite(under, img.convert("RGBA")).convert("RGB")


def _original_thumbnail(data: bytes) -> Image.Image | None:
    """The upload as the user sees it, small, decoded within the same bounds as the pipelines (a JPEG
    reduced while it is decoded, anything else reduced before any copy); transparent parts on a checkerboard."""
    try:
        img = preview_image(data, THUMB)
    except ImageError:  # only a preview: the pipelines report the problem
        return None
    if img.mode in ("RGBA", "LA"):
        return on_checkerboard(img)
    return img if img.mode in ("RGB", "L") else img.convert("RGB")


def process(data: bytes, fill: bool = True) -> UploadResult:
    """Both pipelines on the bytes (memoised per session for the last upload); fill: fill an outline drawing."""
    digest = hashlib.sha256(data).hexdigest() + ("" if fill else ".hollow")
    memo = st.session_state.get(state.UPLOAD_MEMO)
    if memo is not None and memo.digest == digest:
        return memo
    result = UploadResult(digest)
    try:
        for name in PIPELINES:
            pre = preprocess_image(data, pipeline=name, fill_outlines=fill)
            result.pipelines[name] = Processed(
                pixels=np.asarray(pre.pixels, dtype=np.uint8),
                stages=[(s.name, thumbnail(s.image), s.caption) for s in pre.stages],
            )
        result.original = _original_thumbnail(data)
    except ImageError as e:
        result = UploadResult(digest, error=str(e))
    except Exception as e:  # a bug or an image no pipeline step expected: say so, keep the page working
        result = UploadResult(digest, error=f"This image could not be processed ({type(e).__name__}: {e}).")
    st.session_state[state.UPLOAD_MEMO] = result
    return result


def in_rows(items: list, per_row: int = STEPS_PER_ROW) -> list[list]:
    """items in rows of at most per_row, in order."""
    return [items[i : i + per_row] for i in range(0, len(items), per_row)]


def framed(img: Image.Image, px: int = FRAME_PX, grey: int = FRAME_GREY) -> np.ndarray:
    """The image as an array ([h, w] or [h, w, 3] uint8) with a px-wide grey border drawn over its edge."""
    a = np.array(img.convert("RGB") if img.mode not in ("L", "RGB") else img, dtype=np.uint8)
    px = min(px, (min(a.shape[:2]) + 1) // 2)
    a[:px], a[-px:], a[:, :px], a[:, -px:] = grey, grey, grey, grey
    return a


def draw_steps(steps: list[tuple[str, Image.Image | None, str]]) -> None:
    """Pipeline steps (name, thumbnail, caption) in rows of STEPS_PER_ROW equal columns, each image framed."""
    for row in in_rows(steps):
        for col, (name, img, caption) in zip(st.columns(STEPS_PER_ROW), row, strict=False):
            with col:
                if img is not None:
                    st.image(framed(img), width="stretch")
                st.markdown(f"**{name}**")
                if caption:
                    st.caption(caption)


def reading(step: MirroredPrediction, mirror_on: bool) -> str:
    """What every section of Upload reads of the first image: "own" (the image as it is), "mirror" (its
    mirror image alone) or "both" (both views, their probabilities averaged). Off: always "own"."""
    weight = float(step.own_weight[0])
    if not mirror_on or weight == 1.0:
        return "own"
    return "mirror" if weight == 0.0 else "both"


def mirror_view(step: MirroredPrediction, mirror_on: bool = True) -> str:
    """Which view the mirror step used for the first image, and why (its heavier side). Off: the image as it
    is, and nothing that says a mirror image is read."""
    weight, offset = float(step.own_weight[0]), float(step.offset[0])
    side = f"its centre of mass is {abs(offset):.1f} px {'right' if offset > 0 else 'left'} of its middle"
    if not mirror_on:
        return f"The mirror step is off: the model reads your image as it is ({side})."
    if step.saw_mirrors:
        return (
            "This model was trained on mirror images too, so no way of facing is new to it: it averages both "
            f"views ({side})."
        )
    if weight == 0.0:
        return (
            f"It faces right ({side}), unlike every Fashion-MNIST shoe, whose heavier heel is on the right: "
            "the model reads its mirror image."
        )
    if weight == 1.0:
        return f"It already faces Fashion-MNIST's way ({side}, like a shoe pointing left): the model reads it as it is."
    return f"It is balanced left to right ({side}), like a top or a bag: the model averages both views."


def mirror_effect(step: MirroredPrediction, mirror_on: bool, softmax: bool = True, whole_page: bool = True) -> str:
    """One line under the Top-3: which view the mirror step used, what each view says, and what changed;
    with the step on and the whole page drawn, the one place that says every section reads the same view(s)."""
    own, mirrored, combined = (p.top(0)[0] for p in (step.own, step.mirrored, step.combined))

    def say(t: dict) -> str:
        return f"{plain(t['label'])} ({t['prob']:.0%})"

    views = f"Your image alone: {say(own)}; its mirror image: {say(mirrored)}; mirror-aware: {say(combined)}."
    line = f"{mirror_view(step, mirror_on)} {views}"
    if own["index"] == combined["index"]:
        line += " The mirror step does not change the answer here."
    elif mirror_on:
        line += f" The mirror step changed the answer: alone, the model would have said {plain(own['label'])}."
    else:
        line += f" Mirror-aware, the answer would be {plain(combined['label'])}."
    if mirror_on and whole_page:
        sections = (
            "the Top-3, the evidence, the temperature demo and the tutorial's comparison"
            if softmax
            else "the Top-3 and the tutorial's comparison"
        )
        line += f" {SAME_READING}: {sections} (its own 28×28, by the same rule)."
    return line


SAME_READING = "Every section of this page reads it this way"  # said once, under the Top-3


def caveat(n: Novelty) -> str:
    """The warning beside the Top-3 of an input the check flags: what is odd about it, in plain words."""
    why = []
    if n.far_pixels:
        why.append(
            f"its pixels lie farther from the training images than all but {1 - n.distance_quantile:.1%} of them do"
        )
    if n.weak_evidence:
        why.append(
            f"no class's evidence for it is as strong as for all but {1 - n.energy_quantile:.1%} of the training images"
        )
    return (
        f"This doesn't look like anything in Fashion-MNIST: {' and '.join(why)}. The Top-3 is still the "
        "model's best guess among its 10 classes, but it has never seen anything like this, so read it as a guess."
    )


def caveat_figures(n: Novelty) -> str:
    """The caption under the warning: each score against its threshold, and where the thresholds come from."""
    return (
        f"Pixel distance to the training images {n.distance:.2f} (flagged above {n.distance_threshold:.2f}; a "
        f"typical training image about 1); energy −logsumexp(logits) {n.energy:.2f} (flagged above "
        f"{n.energy_threshold:.2f}). {_above(n)}; how often garments and non-garments are: "
        "bench/results/not_garment.md."
    )


def _above(n: Novelty) -> str:
    d, e = f"{1 - n.distance_quantile:.1%}", f"{1 - n.energy_quantile:.1%}"
    if d == e:
        return f"Only {d} of the training images are above either threshold"
    return f"Only {d} of the training images are above the distance's threshold, {e} above the energy's"


def novelty_caveat(check: NoveltyCheck, clf: Classifier, pixels: np.ndarray) -> None:
    """Under the Top-3: a warning when the 28×28 input looks like nothing in Fashion-MNIST (fmnist_lib.novelty)."""
    n = judge(check, clf, pixels)[0]
    if n.flagged:
        st.warning(caveat(n), icon=":material/help:")
        st.caption(caveat_figures(n))


def top3_block(
    step: MirroredPrediction,
    mirror: bool,
    check: NoveltyCheck,
    clf: Classifier,
    pixels: np.ndarray,
    *,
    chart: bool = True,
    softmax: bool = True,
    whole_page: bool = True,
) -> None:
    """What the model says of the 28×28 `pixels`: the Top-3 of the view the mirror step read, the prediction,
    the not-a-garment caveat and the mirror line. chart=False draws the Top-3 as plain bars: the canvas's
    quick read redraws it on every stroke, and a Vega chart cost ~0.5 s of that wait on a loaded machine
    (bench/results/canvas.md)."""
    top = (step.combined if mirror else step.own).top(0)
    title = "Top-3 classes (mirror-aware)" if mirror else "Top-3 classes"
    if chart:
        st.altair_chart(charts.bar_chart([t["label"] for t in top], [t["prob"] for t in top], title), width="stretch")
    else:
        st.markdown(f"**{title}**")
        for t in top:
            st.progress(min(max(float(t["prob"]), 0.0), 1.0), text=f"{plain(t['label'])} {t['prob']:.1%}")
    st.success(f"Predicted: **{plain(top[0]['label'])}** ({top[0]['prob']:.1%})")
    novelty_caveat(check, clf, pixels)  # a test pattern, a face, a blank page, a scribble
    st.caption(mirror_effect(step, mirror, softmax=softmax, whole_page=whole_page))
