"""lab_ui/warmup.py: the data set and the default model are made ready when the server starts."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from fmnist_lib import DataError
from lab_ui import resources, warmup
from tests.support.server import ARTIFACTS, REPO, StreamlitServer
from tests.support.streamlit_internals import discover_asgi_app


def test_streamlit_run_finds_the_app_with_the_warm_up():
    """`streamlit run streamlit_app.py` serves through the st.App (and so its lifespan) only if it finds it."""
    found = discover_asgi_app(Path(REPO / "streamlit_app.py"))
    assert found.is_asgi_app and found.import_string == "streamlit_app:app"


def test_a_failed_warm_up_is_logged_not_raised(monkeypatch, caplog):
    def no_data() -> None:
        raise DataError("Fashion-MNIST was not found.\nLooked in: ./data")

    monkeypatch.setattr(resources, "warm_up", no_data)
    logger = logging.getLogger(warmup.__name__)
    monkeypatch.setattr(logger, "propagate", True)  # Streamlit's loggers do not propagate to caplog's handler
    with caplog.at_level(logging.INFO, logger=warmup.__name__):
        thread = warmup.start()
        thread.join(timeout=60)
    assert not thread.is_alive() and thread.name == warmup.THREAD_NAME
    assert "Warm-up stopped" in caplog.text and "Fashion-MNIST was not found." in caplog.text
    assert warmup.DONE_MESSAGE not in caplog.text


def _wait_for_warm_up(srv: StreamlitServer, log: Path) -> str:
    srv.wait_healthy(timeout=120)
    deadline = time.monotonic() + 120
    while warmup.DONE_MESSAGE not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"no warm-up within 120 s:\n{srv.log_tail()}"
        time.sleep(0.2)
    return log.read_text(errors="replace")


@pytest.mark.integration
def test_server_trains_the_default_model_before_any_visitor_and_the_next_start_loads_it(tmp_path):
    """Started and left alone (no browser), the server loads the data and trains the default model,
    and saves it: the next server start loads it instead of training it again."""
    env = {"FMNIST_MODEL_CACHE": str(tmp_path / "models")}
    texts = []
    for start in ("first", "second"):
        log = ARTIFACTS / f"warmup-{start}-streamlit.log"
        with StreamlitServer(log_path=log, env=env) as srv:
            texts.append(_wait_for_warm_up(srv, log))
    first, second = texts
    assert "default model trained now and saved as softmax-" in first
    assert "default model loaded from softmax-" in second
    assert len(list((tmp_path / "models").glob("softmax-*.pt"))) == 1
    for text in texts:
        assert "missing ScriptRunContext" not in text  # the warm-up thread's expected warning is filtered out
        assert "Traceback" not in text
        assert "test accuracy 8" in text  # 80-89%
