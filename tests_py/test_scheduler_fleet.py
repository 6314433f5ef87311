"""A leader-only scheduled task in a fleet: three processes sharing one
private Redis, and the task runs on exactly one of them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from redis_server import RedisServer

pytestmark = pytest.mark.timeout(120)

#: Each worker: leads or follows through the shared Redis, and marks every
#: run of the leader-only task with its pid.
WORKER = textwrap.dedent(
    """
    import os, sys, time, baldur
    marks = sys.argv[1]
    baldur.init()

    @baldur.scheduled("fleet-tick", every=0.2, leader_only=True)
    def tick():
        with open(marks, "a") as out:
            out.write(f"{os.getpid()}\\n")

    time.sleep(float(sys.argv[2]))
    task = baldur.scheduler.task("fleet-tick")
    print(task.runs, task.not_leader, flush=True)
    """
)


def test_a_leader_only_task_runs_on_exactly_one_of_three_processes(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    marks = tmp_path / "marks.txt"
    env = {
        **os.environ,
        "BALDUR_REDIS_URL": redis_server.url,
        "BALDUR_LEADER_LEASE_SECONDS": "2",
        "BALDUR_DATA_DIR": str(tmp_path),
        "BALDUR_ADMIN_PORT": "0",
    }
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(marks), "6"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    counts = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        runs, not_leader = map(int, out.split())
        counts.append((runs, not_leader))
    pids = [int(line) for line in marks.read_text().split()]
    assert len(pids) >= 5  # it ran, repeatedly
    assert len(set(pids)) == 1, f"runs by {sorted(set(pids))}"
    assert pids[0] in {worker.pid for worker in workers}
    # The followers passed over their ticks, counted as such.
    assert sorted(runs > 0 for runs, _ in counts) == [False, False, True]
    assert all(not_leader > 0 for runs, not_leader in counts if runs == 0)
