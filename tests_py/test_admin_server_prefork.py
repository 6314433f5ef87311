"""The admin server under a pre-forking server: the first process to bind
serves, every other one carries on without (gunicorn with and without
``--preload``), and the one serving answers for itself (``served_by``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers import eventually, free_port, require_module

APPS = Path(__file__).parent / "apps"
KEY = "prefork-admin-key-0123456789abcdef0123"


def start_gunicorn(
    tmp_path: Path, admin_port: int, *, preload: bool
) -> tuple[subprocess.Popen[str], int]:
    require_module("gunicorn", "dev")
    port = free_port()
    env = {
        **os.environ,
        "BALDUR_DATA_DIR": str(tmp_path),
        "BALDUR_ADMIN_PORT": str(admin_port),
        "BALDUR_ADMIN_KEY": KEY,
        "PYTHONPATH": str(APPS),
    }
    command = [sys.executable, "-m", "gunicorn", "-w", "3", "-b", f"127.0.0.1:{port}"]
    command += ["--preload"] if preload else []
    server = subprocess.Popen(
        [*command, "wsgi_admin:app"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return server, port


def workers_seen(port: int) -> dict[str, str]:
    """pid -> that worker's own admin address, from enough requests to
    reach every worker."""
    seen: dict[str, str] = {}

    def ask(_: int) -> None:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
            pid, address = answer.read().decode().split(":", 1)
            seen[pid] = address

    def all_answered() -> bool:
        try:
            with ThreadPoolExecutor(max_workers=6) as pool:
                list(pool.map(ask, range(30)))
        except OSError:
            return False
        return len(seen) == 3

    eventually(all_answered, within=60)
    return seen


def served_by(admin_port: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{admin_port}/api/baldur/cb/", headers={"X-Baldur-Key": KEY}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(json.loads(answer.read())["served_by"]["pid"])


@pytest.mark.parametrize("preload", [False, True], ids=["workers-init", "preload"])
def test_one_process_serves_and_the_others_carry_on(tmp_path: Path, preload: bool) -> None:
    admin_port = free_port()
    server, port = start_gunicorn(tmp_path, admin_port, preload=preload)
    try:
        seen = workers_seen(port)
        serving = [pid for pid, address in seen.items() if address != "None"]
        if preload:
            # The master bound first; its children hold its socket and skip.
            assert serving == [], seen
            assert served_by(admin_port) == server.pid
        else:
            assert len(serving) == 1, seen
            assert served_by(admin_port) == int(serving[0])
    finally:
        server.terminate()
        try:
            _, err = server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            # A worker hung at exit: killed, so no process outlives the test.
            server.kill()
            server.communicate()
            raise
    assert "Traceback" not in err, err
