"""Health checks: a registry of named checks, Baldur's own among them, and
the report the health endpoints serve (see :mod:`baldur.endpoints`).

A check is a callable taking no arguments. It answers ``None``/``True``
(healthy), ``False`` (failing), a status string, or a :class:`CheckResult`;
an exception is a failure whose message (URL passwords hidden) becomes the
detail; the endpoints show only its type. A *critical*
check's failure makes the whole report unhealthy; any other failure only
degrades it. A *readiness* check also decides ``health/ready/``.

>>> import baldur
>>> @baldur.health_check("database", readiness=True)
... def database() -> bool:
...     return True
>>> baldur.check_health(nocache=True).checks["database"].status
'healthy'
>>> baldur.unregister_check("database")
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, overload

import baldur._events as _events
from baldur._redact import redact_urls

Status = Literal["healthy", "degraded", "unhealthy"]
_RANK: Mapping[str, int] = {"healthy": 0, "degraded": 1, "unhealthy": 2}

#: How long a computed report answers ``health/`` before checks run again
#: (``?nocache=true`` bypasses it): frequent probes stay cheap.
CACHE_SECONDS = 5.0


@dataclass(frozen=True)
class CheckResult:
    """One check's answer. A check that raised keeps its exception's type in
    ``error_type`` and its message (URL passwords hidden) in ``detail``."""

    status: Status
    detail: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    error_type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The public view the endpoints serve: a check that raised shows its
        exception's type, never its message (it may hold a DSN)."""
        if self.error_type is not None:
            return {"status": self.status, "detail": self.error_type, "error_type": self.error_type}
        # The check's own data never hides its status or detail.
        return {**dict(self.data), "status": self.status, "detail": self.detail}


CheckAnswer = CheckResult | bool | str | None
CheckFunction = Callable[[], CheckAnswer]
F = TypeVar("F", bound=CheckFunction)


@dataclass(frozen=True)
class _Check:
    name: str
    func: CheckFunction
    critical: bool
    readiness: bool


@dataclass(frozen=True)
class HealthReport:
    """Every check's result and the verdict: the worst of them."""

    status: Status
    checks: Mapping[str, CheckResult]
    checked_at: float
    cached: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "checks": {name: result.as_dict() for name, result in self.checks.items()},
            "checked_at": self.checked_at,
            "cached": self.cached,
        }


_lock = threading.Lock()
_checks: dict[str, _Check] = {}
_cache: HealthReport | None = None
_cached_at = 0.0


def register_check(
    name: str, func: CheckFunction, *, critical: bool = True, readiness: bool = False
) -> None:
    """Adds (or replaces) the check ``name``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a health check needs a non-empty name, not {name!r}")
    if not callable(func):
        raise TypeError(f"health check {name!r} must be callable, not {func!r}")
    with _lock:
        _checks[name] = _Check(name, func, critical, readiness)
        _invalidate()


@overload
def health_check(name: F) -> F: ...
@overload
def health_check(
    name: str | None = None, *, critical: bool = True, readiness: bool = False
) -> Callable[[F], F]: ...


def health_check(
    name: str | F | None = None, *, critical: bool = True, readiness: bool = False
) -> Any:
    """Registers the decorated function as a check (named after it unless
    ``name`` is given)."""
    if callable(name):
        register_check(name.__name__, name, critical=critical, readiness=readiness)
        return name

    def decorate(func: F) -> F:
        register_check(name or func.__name__, func, critical=critical, readiness=readiness)
        return func

    return decorate


def unregister_check(name: str) -> None:
    """Removes the check ``name`` (``KeyError`` if there is none)."""
    with _lock:
        del _checks[name]
        _invalidate()


def registered_checks() -> list[str]:
    """The names of every registered check, Baldur's own included."""
    with _lock:
        return sorted(_checks)


def check_health(*, nocache: bool = False) -> HealthReport:
    """Runs every check, or answers from a report at most
    :data:`CACHE_SECONDS` old unless ``nocache``."""
    global _cache, _cached_at
    now = time.monotonic()
    with _lock:
        cached, cached_at = _cache, _cached_at
    if not nocache and cached is not None and now - cached_at < CACHE_SECONDS:
        return HealthReport(cached.status, cached.checks, cached.checked_at, cached=True)
    report = _run()
    with _lock:
        _cache, _cached_at = report, now
    return report


def check_readiness(*, nocache: bool = False) -> HealthReport:
    """The readiness checks' results, from the same (cached) run."""
    full = check_health(nocache=nocache)
    with _lock:
        names = {name for name, check in _checks.items() if check.readiness}
    checks = {name: result for name, result in full.checks.items() if name in names}
    return HealthReport(_worst(checks.values()), checks, full.checked_at, full.cached)


def _run() -> HealthReport:
    with _lock:
        checks = list(_checks.values())
    results = {check.name: _judge(check) for check in sorted(checks, key=lambda c: c.name)}
    return HealthReport(_worst(results.values()), results, time.time())


def _judge(check: _Check) -> CheckResult:
    failing: Status = "unhealthy" if check.critical else "degraded"
    try:
        answer = check.func()
    except Exception as error:
        _events.health_event(
            "health.check_failed", logging.WARNING, check=check.name, detail=repr(error)
        )
        return CheckResult(
            failing, redact_urls(f"{type(error).__name__}: {error}"), error_type=_type_name(error)
        )
    if answer is None or answer is True:
        return CheckResult("healthy")
    if answer is False:
        return CheckResult(failing)
    if isinstance(answer, CheckResult):
        if answer.status == "unhealthy" and not check.critical:
            return CheckResult("degraded", answer.detail, answer.data)
        return answer
    if isinstance(answer, str) and answer in _RANK:
        status: Status = answer  # type: ignore[assignment]
        return CheckResult("degraded" if status == "unhealthy" and not check.critical else status)
    return CheckResult(failing, f"check returned {type(answer).__name__}, not a status")


def _type_name(error: BaseException) -> str:
    """``ConnectionError``, or ``psycopg.OperationalError`` outside builtins."""
    kind = type(error)
    if kind.__module__ == "builtins":
        return kind.__qualname__
    return f"{kind.__module__}.{kind.__qualname__}"


def _worst(results: Any) -> Status:
    worst: Status = "healthy"
    for result in results:
        if _RANK[result.status] > _RANK[worst]:
            worst = result.status
    return worst


def _invalidate() -> None:
    global _cache
    _cache = None


def invalidate_cache() -> None:
    """Forgets the cached report (a state change the next probe must see).
    Takes no lock: the SIGTERM handler calls it, and may run on a thread
    that holds the lock already (one assignment is atomic under the GIL)."""
    _invalidate()
