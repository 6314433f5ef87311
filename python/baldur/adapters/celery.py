"""Celery: ``setup(celery_app)`` wires Baldur into the worker (``init()`` in
every worker process, after the prefork; a warm shutdown drains the
protected calls in flight), and ``@protected_task(celery_app, zone, ...)``
makes a function a Celery task whose body runs under
``@baldur.protected(zone, ...)``, so a run that fails for good is recorded
in the dead-letter queue with ``dlq=True``."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from baldur.adapters._requires import require

require("celery", "celery")

from celery import Celery  # noqa: E402
from celery.signals import (  # noqa: E402
    worker_init,
    worker_process_init,
    worker_process_shutdown,
    worker_shutting_down,
)

from baldur import _config, _shutdown  # noqa: E402
from baldur._facade import protected  # noqa: E402

F = TypeVar("F", bound=Callable[..., Any])

#: The apps already wired (by id: setup() may run from several modules).
_wired: set[int] = set()


def setup(app: Celery, **overrides: object) -> None:
    """Wires Baldur into ``app``'s workers, with ``overrides`` as ``init()``
    settings. Safe to call more than once."""
    if id(app) in _wired:
        return

    def initialise(**_: object) -> None:
        _config.init(**overrides)

    def stop_taking_work(**_: object) -> None:
        # From Celery's signal handling: flip, never block (a solo pool runs
        # the task on this very thread).
        _shutdown.begin_shutdown()

    def drain(**_: object) -> None:
        # A pool process exiting: what it still runs gets the drain window.
        _shutdown.shutdown()

    for signal, receiver in (
        (worker_init, initialise),
        (worker_process_init, initialise),
        (worker_shutting_down, stop_taking_work),
        (worker_process_shutdown, drain),
    ):
        signal.connect(receiver, weak=False)
    _wired.add(id(app))
    _config.init(**overrides)


def protected_task(
    app: Celery,
    zone: str,
    *,
    task_options: Mapping[str, Any] | None = None,
    **protect_options: Any,
) -> Callable[[F], Any]:
    """``@protected_task(app, "send-receipt", retry=True, dlq=True)``: the
    function, under ``@baldur.protected(zone, **protect_options)``, as a
    Celery task (``task_options`` go to ``app.task``)."""

    def decorate(func: F) -> Any:
        guarded = protected(zone, **protect_options)(func)

        # A plain function for Celery, which reads a task's signature and
        # module from it (the protected callable is a compiled object).
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            return guarded(*args, **kwargs)

        return app.task(**dict(task_options or {}))(run)

    return decorate
