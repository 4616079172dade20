"""Work done once when the server starts, before the first visitor's page asks for it.

`streamlit run streamlit_app.py` serves the app through the `st.App` defined in
streamlit_app.py, whose lifespan calls `lifespan` below when the server starts. It
starts one background thread that imports torch, loads the data set and trains (or loads
from data/models) the shared default model (resources.warm_up): 2-4 s of work that a cold server would
otherwise start only when the first browser has loaded the page and run the script.
The first page run then finds them ready in st.cache_resource, or waits for the thread
to finish them (st.cache_resource computes a value once; other callers wait for it).

A failure here (the data set not found, say) is only logged: the first page run meets
the same error and shows it to the user with what to do.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import asynccontextmanager

from streamlit.logger import get_logger

THREAD_NAME = "fmnist-warm-up"
DONE_MESSAGE = "Warm-up done"  # logged (with the seconds taken) when the data and default model are ready

_LOGGER = get_logger(__name__)


class _NoContextWarning(logging.Filter):
    """Drop Streamlit's "missing ScriptRunContext" warning for the warm-up thread: it runs outside any
    page run on purpose (the cached functions it calls would show a spinner in a page)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.threadName != THREAD_NAME


_FILTER = _NoContextWarning()  # one instance: addFilter ignores a filter already added


def _warm_up() -> None:
    start = time.perf_counter()
    try:
        from lab_ui import resources  # imports torch: the first and slowest part

        how = resources.warm_up()
    except Exception as e:  # the first page run reports it, with what to do
        _LOGGER.warning("Warm-up stopped, the first page will say why: %s", str(e).splitlines()[0] if str(e) else e)
        return
    _LOGGER.info("%s in %.1f s: data set loaded, %s", DONE_MESSAGE, time.perf_counter() - start, how)


def start() -> threading.Thread:
    """Start the warm-up in a daemon thread (it never delays the server's start or shutdown)."""
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_FILTER)
    thread = threading.Thread(target=_warm_up, name=THREAD_NAME, daemon=True)
    thread.start()
    return thread


@asynccontextmanager
async def lifespan(app):
    """st.App lifespan: start the warm-up when the server starts."""
    start()
    yield
