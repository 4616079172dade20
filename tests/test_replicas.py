"""The multi-replica deployment: deploy/nginx_conf.py, deploy/run_replicas.py, deploy/k8s/.

- Without nginx: the committed nginx file is the renderer's output, its upload cap follows
  .streamlit/config.toml, each replica has its route, and the Kubernetes manifests parse and agree.
- With Debian's nginx (`make nginx`; skipped with that reason when missing): nginx accepts the
  configs; `python -m deploy.run_replicas` starts 2 replicas bound to 127.0.0.1 with one shared
  cookie secret and stops them all on SIGTERM.
- Browser (also needs Chromium): 4 browser sessions through nginx are spread over both replicas,
  every request of a session reaches its own replica, and each session trains, browses and uploads.

Run alone: .venv/bin/python -m pytest tests/test_replicas.py
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deploy import nginx_conf
from deploy.run_replicas import Deployment, find_nginx, free_ports
from tests.support.images import garment_photo
from tests.support.server import (
    ARTIFACTS,
    ERROR,
    SCREENSHOTS,
    SUCCESS,
    click_button,
    exceptions_on_page,
    find_chromium,
    goto_page,
    launch_chromium,
    new_context,
    open_app,
    screenshot,
    upload,
    wait_idle,
)

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "k8s"
needs_nginx = pytest.mark.skipif(find_nginx() is None, reason="nginx not found: run `make nginx` (Debian's nginx)")


# --------------------------------------------------------------------------- configuration, no nginx needed


def test_committed_nginx_file_is_the_renderers_output():
    """deploy/nginx/fmnist-lab.conf is `python -m deploy.nginx_conf`: regenerate it after a change."""
    committed = (REPO / "deploy" / "nginx" / "fmnist-lab.conf").read_text()
    assert committed == nginx_conf.render_site(nginx_conf.DEFAULT_PORTS, "80")


def test_upload_cap_follows_streamlit_config(tmp_path):
    assert nginx_conf.max_upload_mb() == 20  # .streamlit/config.toml's server.maxUploadSize
    cfg = tmp_path / "config.toml"
    cfg.write_text("[browser]\nmaxUploadSize = 5\n[server]\nheadless = true\nmaxUploadSize = 7  # MB\n")
    assert nginx_conf.max_upload_mb(cfg) == 7
    assert "client_max_body_size 7m;" in nginx_conf.render_site([8501], upload_mb=7)
    assert "client_max_body_size 20m;" in nginx_conf.render_site([8501])


def test_each_replica_has_its_route_cookie_and_backups():
    site = nginx_conf.render_site([9001, 9002, 9003], "127.0.0.1:9000")
    for i, port in enumerate((9001, 9002, 9003)):
        assert f"    r{i} fmnist_r{i};" in site
        assert f'"fmnist_replica=r{i}; Path=/; HttpOnly; SameSite=Lax"' in site
        block = re.search(rf"upstream fmnist_r{i} {{\n(.*?)\n}}", site, re.S).group(1).splitlines()
        # Its own replica first; the two others only as backups.
        assert block[0].strip().startswith(f"server 127.0.0.1:{port} ")
        assert [line.strip().endswith("backup;") for line in block] == [False, True, True]
    assert "listen 127.0.0.1:9000;" in site
    with pytest.raises(ValueError):
        nginx_conf.render_site([])


def _k8s_documents() -> list[dict]:
    import yaml

    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def test_kubernetes_manifests_parse_and_agree():
    docs = {d["kind"]: d for d in _k8s_documents()}
    assert {"Deployment", "Service", "Ingress", "Secret"} <= set(docs)
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    (app,) = pod["containers"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert app[probe]["httpGet"]["path"] == "/_stcore/health"
        assert app[probe]["httpGet"]["port"] == app["ports"][0]["containerPort"]
    assert {"requests", "limits"} <= set(app["resources"])
    # The cookie secret comes from the Secret, never from the manifest itself.
    env = {e["name"]: e for e in app["env"]}
    ref = env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]
    assert ref["name"] == docs["Secret"]["metadata"]["name"]
    assert ref["key"] in docs["Secret"]["stringData"]
    assert docs["Secret"]["stringData"][ref["key"]] == "REPLACE-ME"
    # Affinity: the Service by client address, the Ingress by a cookie; uploads capped like Streamlit.
    assert docs["Service"]["spec"]["sessionAffinity"] == "ClientIP"
    notes = docs["Ingress"]["metadata"]["annotations"]
    assert notes["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert notes["nginx.ingress.kubernetes.io/proxy-body-size"] == f"{nginx_conf.max_upload_mb()}m"
    labels = docs["Deployment"]["spec"]["selector"]["matchLabels"]
    assert docs["Service"]["spec"]["selector"] == labels


# --------------------------------------------------------------------------- nginx itself


def _nginx_test(site: str, tmp_path: Path) -> subprocess.CompletedProcess:
    (tmp_path / "tmp").mkdir(exist_ok=True)
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf.render_standalone(site, tmp_path))
    cmd = [find_nginx(), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=30)


@needs_nginx
@pytest.mark.parametrize("which", ["committed", "three replicas"])
def test_nginx_accepts_the_configuration(tmp_path, which):
    if which == "committed":
        site = (
            (REPO / "deploy" / "nginx" / "fmnist-lab.conf")
            .read_text()
            .replace("listen 80;", f"listen 127.0.0.1:{free_ports(1)[0]};")
        )
    else:
        site = nginx_conf.render_site(free_ports(3), f"127.0.0.1:{free_ports(1)[0]}")
    result = _nginx_test(site, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


@needs_nginx
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_run_replicas_binds_loopback_shares_one_secret_and_stops_on_a_signal(tmp_path, stop):
    import psutil

    port, first = free_ports(2)
    cmd = [sys.executable, "-m", "deploy.run_replicas", "--replicas", "2", "--port", str(port)]
    cmd += ["--first-replica-port", str(first), "--run-dir", str(tmp_path)]
    # Started with SIGINT ignored, as a shell starts a background job: Ctrl-C must still work.
    ignore_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)  # noqa: E731
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, preexec_fn=ignore_sigint
    )
    try:
        ready = proc.stdout.readline()
        if not ready.startswith("ready in "):
            proc.kill()
            pytest.fail(f"run_replicas did not get ready:\n{ready}{proc.stdout.read()}")
        kids = psutil.Process(proc.pid).children()
        replicas = [p for p in kids if "streamlit" in " ".join(p.cmdline())]
        assert len(replicas) == 2 and len(kids) == 3, [p.cmdline() for p in kids]
        secrets = set()
        for p in replicas:
            listening = [c.laddr for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
            assert listening and all(a.ip == "127.0.0.1" for a in listening), listening
            secret = p.environ()["STREAMLIT_SERVER_COOKIE_SECRET"]
            assert len(secret) >= 32 and secret not in " ".join(p.cmdline())
            secrets.add(secret)
        assert len(secrets) == 1, "the replicas have different cookie secrets"
        (secret,) = secrets
        assert not any(secret in f.read_text(errors="replace") for f in tmp_path.glob("*") if f.is_file())
        all_pids = [proc.pid, *(p.pid for p in psutil.Process(proc.pid).children(recursive=True))]
        proc.send_signal(stop)
        assert proc.wait(timeout=30) == 0
        time.sleep(0.5)
        alive = [p for p in all_pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        assert not alive, f"left running after {stop!r}: {alive}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str]]:
    import urllib.request

    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.status, {k.lower(): v for k, v in r.headers.items()}


def _put(url: str, size: int) -> tuple[int, str | None]:
    """PUT `size` bytes; (status, X-Replica: which replica answered, None when nginx itself did)."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        url, data=bytes(size), method="PUT", headers={"Content-Type": "application/octet-stream"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("X-Replica")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("X-Replica")


@needs_nginx
def test_nginx_passes_uploads_up_to_streamlits_cap_and_refuses_larger():
    cap = nginx_conf.max_upload_mb() * 1024 * 1024
    with Deployment(replicas=1) as dep:
        url = dep.url + "/_stcore/upload_file/no-such-session/file-1"
        # Just under the cap reaches the replica, which refuses it for its own reasons (no XSRF token, no session).
        status, replica = _put(url, cap - 4096)
        assert replica == "r0" and status != 413, (status, replica)
        # Over the cap: nginx answers 413 itself (Streamlit would refuse that size too).
        assert _put(url, cap + 1) == (413, None)


@needs_nginx
def test_a_browser_keeps_its_replica_and_moves_when_it_is_down():
    with Deployment(replicas=2) as dep:
        url = dep.url + "/_stcore/health"
        first = {_get(url)[1]["x-replica"] for _ in range(4)}
        assert first == {"r0", "r1"}, f"new browsers do not take turns: {first}"
        for name in ("r0", "r1", "r0"):
            status, headers = _get(url, f"fmnist_replica={name}")
            assert (status, headers["x-replica"]) == (200, name)
            assert headers["set-cookie"].startswith(f"fmnist_replica={name};")
        assert _get(url, "fmnist_replica=r7")[0] == 200  # a stale cookie (an earlier, larger K) still works
        # r0 gone: its browsers reach r1 (a new session there) and are re-pinned to it.
        dep.replicas[0].signal_group(signal.SIGTERM)
        dep.replicas[0].proc.wait(timeout=30)
        status, headers = _get(url, "fmnist_replica=r0")
        assert (status, headers["x-replica"]) == (200, "r1")
        assert headers["set-cookie"].startswith("fmnist_replica=r1;")


# --------------------------------------------------------------------------- two replicas in a browser

SESSIONS = 4
ACCURACY = re.compile(r"Test accuracy\s*:?\s*(\d{1,3}\.\d)\s*%")
_IMAGES_LOADED = """() => {
    const imgs = [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img')];
    return imgs.length >= 8 && imgs.every(i => i.complete && i.naturalWidth > 0);
}"""


def _two_epochs(page) -> None:
    """The Epochs slider to 2 (Home: 1, then one step right), to keep four runs short."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Epochs").locator('input[type="range"]')
    slider.focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    wait_idle(page)
    assert slider.get_attribute("aria-valuetext") == "2"


def _requests_by_replica(access_log: Path, ports: list[int]) -> dict[str, list[tuple[str, str]]]:
    """nginx's access log as {cookie replica: [(request path, upstream address), ...]}."""
    out: dict[str, list[tuple[str, str]]] = {}
    pattern = re.compile(r'"\w+ (\S+) [^"]*" (\d+) \d+ cookie=(\S*) upstream=(.*)$')
    for line in access_log.read_text().splitlines():
        if m := pattern.search(line):
            path, _status, cookie, upstream = m.groups()
            out.setdefault(cookie, []).append((path, upstream.strip()))
    return out


@pytest.mark.browser
@needs_nginx
@pytest.mark.skipif(find_chromium() is None, reason="Chromium not found: run `make chromium`")
@pytest.mark.timeout(480)
def test_sessions_spread_over_two_replicas_and_each_trains_browses_and_uploads():
    from playwright.sync_api import sync_playwright

    run_dir = ARTIFACTS / "replicas"  # kept after the test: nginx.conf, its access log, each replica's log
    shutil.rmtree(run_dir, ignore_errors=True)
    with Deployment(replicas=2, run_dir=run_dir) as dep, sync_playwright() as pw:
        browser = launch_chromium(pw)
        contexts, pages, errors = [], [], []
        try:
            for i in range(SESSIONS):
                ctx = new_context(browser)
                ctx.set_default_timeout(120_000)
                page = ctx.new_page()
                page.on("pageerror", lambda e, i=i: errors.append(f"session {i}: {e}"))
                open_app(page, dep.url, timeout=120)
                contexts.append(ctx)
                pages.append(page)
            pinned = [{c["name"]: c["value"] for c in ctx.cookies()}.get("fmnist_replica") for ctx in contexts]
            assert set(pinned) == {"r0", "r1"}, f"sessions not spread over both replicas: {pinned}"

            # The class presses Train at about the same time, each on its own replica's session.
            for page in pages:
                goto_page(page, "Train")
                _two_epochs(page)
            for page in pages:
                click_button(page, "Train")
            for i, page in enumerate(pages):
                done = page.locator(SUCCESS).filter(has_text=ACCURACY).first
                try:
                    done.wait_for(state="visible", timeout=180_000)
                except Exception:
                    screenshot(page, SCREENSHOTS / f"replicas-train-{i}.png")
                    raise
                assert 60.0 <= float(ACCURACY.search(done.inner_text()).group(1)) <= 95.0

            for i, page in enumerate(pages):
                goto_page(page, "Browse")
                page.wait_for_function(_IMAGES_LOADED, timeout=60_000)  # /media/ served by the session's replica
                goto_page(page, "Upload")
                photo, _label = garment_photo(index=i, size=(600, 800), fmt="JPEG")
                upload(page, f"garment-{i}.jpg", photo, "image/jpeg")
                page.get_by_text(re.compile(r"Predicted:")).first.wait_for(state="visible")
                assert page.locator(ERROR).count() == 0, page.locator(ERROR).first.inner_text()
                assert not exceptions_on_page(page), exceptions_on_page(page)
            screenshot(pages[-1], SCREENSHOTS / "replicas-upload.png")
            assert not errors, f"JavaScript errors: {errors}"
        finally:
            for ctx in contexts:
                ctx.close()
            browser.close()

        # Every request that carried a replica's cookie reached that replica (no failover happened).
        seen = _requests_by_replica(dep.access_log, dep.replica_ports)
        for i, port in enumerate(dep.replica_ports):
            mine = seen.get(f"r{i}", [])
            wrong = [(p, up) for p, up in mine if up != f"127.0.0.1:{port}"]
            assert not wrong, f"r{i}'s requests went elsewhere: {wrong[:5]}"
            for prefix in ("/_stcore/stream", "/media/", "/_stcore/upload_file/"):
                assert any(p.startswith(prefix) for p, _ in mine), f"r{i}: no {prefix} requests in the access log"
        for c in dep.replicas:
            log = c.log_path.read_text(errors="replace")
            assert "Traceback" not in log, f"{c.name} logged an exception:\n{log[-3000:]}"
