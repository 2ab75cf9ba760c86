"""``usecases ui``: a real MLflow server on the local store, answering HTTP on a free port, stopped by SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from shared.cli import main
from shared.mlflow_ui import browse_url, server_command

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=10) as response:  # a local test server
        return response.status, response.read()


def test_ui_serves_the_local_store_and_stops_on_sigterm(mlflow_store: str, tmp_path: Path) -> None:
    import mlflow

    mlflow.create_experiment("ui-check", artifact_location=(tmp_path / "artifacts").as_uri())
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    with open(tmp_path / "ui.err", "w") as err:
        cli = subprocess.Popen([sys.executable, "-m", "shared.cli", "ui", "--port", str(port)], cwd=REPO_ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=err, text=True, start_new_session=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(iter(cli.stdout.readline, "")), daemon=True).start()
    server_pid = None
    try:
        deadline = time.monotonic() + 300
        while not any(line.startswith("MLflow UI:") for line in lines):
            assert cli.poll() is None, (tmp_path / "ui.err").read_text()[-2000:]
            assert time.monotonic() < deadline, "the UI did not start within 300 s"
            time.sleep(0.2)
        line = next(line for line in lines if line.startswith("MLflow UI:"))
        url = re.search(r"http://\S+", line).group(0)
        server_pid = int(re.search(r"server pid (\d+)", line).group(1))
        assert url == f"http://127.0.0.1:{port}" and mlflow_store in line
        assert get(f"{url}/health")[0] == 200
        status, page = get(url)
        assert status == 200 and b"<html" in page.lower()
        status, body = get(f"{url}/api/2.0/mlflow/experiments/search?max_results=100")
        assert "ui-check" in [e["name"] for e in json.loads(body)["experiments"]], "it serves this store"

        cli.send_signal(signal.SIGTERM)
        assert cli.wait(60) == 0
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            get(f"{url}/health")
    finally:
        for group in (cli.pid, server_pid):  # only what this test started, should it have failed half-way
            if group is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
        cli.wait(30)


def test_a_taken_port_is_one_clear_line(mlflow_store: str, capsys) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["ui", "--port", str(port)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"usecases: error: cannot listen on 127.0.0.1:{port}") and "--port" in err
    assert "\n" not in err


def test_a_remote_tracking_server_needs_no_local_ui(monkeypatch, capsys) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    try:
        assert main(["ui"]) == 0
    finally:
        import mlflow

        mlflow.set_tracking_uri(None)
    assert "http://tracking.example:5000" in capsys.readouterr().out


def test_addresses_and_server_command() -> None:
    assert browse_url("0.0.0.0", 5000) == "http://127.0.0.1:5000"
    assert browse_url("::", 5000) == "http://[::1]:5000"
    assert browse_url("localhost", 8080) == "http://localhost:8080"
    command = server_command("sqlite:////h/mlflow.db", Path("/h/mlartifacts"), "127.0.0.1", 5001)
    assert command[1:4] == ["-m", "mlflow", "server"]
    assert command[command.index("--backend-store-uri") + 1] == "sqlite:////h/mlflow.db"
    assert command[command.index("--default-artifact-root") + 1] == "file:///h/mlartifacts"
    assert command[command.index("--port") + 1] == "5001"
