"""Fashion-MNIST softmax lab: the entry point (`streamlit run streamlit_app.py`).

st.navigation over the five pages in pages/; the sidebar's active-model picker is drawn
here so it is on every page. Leaving the Train page pauses a run in progress.

This file is read two ways:

* `streamlit run` first reads it without running it, finds the `st.App` at the bottom and
  serves the app through it: the server imports this file once as a module, and the App's
  lifespan starts loading the data set and training the default model as soon as the
  server starts (lab_ui/warmup.py), while the first browser is still loading the page;
* for every page run, Streamlit executes it as ``__main__``: `main()` below.
"""

import streamlit as st


def main() -> None:
    from lab_ui import layout, state

    st.set_page_config(page_title="Fashion-MNIST softmax lab", page_icon=":material/checkroom:", layout="wide")
    pages = {
        "home": st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        "train": st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        "browse": st.Page("pages/browse.py", title="Browse predictions", icon=":material/grid_view:"),
        "upload": st.Page("pages/upload.py", title="Upload a photo", icon=":material/photo_camera:"),
        "softmax": st.Page("pages/softmax.py", title="Inside softmax", icon=":material/functions:"),
    }
    page = st.navigation(list(pages.values()))
    if page.url_path != pages["train"].url_path and state.job() is not None:
        # Imported here, not above: it brings the charts (Altair, pandas: ~0.6 s of imports),
        # which Home does not need, so a cold server draws Home sooner.
        from lab_ui import training

        training.pause_if_running("you left the Train page")
    layout.sidebar()
    page.run()


if __name__ == "__main__":
    main()
else:
    from lab_ui import warmup

    app = st.App(__file__, lifespan=warmup.lifespan)
