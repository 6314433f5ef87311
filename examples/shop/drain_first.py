"""Keeps the web server answering while Baldur drains, so the drain can be
seen from outside: on SIGTERM, readiness turns 503, new checkouts get 503
+ ``Retry-After``, liveness stays 200, and only once the protected calls in
flight have finished (``BALDUR_SHUTDOWN_DRAIN_SECONDS`` at most) is the
signal passed on to the server's own graceful stop.

Why the examples need it: the adapters chain Baldur's SIGTERM handler to
the server's and call it at once, and gunicorn and uvicorn then stop
accepting connections immediately; a load balancer's readiness probe would
never see the 503, only a refused connection. A second SIGTERM stops the
server at once.

Call it after the adapter started Baldur (it wraps the handler chain
installed then), from the main thread."""

from __future__ import annotations

import os
import signal
import threading
from types import FrameType

import baldur


def hold_server_stop_until_drained() -> None:
    if threading.current_thread() is not threading.main_thread():
        return  # Python lets only the main thread set signal handlers
    chained = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGTERM, chained)  # the next SIGTERM goes straight on
        baldur.begin_shutdown()
        threading.Thread(
            target=_stop_when_drained, args=(signum,), name="drain-first", daemon=True
        ).start()

    signal.signal(signal.SIGTERM, on_sigterm)


def _stop_when_drained(signum: int) -> None:
    baldur.shutdown()  # waits for the protected calls in flight, bounded
    os.kill(os.getpid(), signum)  # now Baldur's handler, then the server's
