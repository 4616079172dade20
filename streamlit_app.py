"""Fashion-MNIST softmax lab: the entry point (`streamlit run streamlit_app.py`).

`main()` runs lab_ui.layout.run_app: st.navigation over the five pages in app_pages/, and the sidebar's
active-model picker, so it is on every page. Leaving the Train page pauses a run in progress.

This file is read two ways:

* `streamlit run` first reads it without running it, finds the `st.App` at the bottom and
  serves the app through it: the server imports this file once as a module, and the App's
  lifespan starts loading the data set and training the default model as soon as the
  server starts (lab_ui/warmup.py), while the first browser is still loading the page;
* for every page run, Streamlit executes it as ``__main__``: `main()` below.
"""

import streamlit as st


def main() -> None:
    from lab_ui import layout

    layout.run_app()


if __name__ == "__main__":
    main()
else:
    from lab_ui import warmup

    app = st.App(__file__, lifespan=warmup.lifespan)
