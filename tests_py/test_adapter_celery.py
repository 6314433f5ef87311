"""The Celery adapter with a real worker (prefork pool, a private Redis as
broker): a protected task that fails for good lands in the dead-letter
queue; a warm shutdown lets the task in flight finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers import require_module

require_module("celery", "celery")

import baldur  # noqa: E402
from helpers import eventually  # noqa: E402
from redis_server import RedisServer  # noqa: E402

APPS = Path(__file__).parent / "apps"


@pytest.fixture
def worker(
    redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    env = {
        **os.environ,
        "BALDUR_REDIS_URL": redis_server.url,
        "BALDUR_DATA_DIR": str(tmp_path),
        "PYTHONPATH": str(APPS),
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "celery_tasks",
            "worker",
            "-P",
            "prefork",
            "-c",
            "1",
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
    yield process, env
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=30)


def client(env: dict[str, str], body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", body], env=env, capture_output=True, text=True, timeout=90
    )


def test_a_task_that_fails_for_good_is_recorded_in_the_dlq(
    worker: tuple[subprocess.Popen[str], dict[str, str]], configure: object
) -> None:
    _, env = worker
    done = client(
        env,
        "from celery_tasks import send_receipt\n"
        "r = send_receipt.delay('o-9')\n"
        "try:\n    r.get(timeout=60)\nexcept ConnectionError as e:\n    print('failed', e)\n",
    )
    assert "failed mail server down for o-9" in done.stdout, done.stderr
    baldur.init(redis_url=env["BALDUR_REDIS_URL"], data_dir=env["BALDUR_DATA_DIR"])
    entries = baldur.dlq.list(domain="celery-receipts")
    assert len(entries) == 1, entries
    assert "o-9" in entries[0]["arguments"]
    assert entries[0]["function"].endswith("send_receipt")
    assert entries[0]["reason"] == "exhausted"


def test_a_warm_shutdown_lets_the_task_in_flight_finish(
    worker: tuple[subprocess.Popen[str], dict[str, str]], tmp_path: Path
) -> None:
    process, env = worker
    sender = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from celery_tasks import slow_charge\n"
            "print(slow_charge.delay('o-1').get(timeout=60))\n",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    eventually(lambda: (tmp_path / "started-o-1").exists(), within=60)
    process.send_signal(signal.SIGTERM)  # warm shutdown while it runs
    out, err = sender.communicate(timeout=60)
    assert out.strip() == "charged o-1", err
    assert process.wait(30) == 0
