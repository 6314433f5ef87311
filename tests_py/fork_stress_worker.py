"""A process that forks again and again while every background service of
Baldur runs (breaker sync with a Redis, the leader's lease loop, a
scheduler task every 10 ms, the watchdog, the admin server, the audit
trail's writer, the notifier) and two threads make protected calls and
record operator actions. Each child uses every service once and exits; a child
that has not exited within its bound is hung: a lock the fork caught held.
It prints one JSON line: forks made, the children that hung (pid to their
threads' stacks, from gdb when there is one), and apart from them the
children that hung inside CPython's own after-fork step: Python 3.11 can
deadlock there when a thread was creating its thread state as the fork
happened (a Rust thread attaching to Python does, without the GIL), which
no lock of Baldur's causes.

Usage: python fork_stress_worker.py REDIS_URL ADMIN_PORT FORKS
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import baldur
import baldur._core as _core
import baldur.audit
import baldur.leader
import baldur.scheduler

#: A child that has not exited in this long is hung (a healthy one takes
#: milliseconds; the bound allows for a loaded machine).
CHILD_BOUND_SECONDS = 10.0


@baldur.protected("fork-stress", retry=False)
def call(n: int) -> int:
    return n


@baldur.protected("fork-stress-bulkhead", retry=False, bulkhead="database")
def in_compartment(n: int) -> int:
    return n


def in_child() -> None:
    """What a pre-forked worker does first: a protected call on a breaker
    the parent synced, one on a new breaker, and a question to every
    background service."""
    code = 0
    try:
        # The parent's threads held permits of "database" as it forked:
        # none of them is the child's.
        if baldur.compartments()["database"].active != 0:
            code = 3
        for n in range(20):
            in_compartment(n)
        call(1)
        baldur.protected(f"fork-stress-child-{os.getpid()}")(lambda: 2)()
        baldur.leader.is_leader()
        baldur.leader.status()
        baldur.scheduler.status()
        _core.watchdog_status()
        baldur.notify("fork-stress child", priority="LOW")
        baldur.force_open_circuit("fork-stress-operated", actor="child")
        baldur.audit.list(limit=1)
    except BaseException:
        code = 4
    finally:
        os._exit(code)


def stacks_of(pid: int) -> str:
    gdb = shutil.which("gdb")
    if gdb is None:
        return "(no gdb to read the stacks with)"
    done = subprocess.run(
        [gdb, "-p", str(pid), "-batch", "-ex", "thread apply all bt 30"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return "\n".join(line for line in done.stdout.splitlines() if line.startswith(("#", "Thread")))


def in_interpreter_reinit(stacks: str) -> bool:
    """Whether the child's main thread is stuck in CPython's after-fork
    step, with no frame of Baldur's on its stack."""
    main = stacks.split("Thread 1 ")[-1]
    return "PyOS_AfterFork_Child" in main and "baldur::" not in main


def wait_for(pid: int) -> int | None:
    """The child's exit code if it exited within the bound (a hung one is
    killed)."""
    deadline = time.monotonic() + CHILD_BOUND_SECONDS
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.002)
    return None


def main() -> None:
    url, admin_port, forks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    baldur.init(
        redis_url=url,
        leader_election_redis_url=url,
        leader_lease_seconds=1,
        admin_port=admin_port,
        audit_enabled=True,
    )
    ticks = [0]

    @baldur.scheduled("fork-stress-tick", every=0.01, leader_only=True)
    def tick() -> None:
        ticks[0] += 1

    stop = threading.Event()

    operated = baldur.protected("fork-stress-operated")(lambda: 0)
    operated()

    def hammer() -> None:
        while not stop.is_set():
            for n in range(50):
                call(n)
                in_compartment(n)
            baldur.leader.is_leader()
            baldur.notify("fork-stress parent", priority="LOW")
            baldur.reset_circuit("fork-stress-operated", actor="parent")
            time.sleep(0.001)

    for _ in range(2):
        threading.Thread(target=hammer, daemon=True).start()
    time.sleep(1)
    hung: dict[int, str] = {}
    interpreter_hung: dict[int, str] = {}
    #: Children that exited with a status other than 0: 3, a compartment
    #: still counting the parent's permits; 4, a call that raised.
    failed: dict[int, int] = {}
    for _ in range(forks):
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child exits inside
            in_child()
        exited = wait_for(pid)
        if exited:
            failed[pid] = exited
        if exited is None:
            stacks = stacks_of(pid)
            (interpreter_hung if in_interpreter_reinit(stacks) else hung)[pid] = stacks
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        time.sleep(0.003)
    stop.set()
    result = {"forks": forks, "hung": hung, "interpreter_hung": interpreter_hung, "failed": failed}
    print(json.dumps({**result, "ticks": ticks[0]}), flush=True)
    # Like a pre-forking master's exit: Baldur's own exit hooks run.
    sys.exit(0)


if __name__ == "__main__":
    main()
