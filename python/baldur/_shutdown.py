"""Graceful shutdown: on SIGTERM (or :func:`shutdown`), readiness turns 503
so the load balancer routes new traffic elsewhere, adapters refuse new
protected work with 503 + ``Retry-After`` (see :func:`is_shutting_down` and
:func:`baldur.endpoints.shutdown_refusal`), and the protected calls already
in flight get up to ``BALDUR_SHUTDOWN_DRAIN_SECONDS`` (30 by default) to
finish. Liveness and ping stay 200 throughout, so the orchestrator does not
hard-kill the process mid-drain.

The SIGTERM handler is chained, never a replacement: a server's own handler
(gunicorn's, uvicorn's) is called once the drain is over (a second SIGTERM
calls it at once), so the server keeps answering meanwhile: readiness says
503, new protected work gets 503 + ``Retry-After``, liveness 200. Then the
server runs its own graceful stop. With no handler before ours (plain Python), Baldur waits
for the drain and then exits with status 143 (128 + SIGTERM), running the
interpreter's exit hooks; if calls are still stuck at the deadline, the
signal's default action ends the process, as it would have without Baldur.

>>> import baldur
>>> baldur.install_shutdown_handler()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from types import FrameType
from typing import Any

import baldur._bus as _bus
import baldur._config as _config
import baldur._core as _core
import baldur._events as _events
import baldur._validate as _validate

#: How often a waiting drain looks at the in-flight count.
_POLL_SECONDS = 0.01
#: Where a drain stands once waiting for it is over (the core's names; a
#: drain cancelled meanwhile reads as serving).
_DRAIN_OVER = (_core.DRAIN_DRAINED, _core.DRAIN_DEADLINE_PASSED, _core.DRAIN_SERVING)

_lock = threading.Lock()
_installed: dict[int, Any] = {}
_exit_after_drain = threading.Event()
#: Set once the drain is over: SIGTERM now goes on to the server's handler.
_pass_on = threading.Event()


@dataclass(frozen=True)
class DrainReport:
    """How a drain ended."""

    #: Every protected call in flight finished before the deadline.
    drained: bool
    #: Calls still in flight when the wait ended.
    in_flight: int
    #: Seconds waited.
    waited_s: float


def is_shutting_down() -> bool:
    """Whether a drain has started: adapters refuse new protected work with
    503 + ``Retry-After`` from then on. One atomic read."""
    return _core.is_draining()


def calls_in_flight() -> int:
    """Protected calls running now, in this process."""
    return _core.drain_progress()[1]


def retry_after_seconds() -> int:
    """What a refusal's ``Retry-After`` says: the seconds left in the drain
    (at least 1)."""
    return max(1, _core.drain_seconds_left())


def begin_shutdown(timeout: float | None = None) -> bool:
    """Flips readiness to 503 and starts the drain clock without waiting.
    True for the call that started it."""
    seconds = _drain_seconds(timeout)
    started = _core.drain_start(seconds)
    if started:
        _bus.publish(_bus.HEALTH_CHANGED)
        _events.shutdown_event(
            "shutdown.drain_started",
            logging.INFO,
            in_flight=calls_in_flight(),
            drain_seconds=seconds,
        )
    return started


def shutdown(timeout: float | None = None) -> DrainReport:
    """For servers that own their signals: what SIGTERM does, then waits
    (blocking) until the protected calls in flight finish or ``timeout``
    (default ``BALDUR_SHUTDOWN_DRAIN_SECONDS``) passes. Call it from the
    server's shutdown hook, never from inside a protected call (it would
    wait for itself)."""
    begin_shutdown(timeout)
    return wait_for_drain()


def wait_for_drain() -> DrainReport:
    """Waits for the started drain to end (drained or past its deadline)."""
    started = time.monotonic()
    while True:
        state, count, _ = _core.drain_progress()
        if state in _DRAIN_OVER:
            break
        time.sleep(_POLL_SECONDS)
    report = DrainReport(state == _core.DRAIN_DRAINED, count, time.monotonic() - started)
    if report.drained:
        _events.shutdown_event(
            "shutdown.drain_completed", logging.INFO, waited_s=round(report.waited_s, 3)
        )
    else:
        _events.shutdown_event(
            "shutdown.drain_timeout",
            logging.WARNING,
            in_flight=report.in_flight,
            waited_s=round(report.waited_s, 3),
        )
    return report


def install_shutdown_handler(signum: int = signal.SIGTERM) -> None:
    """Installs Baldur's handler for ``signum``, chained to the one already
    installed. Call it from the main thread, after the server installed its
    own (an adapter does this at startup). Installing twice is harmless."""
    with _lock:
        current = signal.getsignal(signum)
        if current is _handle:
            return
        _installed[signum] = current
        signal.signal(signum, _handle)


def uninstall_shutdown_handler(signum: int = signal.SIGTERM) -> None:
    """Puts back the handler Baldur chained to (tests; a server reloading)."""
    with _lock:
        if signum in _installed and signal.getsignal(signum) is _handle:
            signal.signal(signum, _installed.pop(signum))


def _handle(signum: int, frame: FrameType | None) -> None:
    if _exit_after_drain.is_set():
        if _core.drain_progress()[0] == _core.DRAIN_DRAINED:
            # Every call finished: leave through the interpreter's exit
            # hooks (what must still reach the stores is flushed), with the
            # status a SIGTERM-killed process reports.
            raise SystemExit(128 + signum)
        # Calls are stuck past the deadline: end as SIGTERM would have.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    started = begin_shutdown()
    previous = _installed.get(signum)
    if callable(previous):
        if started and not _pass_on.is_set():
            # The server keeps serving while the calls in flight finish:
            # stopped now, it would refuse connections at once, and no
            # probe would ever see readiness say 503. Its own graceful
            # stop comes once the drain is over.
            threading.Thread(
                target=_pass_on_when_drained, args=(signum,), name="baldur-drain", daemon=True
            ).start()
            return
        # Drained, or a second SIGTERM during the drain: the server's stop now.
        previous(signum, frame)
    elif previous in (signal.SIG_DFL, None):
        # Nobody else would stop this process: exit once the drain ends.
        threading.Thread(
            target=_exit_when_drained, args=(signum,), name="baldur-drain", daemon=True
        ).start()
    # SIG_IGN: the app chose not to stop on this signal; readiness still flips.


def _pass_on_when_drained(signum: int) -> None:
    wait_for_drain()
    _pass_on.set()
    os.kill(os.getpid(), signum)  # back on the main thread: the server's handler


def _exit_when_drained(signum: int) -> None:
    wait_for_drain()
    _exit_after_drain.set()
    os.kill(os.getpid(), signum)  # wakes the main thread; _handle exits there


def _drain_seconds(timeout: float | None) -> float:
    if timeout is None:
        return _config.current().shutdown_drain_seconds
    return _validate.seconds("timeout", timeout, zero_allowed=True)


def resume_serving() -> None:
    """Back to serving, in this process: a drain belongs to one run of the
    app, and an app that starts again in place (a lifespan entered again,
    FastAPI's ``TestClient`` used twice) serves. Adapters call it when the
    first run active in the process starts; never during a run (it would
    cancel that run's drain)."""
    was = _core.drain_progress()[0]
    _core.drain_cancel()
    _exit_after_drain.clear()
    _pass_on.clear()
    if was != _core.DRAIN_SERVING:
        _bus.publish(_bus.HEALTH_CHANGED)
        _events.shutdown_event("shutdown.serving_resumed", logging.INFO, after=was)


def reset_for_tests() -> None:
    """Back to serving, in this process (tests only)."""
    resume_serving()
