"""gunicorn --preload loads the app (and Baldur's SIGTERM handler) in the
master, then every worker installs its own handlers: with Baldur's
``post_worker_init`` hook a worker still drains, readiness turns 503 while
a protected call is in flight, liveness stays 200, and the call finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

from helpers import eventually, require_module

APPS = Path(__file__).parent / "apps"


def status(port: int, path: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as refused:
        return int(refused.code)


def test_a_preloaded_gunicorn_worker_drains_with_the_hook(tmp_path: Path) -> None:
    require_module("gunicorn", "dev")
    require_module("flask", "flask")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "BALDUR_DATA_DIR": str(tmp_path), "PYTHONPATH": str(APPS)}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--preload",
            "-w",
            "1",
            "-c",
            str(APPS / "gunicorn_drain.conf.py"),
            "-b",
            f"127.0.0.1:{port}",
            "wsgi_drain:app",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        eventually(lambda: _up(port), within=30)
        answers: list[str] = []

        def charge() -> None:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/charge/o-1", timeout=30) as r:
                answers.append(r.read().decode())

        in_flight = threading.Thread(target=charge)
        in_flight.start()
        eventually(lambda: (tmp_path / "started-o-1").exists(), within=20)
        worker_pids = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True
        ).stdout.split()
        assert worker_pids, "no gunicorn worker found"
        for pid in worker_pids:
            os.kill(int(pid), signal.SIGTERM)  # what the master sends on shutdown
        eventually(lambda: status(port, "/api/baldur/health/ready/") == 503, within=5)
        assert status(port, "/api/baldur/health/live/") == 200
        in_flight.join(30)
        assert answers == ["charged o-1"]
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=60)
    assert "Traceback" not in err, err


def _up(port: int) -> bool:
    try:
        return status(port, "/api/baldur/health/ping/") == 200
    except OSError:
        return False
