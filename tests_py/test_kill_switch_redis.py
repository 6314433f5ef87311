"""The kill switch shared through Redis: one flip reaches every worker, and
a Redis that does not take the record is loud."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import baldur
from baldur import _kill_switch
from redis_server import RedisServer


@pytest.fixture
def shared(
    redis_server: RedisServer, configure: Callable[..., None], tmp_path: Path
) -> Iterator[RedisServer]:
    configure(redis_url=redis_server.url, data_dir=str(tmp_path / "here"))
    baldur.protect("kill-switch-redis", lambda: None)  # starts the I/O runtime
    yield redis_server
    with contextlib.suppress(ConnectionError):
        baldur.enable()
    _kill_switch.apply(None)


def other_worker(url: str, data_dir: Path, body: str) -> subprocess.Popen[str]:
    source = (
        "import baldur, sys, time\n"
        "baldur.protect('kill-switch-redis', lambda: None)\n" + textwrap.dedent(body)
    )
    return subprocess.Popen(
        [sys.executable, "-c", source],
        env={**os.environ, "BALDUR_REDIS_URL": url, "BALDUR_DATA_DIR": str(data_dir)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_record_is_kept_in_redis(shared: RedisServer) -> None:
    baldur.disable(reason="incident 4711", actor="alice")
    stored = shared.command("GET", "baldur:kill_switch").decode()
    assert '"incident 4711"' in stored and '"alice"' in stored
    baldur.enable()
    assert shared.command("EXISTS", "baldur:kill_switch").strip().lstrip(b":") == b"0"


def test_a_flip_reaches_a_running_worker_within_a_poll(shared: RedisServer, tmp_path: Path) -> None:
    worker = other_worker(
        shared.url,
        tmp_path / "there",
        """
        print("ready", flush=True)
        sys.stdin.readline()
        deadline = time.monotonic() + 10
        while baldur.is_baldur_enabled() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(baldur.kill_switch_status().reason, flush=True)
        deadline = time.monotonic() + 10
        while not baldur.is_baldur_enabled() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(baldur.is_baldur_enabled(), flush=True)
        """,
    )
    assert worker.stdout is not None and worker.stdin is not None
    try:
        assert worker.stdout.readline().strip() == "ready"
        baldur.disable(reason="incident 4711", actor="alice")
        worker.stdin.write("go\n")
        worker.stdin.flush()
        assert worker.stdout.readline().strip() == "incident 4711"
        baldur.enable()
        assert worker.stdout.readline().strip() == "True"
    finally:
        worker.kill()
        worker.communicate(timeout=10)  # closes the pipes


def test_a_new_worker_reads_the_shared_record(shared: RedisServer, tmp_path: Path) -> None:
    baldur.disable(reason="incident 4711", actor="alice")
    worker = other_worker(
        shared.url,
        tmp_path / "new-host",
        """
        deadline = time.monotonic() + 10
        while baldur.is_baldur_enabled() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(baldur.kill_switch_status().actor)
        """,
    )
    out, err = worker.communicate(timeout=30)
    assert out.strip() == "alice", err
    # It also wrote the record locally: its next restart starts disabled.
    assert (tmp_path / "new-host" / "kill-switch.json").exists()


def test_a_redis_that_does_not_take_the_record_is_loud(shared: RedisServer) -> None:
    shared.kill()
    with pytest.raises(ConnectionError, match="other workers still follow the old state"):
        baldur.disable(reason="incident 4711", actor="alice")
    assert not baldur.is_baldur_enabled()  # this process is disabled anyway


def test_a_forked_worker_follows_the_shared_switch(shared: RedisServer, tmp_path: Path) -> None:
    # A pre-forking server: the parent configured Baldur (its poller runs),
    # the child inherits no poller thread and must start its own.
    worker = other_worker(
        shared.url,
        tmp_path / "forking",
        """
        import os
        pid = os.fork()
        if pid == 0:
            baldur.protect("kill-switch-redis", lambda: None)  # the child's runtime
            print("ready", flush=True)
            deadline = time.monotonic() + 10
            while baldur.is_baldur_enabled() and time.monotonic() < deadline:
                time.sleep(0.05)
            os._exit(0 if not baldur.is_baldur_enabled() else 1)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status), flush=True)
        """,
    )
    assert worker.stdout is not None
    try:
        assert worker.stdout.readline().strip() == "ready"
        baldur.disable(reason="incident 4711", actor="alice")
        assert worker.stdout.readline().strip() == "child 0"
    finally:
        worker.kill()
        worker.communicate(timeout=10)


def test_a_corrupt_shared_record_leaves_protection_on_and_is_an_error(
    shared: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    assert shared.command("SET", "baldur:kill_switch", "{not json").startswith(b"+OK")
    with caplog.at_level(logging.ERROR, logger="baldur"):
        _kill_switch.refresh()  # the poller's step; it raised (and died) before
    assert baldur.is_baldur_enabled()
    assert [
        r.levelno for r in caplog.records if getattr(r, "event", None) == "kill_switch.record_error"
    ] == [logging.ERROR]
