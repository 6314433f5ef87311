"""Pre-forking servers: gunicorn --preload and Celery's prefork pool fork
after Baldur's runtime and Redis connections are live in the parent. Every
child must work (no hang on a dead runtime) and share one Redis truth."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from helpers import eventually, free_port, require_module
from redis_server import RedisServer

APPS = Path(__file__).parent / "apps"


def test_gunicorn_preload_workers_each_start_their_own_runtime(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    require_module("gunicorn", "dev")
    port = free_port()
    env = {
        **os.environ,
        "BALDUR_REDIS_URL": redis_server.url,
        "BALDUR_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(APPS),
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--preload",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "30",
            "wsgi_fork:app",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        get(port, "/warm-up")
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(lambda i: get(port, f"/slow-k{i}"), range(12)))
        pids = {answer.split(":")[0] for answer in answers}
        assert all(":" in answer for answer in answers), answers
        assert len(pids) == 2, f"both workers should answer: {answers}"
        assert get(port, "/slow-k3") == "duplicate"  # one Redis truth for both
    finally:
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert "Traceback" not in err, err


def get(port: int, path: str) -> str:
    """The body at ``path``, once the server answers."""
    body: list[str] = []

    def answered() -> bool:
        try:
            # A fresh connection each time, so both workers get requests.
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
                body.append(r.read().decode())
        except OSError:
            return False
        return True

    eventually(answered, within=20)
    return body[0]


def test_celery_prefork_pool_processes_each_start_their_own_runtime(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    require_module("celery", "celery")
    env = {
        **os.environ,
        "BALDUR_REDIS_URL": redis_server.url,
        "BALDUR_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(APPS),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "celery_fork",
            "worker",
            "-P",
            "prefork",
            "-c",
            "2",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "-l",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        client = subprocess.run(
            [sys.executable, "-c", CELERY_CLIENT],
            env=env,
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert client.returncode == 0, client.stderr
        answers = client.stdout.split()
        assert len(answers) == 9
        assert all(":" in answer for answer in answers[:8]), answers
        assert answers[8] == "duplicate"
    finally:
        worker.terminate()
        worker.communicate(timeout=30)


CELERY_CLIENT = """
from celery_fork import charge_task
results = [charge_task.delay(f"k{i}") for i in range(8)]
for r in results:
    print(r.get(timeout=60))
print(charge_task.delay("k2").get(timeout=60))
"""
