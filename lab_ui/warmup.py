"""Work done once when the server starts, before the first visitor's page asks for it.

`streamlit run streamlit_app.py` serves the app through the `st.App` defined in
streamlit_app.py, whose lifespan calls `lifespan` below when the server starts. It starts one
background thread that imports torch, loads the data set, starts the training workers and
trains (or loads from data/models) the shared default model (resources.warm_up): seconds of
work that a cold server would otherwise start only when the first browser has loaded the page.
The thread only fills resources' plain holders (no Streamlit calls): the first page run finds
them ready, or waits for the one being made.

A failure here (the data set not found, say) is only logged: the first page run meets the
same error and shows it to the user with what to do.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from contextlib import asynccontextmanager

THREAD_NAME = "fmnist-warm-up"
DONE_MESSAGE = "Warm-up done"  # logged (with the seconds taken) when the data and default model are ready

# The server's log (stderr) at INFO, in Streamlit's own line format, with the standard logging module alone:
# Streamlit's loggers are configured through its internal streamlit.logger, which the app does not import.
_LOGGER = logging.getLogger(__name__)
if not _LOGGER.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    _LOGGER.addHandler(_handler)
    _LOGGER.setLevel(logging.INFO)
    _LOGGER.propagate = False  # as Streamlit's own loggers: one line per message, whatever the root logger does


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
    thread = threading.Thread(target=_warm_up, name=THREAD_NAME, daemon=True)
    thread.start()
    return thread


@asynccontextmanager
async def lifespan(app):
    """st.App lifespan: start the warm-up when the server starts; stop the training workers at its end."""
    start()
    yield
    resources = sys.modules.get("lab_ui.resources")  # not imported: no workers to stop
    if resources is not None:
        resources.close()
