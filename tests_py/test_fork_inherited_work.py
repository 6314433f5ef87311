"""A child forked while its parent has Redis work in flight (background
idempotency completions) does not wait for that work at its own exit: it
is the parent's to deliver, on a runtime the child does not have."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from redis_server import RedisServer

CHILD_EXIT_BUDGET_S = 1.5  # the exit hook's wait for stuck work is 2 s

SCRIPT = """
import os, socket, sys, threading, time
import baldur

baldur.init(redis_url=sys.argv[1])
charge = baldur.protected("fork-inherited", idempotency_key="k")(lambda k: k)
charge("warm-up")
stop = threading.Event()

def busy():
    i = 0
    while not stop.is_set():
        i += 1
        try:
            charge(f"k-{i}")
        except baldur.IdempotencyUnavailableError:
            pass

worker = threading.Thread(target=busy, daemon=True)
worker.start()
time.sleep(0.2)
with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as conn:
    # Completions sent from now on wait 3 s for the server.
    conn.sendall(b"*4\\r\\n$6\\r\\nCLIENT\\r\\n$5\\r\\nPAUSE\\r\\n$4\\r\\n3000\\r\\n$5\\r\\nWRITE\\r\\n")
    conn.recv(64)
pid = os.fork()
if pid == 0:
    started = time.monotonic()
    baldur._core.flush_stores()  # what the exit hook does first
    os.write(1, f"{time.monotonic() - started:.3f}\\n".encode())
    os._exit(0)
os.waitpid(pid, 0)
stop.set()
"""


def test_a_child_does_not_wait_for_its_parents_work(redis_server: RedisServer) -> None:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), redis_server.url, str(redis_server.port)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stderr
    waited = float(done.stdout.split()[0])
    assert waited < CHILD_EXIT_BUDGET_S, f"the child waited {waited}s for its parent's work"
