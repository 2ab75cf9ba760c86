"""``usecases ui``: the MLflow UI over the local tracking store, in the foreground until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from shared.env import local_home, on_databricks
from shared.tracking import configure_tracking

UI_START_TIMEOUT_S = 300.0  # a cold MLflow server imports a lot; a busy laptop can take minutes
STOP_TIMEOUT_S = 15.0


class UiError(RuntimeError):
    """The UI cannot start here (port taken, no local store, server exited)."""


def browse_url(host: str, port: int) -> str:
    """The address to open: a wildcard bind is reached on the loopback address."""
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else ("[::1]" if host == "::" else host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def check_port_free(host: str, port: int) -> None:
    """Fail with one clear line if something already listens on ``host:port``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise UiError(f"cannot listen on {host}:{port} ({exc.strerror}); pick another with --port") from exc


def server_command(tracking_uri: str, artifacts: Path, host: str, port: int) -> list[str]:
    """``mlflow server`` on the local store: one worker, artifacts read straight from the local folder."""
    return [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", tracking_uri,
        "--default-artifact-root", artifacts.as_uri(),
        "--no-serve-artifacts",
        "--host", host, "--port", str(port), "--workers", "1",
    ]


def wait_until_serving(url: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Poll ``/health`` until the server answers; fail if it exits or never answers."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            raise UiError(f"mlflow server exited with status {proc.returncode} before answering (messages above)")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # our own server
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise UiError(f"mlflow server did not answer at {url} within {timeout_s:.0f} s")
        time.sleep(0.5)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """Stop the server's whole process group (``mlflow server`` runs uvicorn as a child process)."""
    for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Let ``kill <pid>`` stop the UI as Ctrl-C does, so the server is never left running."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def serve_ui(host: str, port: int, echo: Callable[[str], None] = print,
             timeout_s: float = UI_START_TIMEOUT_S) -> int:
    """Run the MLflow UI on the local store until interrupted; print its address once it answers."""
    uri = configure_tracking()
    if on_databricks() or uri.startswith("databricks"):
        raise UiError("on Databricks, runs are in the workspace's Experiments page; there is no local store")
    if uri.startswith(("http://", "https://")):
        echo(f"MLflow runs are on the tracking server at {uri} (MLFLOW_TRACKING_URI); nothing to start")
        return 0
    check_port_free(host, port)
    artifacts = local_home() / "mlartifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    url = browse_url(host, port)
    with _sigterm_as_interrupt():
        proc = subprocess.Popen(server_command(uri, artifacts, host, port), start_new_session=True)
        try:
            wait_until_serving(url, proc, timeout_s)
            echo(f"MLflow UI: {url}  (store {uri}, artifacts {artifacts}; server pid {proc.pid}; Ctrl-C stops it)")
            sys.stdout.flush()
            status = proc.wait()
            raise UiError(f"mlflow server stopped by itself with status {status}")
        except KeyboardInterrupt:
            return 0
        finally:
            stop_server(proc)
