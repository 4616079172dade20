"""The app in a real server and browser, for the browser tests and the UI benchmark (bench/bench_ui.py).

- StreamlitServer: starts `streamlit run streamlit_app.py` on a free port in its own
  process group, waits for /_stcore/health, and kills the whole group on stop().
- find_chromium / launch_chromium: Debian's Chromium driven by PyPI's Playwright
  (never `playwright install`: browsers cannot be downloaded here).
- wait_idle, goto_page, click_button, upload, screenshot: the few UI actions the tests need,
  each waiting until the Streamlit script has finished running.

The files to upload are made in tests/support/images.py.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
APP = "streamlit_app.py"
ARTIFACTS = REPO / "artifacts"
SCREENSHOTS = ARTIFACTS / "screenshots"

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The whole app is idle (no script run in progress).
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
RUNNING = '[data-testid="stApp"][data-test-script-state="running"]'
UPLOAD_INPUT = '[data-testid="stFileUploaderDropzoneInput"]'
NAV_LINK = '[data-testid="stSidebarNavLink"]'
SUCCESS = '[data-testid="stAlertContentSuccess"]'
ERROR = '[data-testid="stAlertContentError"]'
WARNING = '[data-testid="stAlertContentWarning"]'
EXCEPTION = '[data-testid="stException"]'
CHART = '[data-testid="stVegaLiteChart"]'


# --------------------------------------------------------------------------- the server


def browser_marks(timeout: int = 300) -> list:
    """pytest marks of a browser test module: `browser`, skipped without Chromium, a timeout per test."""
    import pytest

    return [
        pytest.mark.browser,
        pytest.mark.skipif(find_chromium() is None, reason="Chromium not found: run `make chromium`"),
        pytest.mark.timeout(timeout),
    ]


def find_chromium() -> str | None:
    """Debian's Chromium: /usr/bin/chromium, or `chromium` on PATH; None if missing."""
    if os.access("/usr/bin/chromium", os.X_OK):
        return "/usr/bin/chromium"
    return shutil.which("chromium")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGTERM if the test process dies without cleaning up."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


_RUNNING_SERVERS: set[StreamlitServer] = set()


@atexit.register
def _stop_leftovers() -> None:
    for srv in list(_RUNNING_SERVERS):
        srv.stop()


class StreamlitServer:
    """`streamlit run` in a subprocess with its own process group; its output goes to a log file."""

    def __init__(
        self,
        log_path: Path | None = None,
        app: str = APP,
        extra_args: list[str] | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
    ):
        self.env = env or {}
        # E2E_APP_DIR: run another checkout of the app (default: this repository).
        self.cwd = Path(cwd or os.environ.get("E2E_APP_DIR") or REPO)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app = app
        self.extra_args = extra_args or []
        self.log_path = log_path or ARTIFACTS / f"streamlit-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> StreamlitServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            self.app,
            "--server.headless",
            "true",
            "--server.port",
            str(self.port),
            "--server.address",
            "127.0.0.1",
            "--server.fileWatcherType",
            "none",
            "--browser.gatherUsageStats",
            "false",
            *self.extra_args,
        ]
        env = dict(os.environ, PYTHONUNBUFFERED="1", **self.env)
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() kills the whole group
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        _RUNNING_SERVERS.add(self)
        return self

    def wait_healthy(self, timeout: float = 60.0) -> float:
        """Block until /_stcore/health answers "ok"; return the seconds since start()."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - self.started_at
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"streamlit did not answer /_stcore/health within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 60) -> str:
        with contextlib.suppress(OSError):
            self._log.flush()
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def rss_bytes(self) -> int:
        """Resident memory of the server process plus all its children."""
        import psutil

        p = psutil.Process(self.pid)
        total = p.memory_info().rss
        for c in p.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += c.memory_info().rss
        return total

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.proc.pid, sig)
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:
            # The leader is gone; make sure nothing it left in its group survives.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self._log.close()
        self.proc = None
        _RUNNING_SERVERS.discard(self)

    def __enter__(self) -> StreamlitServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --------------------------------------------------------------------------- the browser


def launch_chromium(playwright, executable: str | None = None):
    exe = executable or find_chromium()
    if exe is None:
        raise RuntimeError("Chromium not found (/usr/bin/chromium or `chromium` on PATH)")
    return playwright.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)


def new_context(browser, width: int = 1400, height: int = 1000):
    return browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)


def wait_idle(page, timeout: float = 60.0, started_within: float = 1.0) -> None:
    """Wait until the script run caused by the last action has finished.

    A click reaches the server asynchronously, so the app can still look idle for a moment
    right after it: first give the run up to `started_within` seconds to start, then wait
    for the idle state. Callers should also wait for the text they expect.
    """
    with contextlib.suppress(Exception):
        page.wait_for_selector(RUNNING, state="attached", timeout=started_within * 1000)
    page.wait_for_selector(IDLE, state="attached", timeout=timeout * 1000)


_ARM_WATCH = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    // A run already going (e.g. a fragment's) is interrupted by the next one without the state
    // passing through notRunning: count it as started, so the end of what follows is seen.
    const now = app.getAttribute('data-test-script-state');
    window.__e2eRuns = {started: now === 'running' ? 1 : 0, finished: 0, armed: performance.now()};
    if (window.__e2eObserver) window.__e2eObserver.disconnect();
    window.__e2eObserver = new MutationObserver(() => {
        const s = app.getAttribute('data-test-script-state');
        if (s === 'running') window.__e2eRuns.started += 1;
        else if (s === 'notRunning' && window.__e2eRuns.started > 0) window.__e2eRuns.finished += 1;
    });
    window.__e2eObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""

_RUN_DONE = """(quietMs) => {
    const app = document.querySelector('[data-testid="stApp"]');
    const runs = window.__e2eRuns;
    if (!runs || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    if (document.querySelector('[data-testid="stMain"] [data-stale="true"]')) return false;
    if (runs.finished > 0) return true;
    // React may apply "running" and "notRunning" in one render, so a short run can leave no
    // trace in the attribute: after a quiet spell with no run seen, take the app as idle.
    return runs.started === 0 && performance.now() - runs.armed > quietMs;
}"""


def arm_run_watch(page) -> None:
    """Start recording script-state changes; call right before an action (see wait_run_done)."""
    page.evaluate(_ARM_WATCH)


def wait_run_done(page, timeout: float = 60.0, quiet: float = 2.0) -> None:
    """Wait until the script run caused by the action after arm_run_watch() has finished.

    Done when a run was seen to start and end, or, if none was seen (a short run can leave no
    trace, see _RUN_DONE), when the app has been idle for `quiet` seconds since the action.
    Callers still wait for the content they expect.
    """
    page.wait_for_function(_RUN_DONE, arg=quiet * 1000, timeout=timeout * 1000)


def open_app(page, url: str, timeout: float = 60.0, ready: str | None = '[data-testid="stMain"] h1') -> None:
    """Load the app and wait until the page is drawn: `ready` (the page title) visible, script idle.

    Waiting for the idle flag alone is not enough: it can read "notRunning" before the first
    run of the script has even started.
    """
    page.goto(url, wait_until="domcontentloaded", timeout=timeout * 1000)
    page.wait_for_selector('[data-testid="stApp"]', state="attached", timeout=timeout * 1000)
    if ready:
        page.wait_for_selector(ready, state="visible", timeout=timeout * 1000)
    page.wait_for_selector(IDLE, state="attached", timeout=timeout * 1000)


_TITLE = '[data-testid="stMain"] h1'

_PAGE_SHOWN = """([title, oldHeading]) => {
    const app = document.querySelector('[data-testid="stApp"]');
    const h1 = document.querySelector('[data-testid="stMain"] h1');
    const link = [...document.querySelectorAll('[data-testid="stSidebarNavLink"]')]
        .find(a => a.innerText.includes(title));
    return !!h1 && h1.innerText !== oldHeading
        && !!link && link.getAttribute('aria-current') === 'page'
        && app.getAttribute('data-test-script-state') === 'notRunning'
        && !document.querySelector('[data-testid="stMain"] [data-stale="true"]');
}"""


def goto_page(page, title: str, timeout: float = 60.0) -> None:
    """Go to a page through the sidebar navigation (keeps the session, unlike a new URL).

    Returns once the new page is drawn: its link is current, the main title has changed (every
    page has its own), the script is idle and nothing on the page is stale.
    """
    link = page.locator(NAV_LINK).filter(has_text=title).first
    expand = page.locator('[data-testid="stExpandSidebarButton"]')
    collapsed = expand.count() > 0 and expand.first.is_visible()  # a phone: the sidebar starts collapsed
    if collapsed:
        expand.first.click(timeout=timeout * 1000)
    link.wait_for(state="visible", timeout=timeout * 1000)
    if link.get_attribute("aria-current") == "page":
        page.wait_for_selector(IDLE, state="attached", timeout=timeout * 1000)
    else:
        heading = page.locator(_TITLE).first
        old = heading.inner_text(timeout=timeout * 1000) if heading.count() else ""
        link.click(timeout=timeout * 1000)
        page.wait_for_function(_PAGE_SHOWN, arg=[title, old], timeout=timeout * 1000)
    if collapsed:  # on a phone the open sidebar covers the page: close it again
        close = page.locator('[data-testid="stSidebarCollapseButton"] button')
        if close.count() and close.first.is_visible():
            close.first.click(timeout=timeout * 1000)
        expand.first.wait_for(state="visible", timeout=timeout * 1000)


def set_epochs(page, key: str) -> str:
    """Move the Train page's Epochs slider with the keyboard ("Home": 1, "End": the maximum); its value."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Epochs").locator('input[type="range"]')
    slider.focus()
    page.keyboard.press(key)
    wait_idle(page)
    return slider.get_attribute("aria-valuetext") or slider.input_value()


def choose_model(page, title: str) -> None:
    """Pick a model on the Train page's Model radio ("Softmax regression", "Small CNN")."""
    page.locator('[data-testid="stRadio"]').filter(has_text="Model").get_by_text(title, exact=True).click()
    wait_idle(page)


def choose_option(page, box: str, title: str, attempts: int = 3) -> None:
    """Pick `title` in the selectbox labelled `box`, and check the box shows it.

    The list is a popover that closes when the page scrolls, so a click that first scrolls the box into
    view could open it and have it closed at once (the Adam pick used to time out there): scroll first,
    let it settle, click the text field, and open the list with the keyboard if it is still closed.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    field = page.locator('[data-testid="stSelectbox"]').filter(has_text=box).locator('input[role="combobox"]')
    option = page.get_by_role("option").filter(has_text=re.compile(rf"^{re.escape(title)}$"))
    for _ in range(attempts):
        wait_idle(page)
        field.scroll_into_view_if_needed()
        page.wait_for_timeout(300)
        field.click()
        if field.get_attribute("aria-expanded") != "true":
            page.keyboard.press("ArrowDown")
        try:
            option.first.click(timeout=10_000)
        except PlaywrightTimeoutError:
            page.keyboard.press("Escape")
            continue
        wait_idle(page)
        if field.input_value() == title:
            return
    raise RuntimeError(f"could not pick {title!r} in the {box} box (it shows {field.input_value()!r})")


def click_button(page, label: str, timeout: float = 60.0, exact: bool = True) -> None:
    page.get_by_role("button", name=label, exact=exact).first.click(timeout=timeout * 1000)


def upload(page, name: str, data: bytes, mime: str, index: int = 0, timeout: float = 60.0, wait: bool = True) -> None:
    """Hand a file to the page's uploader; with `wait`, return once the run it caused has finished."""
    if wait:
        arm_run_watch(page)
    page.locator(UPLOAD_INPUT).nth(index).set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}],
    )
    if wait:
        wait_run_done(page, timeout=timeout)


def clear_upload(page, index: int = 0, timeout: float = 60.0) -> None:
    """Remove the file shown in an uploader (its x button), if any; wait for the run it causes."""
    delete = page.locator('[data-testid="stFileChipDeleteBtn"]').nth(index)
    if not delete.count():
        return
    button = delete.locator("button")
    arm_run_watch(page)
    (button.first if button.count() else delete).click(timeout=timeout * 1000)
    wait_run_done(page, timeout=timeout)


def exceptions_on_page(page) -> list[str]:
    """Text of any uncaught-exception boxes Streamlit shows (the app crashed)."""
    return [t.strip() for t in page.locator(EXCEPTION).all_inner_texts()]


def screenshot(page, path: Path, width: int | None = None) -> Path:
    """A full-page screenshot of a Streamlit app.

    Streamlit scrolls inside its own main container, so Playwright's full_page alone only
    captures the viewport; grow the viewport to the content's height first, then restore it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    vp = page.viewport_size or {"width": 1400, "height": 1000}
    w = width or vp["width"]
    if w != vp["width"]:
        page.set_viewport_size({"width": w, "height": vp["height"]})
        page.wait_for_timeout(300)
    height = page.evaluate(
        """() => {
            const sels = ['[data-testid="stMain"]', '[data-testid="stMainBlockContainer"]',
                          '[data-testid="stAppViewContainer"]', '[data-testid="stSidebarContent"]'];
            let h = document.documentElement.scrollHeight;
            for (const s of sels) {
                const el = document.querySelector(s);
                if (el) h = Math.max(h, el.scrollHeight);
            }
            return h;
        }"""
    )
    height = int(min(max(height, vp["height"]), 12000))
    page.set_viewport_size({"width": w, "height": height})
    page.wait_for_timeout(400)  # let charts re-lay out at the new size
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(vp)
    return path
