"""K replicas of the app behind one nginx, on this machine: `make replicas K=2` or

    python -m deploy.run_replicas --replicas 2 --port 8500 [--address 0.0.0.0] [--run-dir DIR]

Each replica is `streamlit run streamlit_app.py` on 127.0.0.1 only (nginx is the one way in), all
with one cookie secret generated for this run (STREAMLIT_SERVER_COOKIE_SECRET, so it is never in a
file or on a command line). nginx runs in the foreground as our child, from a generated nginx.conf
in a temporary folder that also holds its pid, logs and temp files and each replica's log: no
system configuration is read or touched. Ctrl-C or SIGTERM stops everything; so does one of the
children dying (the exit status is then 1).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from deploy.nginx_conf import REPO, render_site, render_standalone, replica_name

APP = "streamlit_app.py"


def find_nginx() -> str | None:
    """Debian's nginx is /usr/sbin/nginx, which is not on a normal user's PATH."""
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (held open together, so they differ)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def port_in_use(port: int, address: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
        except OSError:
            return True
    return False


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when this script dies without cleaning up."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


@dataclass
class Child:
    """One process we started (a replica or nginx), in its own process group, logging to a file."""

    name: str
    cmd: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    def start(self, cwd: Path) -> None:
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child holds it; closed below
        try:
            self.proc = subprocess.Popen(
                self.cmd,
                cwd=cwd,
                env=dict(os.environ, **self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches only us; stop() ends the whole group
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        finally:
            log.close()

    def exited(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def signal_group(self, sig: int) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)

    def log_tail(self, n: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        return ""


class Deployment:
    """K replicas on loopback ports plus nginx on `address:port`. start(), wait_healthy(), stop();
    or use it as a context manager (started and healthy inside the block)."""

    def __init__(
        self,
        replicas: int = 2,
        port: int | None = None,
        address: str = "127.0.0.1",
        replica_ports: list[int] | None = None,
        run_dir: Path | None = None,
        app: str = APP,
        cwd: Path = REPO,
        env: dict[str, str] | None = None,
    ):
        if replicas < 1:
            raise ValueError("at least one replica is needed")
        self.nginx = find_nginx()
        if self.nginx is None:
            raise RuntimeError("nginx not found: install Debian's `nginx` (make nginx)")
        ports = free_ports(replicas + (port is None))
        self.port = ports.pop() if port is None else port
        self.replica_ports = replica_ports or ports
        if len(self.replica_ports) != replicas:
            raise ValueError(f"{replicas} replicas need {replicas} ports, not {self.replica_ports}")
        self.address = address
        self.app = app
        self.cwd = Path(cwd)
        self.keep_run_dir = run_dir is not None
        self.run_dir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="fmnist-replicas-"))
        self.temp_dir: Path | None = None  # nginx's temp files (start)
        # One secret for every replica (server.cookieSecret signs Streamlit's cookies: a cookie set
        # by one replica must verify on another); new for each run, never written to a file.
        self._secret = secrets.token_hex(32)
        self.env = env or {}
        self.replicas: list[Child] = []
        self.lb: Child | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.address in ("0.0.0.0", "", "*") else self.address
        return f"http://{host}:{self.port}"

    def replica_url(self, index: int) -> str:
        return f"http://127.0.0.1:{self.replica_ports[index]}"

    @property
    def access_log(self) -> Path:
        return self.run_dir / "nginx-access.log"

    def children(self) -> list[Child]:
        return [*self.replicas, *([self.lb] if self.lb else [])]

    def start(self) -> Deployment:
        busy = [p for p in (*self.replica_ports, self.port) if port_in_use(p)]
        if busy:
            raise RuntimeError(f"port(s) already in use: {busy}")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        as_root = os.geteuid() == 0
        # nginx's workers write its temp files (an upload's body, say). As root they run as nobody, who may not
        # pass through run_dir's parents (a folder made by mktemp -d is 0700): their own folder in the
        # system's temp folder, removed on stop.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="fmnist-nginx-")) if as_root else self.run_dir / "tmp"
        self.temp_dir.mkdir(exist_ok=True)
        if as_root:
            os.chmod(self.temp_dir, 0o711)
        # Each replica's own share of the cores for its training workers, unless set outside.
        workers = str(max(1, (os.cpu_count() or 1) // len(self.replica_ports)))
        for i, p in enumerate(self.replica_ports):
            name = replica_name(i)
            child = Child(
                name=name,
                cmd=[
                    sys.executable,
                    "-m",
                    "streamlit",
                    "run",
                    self.app,
                    "--server.address",
                    "127.0.0.1",
                    "--server.port",
                    str(p),
                    "--server.headless",
                    "true",
                    "--server.fileWatcherType",
                    "none",
                    "--browser.gatherUsageStats",
                    "false",
                ],  # fmt: skip
                log_path=self.run_dir / f"replica-{name}.log",
                env={
                    "PYTHONUNBUFFERED": "1",
                    "FMNIST_WORKERS": os.environ.get("FMNIST_WORKERS", workers),
                    **self.env,
                    "STREAMLIT_SERVER_COOKIE_SECRET": self._secret,
                },
            )
            child.start(self.cwd)
            self.replicas.append(child)
        listen = f"{self.address}:{self.port}" if self.address else str(self.port)
        conf = self.run_dir / "nginx.conf"
        conf.write_text(
            render_standalone(
                render_site(self.replica_ports, listen), self.run_dir, as_root=as_root, temp_dir=self.temp_dir
            )
        )
        self.lb = Child(
            name="nginx",
            cmd=[self.nginx, "-p", str(self.run_dir), "-c", str(conf), "-e", str(self.run_dir / "nginx-error.log")],
            log_path=self.run_dir / "nginx-stderr.log",
        )
        self.lb.start(self.run_dir)
        return self

    def check_alive(self) -> None:
        for c in self.children():
            if (rc := c.exited()) is not None:
                raise RuntimeError(f"{c.name} exited with code {rc}:\n{c.log_tail()}")

    def wait_healthy(self, timeout: float = 120.0) -> float:
        """Block until nginx and every replica answer their health checks; return the seconds taken."""
        t0 = time.monotonic()
        checks = [self.url + "/healthz", *(self.replica_url(i) + "/_stcore/health" for i in range(len(self.replicas)))]
        while checks:
            self.check_alive()
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"not healthy within {timeout:.0f} s: {checks}")
            checks = [u for u in checks if not http_ok(u)]
            if checks:
                time.sleep(0.1)
        # And through nginx to a replica (proxying, not just nginx's own answer).
        if not http_ok(self.url + "/_stcore/health"):
            raise RuntimeError(f"nginx does not reach the replicas:\n{self.lb.log_tail() if self.lb else ''}")
        return time.monotonic() - t0

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM every child's process group (nginx first: no new requests), then SIGKILL what is left."""
        children = [c for c in reversed(self.children()) if c.proc is not None]
        for c in children:
            c.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for c in children:
            try:
                c.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                c.signal_group(signal.SIGKILL)
                c.proc.wait(timeout=5)
            c.signal_group(signal.SIGKILL)  # anything the leader left behind in its group
        self.replicas, self.lb = [], None
        if self.temp_dir is not None and self.temp_dir != self.run_dir / "tmp":
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        if not self.keep_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> Deployment:
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m deploy.run_replicas", description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", "-k", type=int, default=2, help="how many Streamlit processes (default 2)")
    ap.add_argument("--port", type=int, default=8500, help="nginx's port (default 8500)")
    ap.add_argument(
        "--address",
        default="127.0.0.1",
        help="nginx's address: 127.0.0.1 (this machine only, the default) or 0.0.0.0 (a classroom)",
    )
    ap.add_argument(
        "--first-replica-port",
        type=int,
        default=None,
        help="replicas on this port and the next ones (default: the port after nginx's)",
    )
    ap.add_argument("--run-dir", type=Path, default=None, help="keep config and logs here (default: a temp folder)")
    args = ap.parse_args(argv)
    first = args.first_replica_port or args.port + 1
    try:
        dep = Deployment(
            args.replicas,
            port=args.port,
            address=args.address,
            replica_ports=list(range(first, first + args.replicas)),
            run_dir=args.run_dir,
        )
    except (RuntimeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    # SIGTERM ends us like Ctrl-C, through the same clean-up; SIGINT set explicitly, as a shell
    # starts a background job with it ignored.
    def on_signal(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    status = 0
    try:
        dep.start()
        seconds = dep.wait_healthy()
        print(f"ready in {seconds:.1f} s: {dep.url} -> {len(dep.replicas)} replicas", flush=True)
        for i, c in enumerate(dep.replicas):
            print(f"  {c.name}: {dep.replica_url(i)}  log {c.log_path}", flush=True)
        print(f"  nginx: {dep.run_dir / 'nginx.conf'}  access log {dep.access_log}", flush=True)
        print("Ctrl-C stops everything.", flush=True)
        while True:
            dep.check_alive()
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("stopping...", file=sys.stderr, flush=True)
    except (RuntimeError, TimeoutError) as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        status = 1
    finally:
        dep.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
