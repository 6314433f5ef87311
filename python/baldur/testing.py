"""Testing code that Baldur protects: state back to a fresh process between
tests, waits off, and a manual clock.

Breakers, the idempotency gate, the kill switch, the metrics and the
shutdown drain live once per process, so what one test trips, claims or
disables would otherwise meet the next. :func:`reset` puts them back; call
it around each test. :func:`set_testing` turns the backoff waits off (a
retry with a 10 s delay retries at once; the delays are recorded for
:func:`skipped_waits`) and stops the clock every breaker, zone, drain and
idempotency store reads, which then moves only by :func:`advance`.

A pytest setup (``conftest.py``)::

    from collections.abc import Iterator

    import pytest
    import baldur.testing

    @pytest.fixture(autouse=True)
    def _baldur() -> Iterator[None]:
        baldur.testing.reset()
        with baldur.testing.set_testing(True):
            yield
        baldur.testing.reset()

Then a test waits out a breaker's recovery without sleeping::

    baldur.testing.advance(30)  # the default cb_recovery_timeout
    assert baldur.circuit_state("payments") == "half_open"

Nothing here touches a shared store: what a Redis holds (fleet breaker
state, completed idempotency keys, the shared kill-switch record, dead
letters) is the test's to clear, typically with a Redis of its own.

Besides these, drills: a store that fails on purpose, a predecessor's
leftovers in the write-ahead log, a short replay lease, a runtime stopped
under the caller, and the count of dead letters flushed to Redis.
"""

from __future__ import annotations

import gc
import threading
from types import TracebackType
from typing import Literal

from baldur import (
    _activity,
    _calls,
    _core,
    _kill_switch,
    _notify,
    _shutdown,
    _validate,
    _zones,
    dashboard,
    health,
)
from baldur.exceptions import ConfigError

__all__ = [
    "TestingMode",
    "advance",
    "dlq_flushed",
    "dlq_set_replay_lease",
    "inject_idempotency_store_fault",
    "is_testing",
    "replay_wal_now",
    "reset",
    "set_testing",
    "shutdown_runtime",
    "skipped_waits",
    "wal_append_json",
]

Clock = Literal["manual", "system"]

_lock = threading.Lock()
#: ``(waits off, clock manual)``: this module is the only one that switches
#: either, so it knows both without asking the core.
_mode: tuple[bool, bool] = (False, False)


def reset() -> None:
    """Puts this process's Baldur state back to what a fresh process has,
    keeping the configuration (``init()`` overrides stay):

    - breakers forgotten: a name starts closed with an empty window on its
      next call, and unknown to ``circuits()`` until then (a zone
      still in use, such as a decorated function's, keeps its breaker,
      closed and cleared);
    - the idempotency gate on a fresh memory store (completed keys run
      again; an injected fault is over), unless a shared store is configured;
    - the kill switch enabled, its local record removed;
    - every metric at zero, notifications' counts too;
    - notifications: budgets and cooldowns (this process's) fresh, nothing
      waiting to be posted or raised (what Baldur raised by itself during
      the last test is dropped, the one being handled waited for);
    - the shutdown drain over: serving again;
    - the health and dashboard caches, the recent-events ring and the
      recorded skipped waits emptied.

    The testing mode (:func:`set_testing`) and the clock's time stay as they are.

    >>> import baldur, baldur.testing
    >>> baldur.disable(reason="drill", actor="docs")
    >>> baldur.testing.reset()
    >>> baldur.is_baldur_enabled()
    True
    """
    # The zone caches first: a cached zone holds its breaker and counters,
    # which the core keeps (restarted, not forgotten) while anything holds
    # them. So does a finished test's garbage still waiting in a reference
    # cycle (an error's traceback holding the frame that held a decorated
    # function): the young generations are collected, which is cheap; a
    # full collection is not (a tenth of a second in a large process).
    gc.collect(1)
    # Each module puts its own state back, through the function it offers
    # for it: nothing here reaches into another module's private state.
    _calls.forget_zones()
    _core.testing_reset()
    _kill_switch.forget()
    _shutdown.reset_for_tests()
    _zones.forget_announcements()
    _activity.clear()
    _notify.forget_pending(timeout=2.0)
    health.invalidate_cache()
    dashboard.invalidate_cache()


def set_testing(on: bool, *, clock: Clock = "manual") -> TestingMode:
    """Turns the testing mode on or off, and returns a context manager that
    puts back the mode in force before this call.

    On: a retry's backoff is decided as usual but not slept (see
    :func:`skipped_waits`), and with ``clock="manual"`` the process's clock
    stops where it reads now, moving only by :func:`advance`; with
    ``clock="system"`` it keeps running. Off: waits are slept again and the
    clock runs (it continues from the manual reading, never going back).

    >>> import baldur.testing
    >>> with baldur.testing.set_testing(True):
    ...     baldur.testing.is_testing()
    True
    >>> baldur.testing.is_testing()
    False
    """
    on = _validate.flag("on", on)
    if clock not in ("manual", "system"):
        raise ConfigError("clock", clock, "'manual' or 'system'")
    with _lock:
        previous = _mode
        _apply(on, on and clock == "manual")
    return TestingMode(previous)


class TestingMode:
    """What :func:`set_testing` returns: as a context manager, it puts the
    previous mode back on exit. Ignoring it leaves the new mode in force."""

    # Not a test class, whatever pytest's name matching says.
    __test__ = False

    def __init__(self, previous: tuple[bool, bool]) -> None:
        self._previous = previous

    def __enter__(self) -> TestingMode:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        with _lock:
            _apply(*self._previous)


def is_testing() -> bool:
    """Whether the testing mode is on (waits off)."""
    return _mode[0]


def advance(seconds: float) -> None:
    """Moves the manual clock forward by ``seconds``: an open breaker whose
    recovery timeout passes reads half-open, a call's timeout and an
    idempotency key's TTL run out, as if that much time had gone by. The
    clock must be manual (``set_testing(True)``).

    >>> import baldur.testing
    >>> with baldur.testing.set_testing(True):
    ...     baldur.testing.advance(30.0)
    """
    seconds = _validate.seconds("seconds", seconds, zero_allowed=True)
    with _lock:
        if not _mode[1]:
            raise RuntimeError(
                "baldur.testing.advance() moves the manual clock, and the clock is the "
                "system's: call baldur.testing.set_testing(True) first"
            )
        _core.testing_advance(seconds)


def skipped_waits() -> list[float]:
    """The backoff delays, in seconds and in order, that retries did not
    sleep because the testing mode is on, since the last :func:`reset`.

    >>> import baldur, baldur.testing
    >>> failures = iter([ConnectionError("down")])
    >>> def flaky() -> str:
    ...     for error in failures:
    ...         raise error
    ...     return "ok"
    >>> policy = baldur.RetryPolicy(attempts=2, base_delay=10.0, jitter="none")
    >>> with baldur.testing.set_testing(True):
    ...     baldur.protect("docs-waits", flaky, retry=policy)
    'ok'
    >>> baldur.testing.skipped_waits()
    [10.0]
    """
    return _core.testing_skipped_waits()


def inject_idempotency_store_fault(reason: str | None) -> None:
    """A drill: with a reason, the idempotency store behaves as if its
    service were down (fail-closed calls raise
    :class:`~baldur.exceptions.IdempotencyUnavailableError`, fail-open ones
    run unclaimed); with ``None`` (or :func:`reset`), a fresh memory store
    is back."""
    _core.inject_idempotency_store_fault(reason)


def wal_append_json(payload: str) -> None:
    """Appends one write, given as the write-ahead log's own JSON, to this
    process's log: what a process that died before delivering it would have
    left there. ``ValueError`` if it is not such an entry, or no log is
    configured."""
    _core.wal_append_json(payload)


def replay_wal_now() -> None:
    """Replays the write-ahead log now, in the background (it also runs on
    its own when a shared store recovers and when the sync starts)."""
    _core.replay_wal_now()


def dlq_set_replay_lease(seconds: float) -> None:
    """Redis dead-letter claims made from now on take over one held longer
    than ``seconds`` (60 s by default): a test of a crashed replayer's entry
    need not wait a minute."""
    _core.dlq_set_replay_lease(_validate.seconds("seconds", seconds))


def dlq_flushed() -> int:
    """Dead-letter entries this process has carried from its local queue to
    Redis so far (they wait locally while Redis is down): a test polls it to
    know a flush happened."""
    return _core.dlq_flushed()


def shutdown_runtime() -> None:
    """A drill: stops the background I/O runtime, as the exit hook does; the
    next call that needs it starts a new one."""
    _core.shutdown_runtime()


def _apply(waits_off: bool, manual: bool) -> None:
    global _mode
    _core.testing_set_waits(not waits_off)
    if manual:
        _core.testing_use_manual_clock()
    else:
        _core.testing_use_system_clock()
    _mode = (waits_off, manual)
