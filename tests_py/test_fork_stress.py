"""Forking while Baldur's background services run, as a pre-forking server
does: a lock one of the parent's threads held at the fork must not hang
the child (issue 16). The worker forks hundreds of times with breaker
sync, the leader's lease loop, a 10 ms scheduled task, the watchdog and the
admin server all busy; every child must use each service and exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import free_port
from redis_server import RedisServer

WORKER = Path(__file__).with_name("fork_stress_worker.py")

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX")


def test_no_child_hangs_on_a_lock_its_parents_threads_held(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    forks = 400
    env = {**os.environ, "BALDUR_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(WORKER), redis_server.url, str(free_port()), str(forks)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["forks"] == forks
    hung = "\n\n".join(f"child {pid}:\n{stacks}" for pid, stacks in result["hung"].items())
    assert not result["hung"], f"{len(result['hung'])} of {forks} children hung:\n{hung}"
    # Python 3.11's own after-fork step can hang on its thread-state lock
    # (taken, without the GIL, by a thread attaching to Python as the fork
    # happens): rare, not Baldur's lock, and counted apart.
    assert len(result["interpreter_hung"]) <= forks // 100
    assert not result["failed"], f"children that exited badly (pid: status): {result['failed']}"
    # The parent's services ran throughout (the task ran on the leader).
    assert result["ticks"] > 0
