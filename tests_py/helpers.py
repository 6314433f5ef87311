"""Fakes and helpers shared by the test modules."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

import baldur


@dataclass(frozen=True)
class FastBreaker:
    """The breaker settings :func:`fast_breaker` put in force."""

    failure_threshold: int = 2
    minimum_calls: int = 2
    recovery_timeout: float = 0.1
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
        self.count = 0
        self._released = threading.Event()

    def __call__(self, *args: object, **kwargs: object) -> str:
        self.count += 1
        self.started.set()
        self._released.wait(self.limit)
        return "late"

    def release(self) -> None:
        self._released.set()


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


def eventually(check: Callable[[], bool], within: float = 5.0) -> None:
    """Waits until ``check()`` holds, failing the test after ``within`` s."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)
