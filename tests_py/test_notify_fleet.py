"""Notifications across processes: the cooldown per key holds for the
whole fleet sharing a Redis (one post per key per cooldown, and one
escalation), and a forked child delivers with a worker of its own."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from collections import Counter
from collections.abc import Callable, Iterator

import pytest

import baldur
import baldur._notify as _notify
from notify_receiver import Receiver
from redis_server import RedisServer

HOOK = "/hook/FLEETSECRET"
PROCESSES = 8
ALERTS_PER_KEY = 1250  # 10,000 identical alerts per key across the fleet


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def start(code: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, "BALDUR_ADMIN_PORT": "0", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    return out


RAISE_ALERTS = """
    import os, time, baldur, baldur._notify
    baldur.init(notify_rate_per_minute=1000, notify_rate_per_hour=100000)
    start = float(os.environ["START_AT"])
    time.sleep(max(0.0, start - time.time()))  # every process at once
    sent = 0
    for _ in range(int(os.environ["ALERTS"])):
        for key in ("db-down", "cache-down"):
            sent += baldur.notify(f"{key} alert", priority="HIGH", key=key).sent
    assert baldur._notify.flush(10)
    print(sent)
"""


def test_identical_alerts_from_many_processes_post_once_per_key(
    redis_server: RedisServer, receiver: Receiver
) -> None:
    env = {
        "BALDUR_REDIS_URL": redis_server.url,
        "BALDUR_WEBHOOK_URL": receiver.url(HOOK),
        "ALERTS": str(ALERTS_PER_KEY),
        "START_AT": str(time.time() + 1.5),
    }
    workers = [start(RAISE_ALERTS, env) for _ in range(PROCESSES)]
    sent = sum(int(finish(worker)) for worker in workers)
    posts = Counter((post["key"], post["priority"]) for post in receiver.posts(HOOK))
    # One delivery per key per cooldown, and the burst threshold's one
    # escalation (HIGH to CRITICAL), whichever process saw it.
    assert posts == {
        ("db-down", "HIGH"): 1,
        ("db-down", "CRITICAL"): 1,
        ("cache-down", "HIGH"): 1,
        ("cache-down", "CRITICAL"): 1,
    }
    assert sent == 4


FORKED = """
    import os, baldur, baldur._notify
    baldur.init()
    assert baldur.notify("from the parent", priority="HIGH").sent
    assert baldur._notify.flush(5)
    child = os.fork()
    if child == 0:
        result = baldur.notify("from the child", priority="HIGH")
        os._exit(0 if result.sent and baldur._notify.flush(5) else 1)
    _, status = os.waitpid(child, 0)
    print(os.waitstatus_to_exitcode(status))
"""


def test_a_forked_child_delivers_with_a_worker_of_its_own(receiver: Receiver) -> None:
    out = finish(start(FORKED, {"BALDUR_WEBHOOK_URL": receiver.url(HOOK)}))
    assert out.split() == ["0"]
    titles = sorted(post["title"] for post in receiver.posts(HOOK))
    assert titles == ["from the child", "from the parent"]


def test_with_redis_gone_the_process_keeps_a_cooldown_of_its_own(
    configure: Callable[..., None], redis_server: RedisServer, receiver: Receiver
) -> None:
    configure(redis_url=redis_server.url, webhook_url=receiver.url(HOOK))
    assert baldur.notify("db down", priority="HIGH").sent
    assert baldur.notify("db down", priority="HIGH").reason == "cooldown"  # Redis's
    redis_server.kill()
    assert baldur.notify("cache down", priority="HIGH").sent
    assert baldur.notify("cache down", priority="HIGH").reason == "cooldown"  # this process's
    assert _notify.flush(5.0)
    assert sorted(post["key"] for post in receiver.posts(HOOK)) == ["cache down", "db down"]
