"""Shared fixtures. Unit tests build tiny data themselves; integration tests use the real data."""

from __future__ import annotations

import pytest

from fmnist_lib import FashionMNIST, TrainingRun, default_config, load_fashion_mnist
from tests.support.data import make_tiny_data


@pytest.fixture(scope="session")
def real_data() -> FashionMNIST:
    """The real Fashion-MNIST (make test installs it). Loaded once per test session."""
    return load_fashion_mnist(download=False)


@pytest.fixture(scope="session")
def trained_softmax(real_data) -> TrainingRun:
    """The tutorial's softmax model trained with its settings (about a second)."""
    run = TrainingRun(default_config("softmax"))
    run.fit(real_data)
    return run


@pytest.fixture
def tiny_data() -> FashionMNIST:
    return make_tiny_data()


@pytest.fixture
def session_state(monkeypatch) -> dict:
    """A plain dict in place of st.session_state, for unit tests of lab_ui's helpers (no script run)."""
    import streamlit as st

    ss: dict = {}
    monkeypatch.setattr(st, "session_state", ss)
    return ss


@pytest.fixture(scope="module")
def server(request):
    """The app in a real server for a browser test module (its log: artifacts/<module>-streamlit.log)."""
    from tests.support.server import ARTIFACTS, StreamlitServer

    name = request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_")
    srv = StreamlitServer(log_path=ARTIFACTS / f"{name}-streamlit.log").start()
    try:
        srv.wait_healthy(timeout=90)
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (a dev requirement: missing it is an error, not a skip)."""
    from playwright.sync_api import sync_playwright

    from tests.support.server import launch_chromium

    with sync_playwright() as pw:
        b = launch_chromium(pw)
        try:
            yield b
        finally:
            b.close()
