"""Fashion-MNIST softmax lab: the entry point (`streamlit run streamlit_app.py`).

`main()` runs lab_ui.layout.run_app: st.navigation over the five pages in app_pages/, and the sidebar's
active-model picker, so it is on every page. Leaving the Train page pauses a run in progress.

This file is read two ways:

* `streamlit run` first reads it without running it, finds the `st.App` at the bottom and
  serves the app through it: the server imports this file once as a module, and the App's
  lifespan starts loading the data set and training the default model as soon as the
  server starts (lab_ui/warmup.py), while the first browser is still loading the page;
  Its middleware (lab_ui/session_cookie.py) gives each browser an HttpOnly session-key cookie, by
  which a reload finds the session's runs again (lab_ui/persist.py, docs/sessions.md);
* for every page run, Streamlit executes it as ``__main__``: `main()` below.
"""

import streamlit as st


def main() -> None:
    from lab_ui import layout

    layout.run_app()


if __name__ == "__main__":
    main()
else:
    from starlette.middleware import Middleware

    from lab_ui import session_cookie, warmup

    app = st.App(__file__, lifespan=warmup.lifespan, middleware=[Middleware(session_cookie.SessionCookie)])
