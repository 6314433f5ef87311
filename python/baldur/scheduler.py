"""``baldur.scheduler``: functions run on a schedule, in the background.

>>> @baldur.scheduled("refresh-rates", every=300)
... def refresh_rates() -> None:
...     rates.refresh()

>>> @baldur.scheduled("nightly-report", at="02:30", leader_only=True)
... def nightly_report() -> None:
...     report.send()

A task runs on Baldur's scheduler thread (one per process, in the Rust
core), from ``baldur.init()`` or its decoration, whichever comes later. An
``every`` task is due one interval after the previous run was due (a run
that overran skips the ticks it missed, never bursts); an ``at`` task once a
day at that local time. ``leader_only=True`` runs it on the fleet's leader
alone (without Redis every process leads itself). A run that raises is
logged (``scheduler.run_failed``, the exception's type and its redacted
message), counted, and tried again on the next tick: nothing a task does
stops the scheduler. :func:`status` shows each task's runs, failures, last
error and next run.
"""

from __future__ import annotations

import atexit
import dataclasses
import inspect
from collections.abc import Callable
from typing import TypeVar

import baldur._core as _core
from baldur._redact import redact_urls
from baldur.exceptions import ConfigError

__all__ = ["SchedulerStatus", "TaskStatus", "cancel", "scheduled", "status", "task"]

F = TypeVar("F", bound=Callable[[], object])

#: How long the exit hook waits for a run under way to end.
STOP_BOUND_SECONDS = 2.0
#: A failed run's message is cut to this many characters in the log.
MAX_ERROR_CHARS = 500


@dataclasses.dataclass(frozen=True)
class TaskStatus:
    """One scheduled task: its cadence (``every`` seconds or ``at``
    ``"HH:MM"``), its counts, the last failure (``None`` once a run
    returns) and when it runs next (seconds since the epoch)."""

    name: str
    every: float | None
    at: str | None
    leader_only: bool
    runs: int
    failures: int
    #: Ticks skipped because a run overran its interval.
    skipped: int
    #: Ticks passed over because this process did not lead.
    not_leader: int
    last_error: str | None
    running: bool
    next_run: float


@dataclasses.dataclass(frozen=True)
class SchedulerStatus:
    """Whether the scheduler's thread runs, and every task by name."""

    running: bool
    tasks: dict[str, TaskStatus]


def scheduled(
    name: str, *, every: float | None = None, at: str | None = None, leader_only: bool = False
) -> Callable[[F], F]:
    """Runs the decorated function (no arguments) on a schedule: exactly one
    of ``every=`` seconds and ``at="HH:MM"`` (local time, 24-hour). A bad
    value, both or neither, and a name already scheduled in this process
    raise :class:`~baldur.exceptions.ConfigError`. The function is returned
    unchanged (it can still be called directly).

    >>> @baldur.scheduled("sweep-carts", every=60, leader_only=True)
    ... def sweep_carts() -> None: ...
    """
    if not isinstance(name, str) or not name:
        raise ConfigError("name", name, "a non-empty str")
    if every is not None and (isinstance(every, bool) or not isinstance(every, (int, float))):
        raise ConfigError("every", every, "a number of seconds > 0")
    if at is not None and not isinstance(at, str):
        raise ConfigError("at", at, 'a local time "HH:MM"')
    if not isinstance(leader_only, bool):
        raise ConfigError("leader_only", leader_only, "True or False")

    def decorate(func: F) -> F:
        schedule(name, func, every=every, at=at, leader_only=leader_only)
        return func

    return decorate


def schedule(
    name: str,
    func: Callable[[], object],
    *,
    every: float | None = None,
    at: str | None = None,
    leader_only: bool = False,
) -> None:
    """:func:`scheduled` without the decorator: ``func`` runs as ``name``."""
    if inspect.iscoroutinefunction(func):
        raise ConfigError("func", func, "a function (async def is not scheduled)")
    if not callable(func):
        raise ConfigError("func", func, "a function of no arguments")
    _core.scheduler_add(name, None if every is None else float(every), at, leader_only, _run(func))


def cancel(name: str) -> bool:
    """Stops scheduling the task ``name`` (a run under way finishes). False
    when no task has that name."""
    return _core.scheduler_remove(name)


def start() -> None:
    """Starts the scheduler's thread (``init()`` calls it): the tasks
    scheduled so far run from now, later ones from their decoration."""
    _core.scheduler_start()


def status() -> SchedulerStatus:
    """Every task, and whether the scheduler's thread runs.

    >>> baldur.scheduler.status().tasks["sweep-carts"].failures
    0
    """
    rows, running = _core.scheduler_status()
    tasks = {row[0]: TaskStatus(*row) for row in rows}
    return SchedulerStatus(running=running, tasks=tasks)


def task(name: str) -> TaskStatus | None:
    """One task's status, or ``None``."""
    return status().tasks.get(name)


def close() -> None:
    """Stops the scheduler for good, waiting up to :data:`STOP_BOUND_SECONDS`
    for a run under way (the exit hook)."""
    _core.scheduler_close(STOP_BOUND_SECONDS)


def install_exit_hook() -> None:
    """Registers :func:`close` to run at interpreter exit (``baldur``'s
    ``__init__`` does, after the runtime's hook so that it runs before it:
    a task may still use the runtime)."""
    atexit.register(close)


def _run(func: Callable[[], object]) -> Callable[[], tuple[str, str] | None]:
    """What the core calls: ``None`` when ``func`` returned, else the
    exception's type and its message, with URL passwords masked and cut to
    :data:`MAX_ERROR_CHARS`."""

    def run() -> tuple[str, str] | None:
        try:
            func()
        except Exception as error:
            kind = type(error)
            name = kind.__qualname__
            if kind.__module__ != "builtins":
                name = f"{kind.__module__}.{name}"
            return name, redact_urls(str(error))[:MAX_ERROR_CHARS]
        return None

    return run
