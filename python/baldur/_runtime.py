"""The background runtime's life-cycle hooks.

The Rust runtime that serves Rust I/O starts on first use, never at import.
Installed here at import (installing starts nothing): it is shut down at
interpreter exit with the GIL released, so no worker thread is left to
re-take the GIL while the interpreter finalises; and a forked child
(gunicorn ``--preload``, Celery prefork, ``multiprocessing`` with fork)
forgets its parent's runtime, whose threads did not survive the fork, and
starts its own on first use; the fork itself waits for the audit trail's
SQLite transactions under way to end.
"""

from __future__ import annotations

import atexit
import os

import baldur._core as _core


def install_hooks() -> None:
    """Registers the exit and fork hooks (once per process, at import)."""
    atexit.register(_at_exit)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(
            before=_core.runtime_before_fork,
            after_in_parent=_core.runtime_after_fork_in_parent,
            after_in_child=_core.runtime_after_fork,
        )


def _at_exit() -> None:
    """The lease is given up (if this process leads), what the fleet must
    still hear (a probe's success, a trip) is sent, then the runtime stops."""
    _core.leader_release()
    _core.flush_stores()
    _core.audit_flush()
    _core.close_runtime()


async def ping() -> bool:
    """A round trip through the background runtime, awaited on the running
    event loop (starting the runtime if needed)."""
    return await _core.runtime_ping()


def status() -> tuple[bool, int]:
    """``(running, starts)``: whether the runtime is up, and how many times
    it was started in this process."""
    return _core.runtime_status()
