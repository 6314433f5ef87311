"""A process with protected calls in flight when SIGTERM arrives, probing
its own health endpoints meanwhile. Every event goes to the log file named
on the command line, one line each.

    python sigterm_app.py MODE LOG     MODE: plain | chained | async
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
import time
from types import FrameType

import baldur
from baldur import endpoints

MODE, LOG = sys.argv[1], sys.argv[2]
CALLS = 3
CALL_SECONDS = float(os.environ.get("CALL_SECONDS", "1.0"))
# A raw descriptor, not a buffered file: the signal handlers log too, and a
# buffered writer interrupted by one of them raises "reentrant call".
_out = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)


def log(line: str) -> None:
    os.write(_out, (line + "\n").encode())


@baldur.protected("sigterm-sync")
def slow(i: int) -> int:
    log(f"started {i}")
    time.sleep(CALL_SECONDS)
    log(f"finished {i}")
    return i


@baldur.protected("sigterm-async")
async def aslow(i: int) -> int:
    log(f"started {i}")
    await asyncio.sleep(CALL_SECONDS)
    log(f"finished {i}")
    return i


def probe() -> str:
    ready = endpoints.dispatch("health/ready/")
    refusal = endpoints.shutdown_refusal()
    return (
        f"probe ready={ready.status} retry_after={ready.headers.get('Retry-After')} "
        f"no_store={ready.headers.get('Cache-Control') == 'no-store'} "
        f"live={endpoints.dispatch('health/live/').status} "
        f"ping={endpoints.dispatch('health/ping/').status} "
        f"refusal={None if refusal is None else refusal.status}"
    )


def server_handler(signum: int, frame: FrameType | None) -> None:
    """A server's own SIGTERM handler: graceful stop, then exit."""
    log(f"server handler ready={endpoints.dispatch('health/ready/').status}")
    report = baldur.shutdown()
    log(f"server drained={report.drained} in_flight={report.in_flight}")
    raise SystemExit(0)


def log_probe_if_changed(last: str) -> str:
    """Probes, logs the answers when they changed, returns them."""
    line = probe()
    if line != last:
        log(line)
    return line


def probe_loop() -> None:
    last = ""
    while True:
        last = log_probe_if_changed(last)
        time.sleep(0.01)


def main_sync() -> None:
    if MODE == "chained":
        signal.signal(signal.SIGTERM, server_handler)
    baldur.install_shutdown_handler()
    workers = [threading.Thread(target=slow, args=(i,), daemon=True) for i in range(CALLS)]
    for worker in workers:
        worker.start()
    while baldur.calls_in_flight() < CALLS:
        time.sleep(0.005)
    print("ready", flush=True)
    probe_loop()


async def main_async() -> None:
    baldur.install_shutdown_handler()
    tasks = [asyncio.create_task(aslow(i)) for i in range(CALLS)]
    while baldur.calls_in_flight() < CALLS:
        await asyncio.sleep(0.005)
    print("ready", flush=True)
    last = ""
    while tasks:  # the tasks stay referenced until the process ends
        last = log_probe_if_changed(last)
        await asyncio.sleep(0.01)


if MODE == "async":
    asyncio.run(main_async())
else:
    main_sync()
