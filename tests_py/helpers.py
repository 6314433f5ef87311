"""Fakes and helpers shared by the test modules."""

from __future__ import annotations

import importlib
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

import baldur


@dataclass(frozen=True)
class FastBreaker:
    """The breaker settings :func:`fast_breaker` put in force."""

    failure_threshold: int = 2
    minimum_calls: int = 2
    recovery_timeout: float = 0.5
    half_open_max_calls: int = 2


class Boom(ConnectionError):
    """The failure a fake dependency raises."""


class Flaky:
    """A fake dependency: raises the queued errors in order, then returns
    ``value``. Counts its calls and keeps the arguments of each."""

    def __init__(self, *errors: BaseException, value: object = "ok") -> None:
        self.errors = list(errors)
        self.value = value
        self.calls: list[tuple[tuple[object, ...], dict[str, object]]] = []

    @property
    def count(self) -> int:
        return len(self.calls)

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.calls.append((args, kwargs))
        if self.errors:
            raise self.errors.pop(0)
        return self.value


class AlwaysFails:
    """A fake dependency that is down: every call raises a fresh ``error_type``."""

    def __init__(self, error_type: type[Exception] = Boom) -> None:
        self.error_type = error_type
        self.count = 0
        self.raised: list[Exception] = []

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.count += 1
        error = self.error_type(f"failure #{self.count}")
        self.raised.append(error)
        raise error


def trip(name: str, settings: FastBreaker) -> None:
    """Opens the breaker of ``name`` with real failed calls."""
    for _ in range(settings.minimum_calls):
        with pytest.raises(Boom):
            baldur.protect(name, AlwaysFails())
    assert baldur.circuit_state(name) == "open"


class Stall:
    """A dependency that hangs: each call blocks until :meth:`release` (or
    ``limit`` seconds), then returns ``"late"``. Release it when the test
    ends, so no abandoned attempt thread outlives the test."""

    def __init__(self, limit: float = 10.0) -> None:
        self.limit = limit
        self.started = threading.Event()
        #: Set once a call has returned (released, or out of time).
        self.returned = threading.Event()
        self.count = 0
        self._released = threading.Event()

    def __call__(self, *args: object, **kwargs: object) -> str:
        self.count += 1
        self.started.set()
        self._released.wait(self.limit)
        self.returned.set()
        return "late"

    def release(self) -> None:
        self._released.set()


def work(seconds: float) -> None:
    """A thread's own work taking ``seconds`` of real time (a dependency
    answering, an operator's pace), the GIL released so other threads run.
    Not a test waiting for something: that is :func:`eventually`."""
    threading.Event().wait(seconds)


class Slow:
    """A slow dependency: each call takes ``seconds`` of real time (a call's
    timeout runs on real time, whatever the clock), then returns ``value``."""

    def __init__(self, seconds: float, value: object = "done") -> None:
        self.seconds = seconds
        self.value = value
        self.count = 0

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.count += 1
        work(self.seconds)
        return self.value


class Raising:
    """A dependency that is down: every call raises a fresh error from
    ``make`` (an exception type, or a function returning an exception)."""

    def __init__(self, make: Callable[[], BaseException]) -> None:
        self.make = make
        self.count = 0
        self.raised: list[BaseException] = []

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.count += 1
        error = self.make()
        self.raised.append(error)
        raise error


class Recorder:
    """An idempotent operation's side effect: records the key of each run;
    its first ``fail`` runs raise ``error``."""

    def __init__(self, fail: int = 0, error: BaseException | None = None) -> None:
        self.ran: list[object] = []
        self.fail, self.error = fail, error or Boom("down")

    def __call__(self, order_id: object, *args: object, **kwargs: object) -> str:
        self.ran.append(order_id)
        if len(self.ran) <= self.fail:
            raise self.error
        return f"done {order_id}"


#: How often the polling helpers look again.
POLL_SECONDS = 0.05


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    """Waits until `check()` holds, failing the test after `within` seconds.
    With :func:`throughout`, the one place the tests wait on real time: for
    what runs on its own (a background sync, a server, another process)."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(POLL_SECONDS)


def throughout(check: Callable[[], bool], during: float) -> None:
    """Asserts that `check()` holds for `during` seconds of real time: for
    what must not happen (a stray thread that must not start, a sync that
    must not undo a state), which has no moment to wait for."""
    deadline = time.monotonic() + during
    while True:
        assert check(), "the condition stopped holding"
        if time.monotonic() >= deadline:
            return
        time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def probed(name: str) -> bool:
    """Whether a successful call got through the breaker of ``name`` (it
    probes once recovery has passed): for :func:`eventually`."""
    try:
        baldur.protect(name, lambda: "up")
    except baldur.CircuitOpenError:
        return False
    return True


def require_module(name: str, extra: str) -> Any:
    """``pytest.importorskip`` that is a failure in CI (``CI=true``): CI
    installs every extra, so a missing one there is a broken setup, never
    a reason to skip."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is missing: CI installs the [{extra}] extra", pytrace=False)
        pytest.skip(f"{name} is not installed (the [{extra}] extra)", allow_module_level=True)


def failed_job(monkeypatch: pytest.MonkeyPatch, marker: str, order: str) -> dict[str, object]:
    """Imports the dead-letter jobs app afresh (``tests_py/apps/dlq_jobs.py``),
    lets one shipment fail into the queue, and turns the warehouse back on:
    returns that entry. Real runs are marked in the file ``marker``."""
    import sys
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).parent / "apps"))
    monkeypatch.setenv("BALDUR_TEST_MARKER", marker)
    monkeypatch.setenv("BALDUR_TEST_FAIL", "1")
    monkeypatch.delitem(sys.modules, "dlq_jobs", raising=False)
    import dlq_jobs

    with pytest.raises(ConnectionError):
        dlq_jobs.ship(order)
    monkeypatch.setenv("BALDUR_TEST_FAIL", "0")
    [entry] = baldur.dlq.list(domain="dlq-jobs")
    return entry
