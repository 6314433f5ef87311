"""The facade: ``@baldur.protected`` and its function forms.

A protected sync function is a ``baldur._core.Protected``: calling it runs
the whole pipeline (breaker, retry, timeout, fallback) in Rust.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from baldur import _async, _core
from baldur._zones import build_zone
from baldur.exceptions import CircuitOpenError
from baldur.retry import ExceptionTypes, RetryPolicy

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from baldur._options import ProtectOptions

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def zone_from_keywords(
    name: str,
    *,
    circuit_breaker: bool = True,
    retry: bool | RetryPolicy = False,
    fallback: Callable[..., Any] | None = None,
    timeout: float | None = None,
    idempotency_key: str | Callable[..., object] | None = None,
    idempotency_execution_ttl: float | None = None,
    idempotency_fail_open: bool = False,
    idempotency_payload: bool | Callable[..., object] | None = None,
    ignore: ExceptionTypes | tuple[()] = (),
    dlq: bool = False,
    bulkhead: object = None,
) -> _core.Zone:
    """The one place the facade's keywords are declared: every form passes
    its keywords through here, so an unknown one is a ``TypeError`` and a
    bad value a ``ConfigError``, the same everywhere."""
    return build_zone(
        name,
        circuit_breaker=circuit_breaker,
        retry=retry,
        fallback=fallback,
        timeout=timeout,
        ignore=ignore,
        unsupported={
            "idempotency_key": idempotency_key,
            "idempotency_execution_ttl": idempotency_execution_ttl,
            "idempotency_fail_open": idempotency_fail_open,
            "idempotency_payload": idempotency_payload,
            "dlq": dlq,
            "bulkhead": bulkhead,
        },
    )


def protected(name: str, **keywords: Unpack[ProtectOptions]) -> Callable[[F], F]:
    """Protects a function: circuit breaker by default, and retry, timeout
    and fallback by keyword, layered in the one order that keeps them
    working together.

    >>> import baldur
    >>> @baldur.protected("inventory-lookup", retry=True, fallback=lambda: [])
    ... def lookup(sku: str) -> list[str]:
    ...     return [sku]
    >>> lookup("A-1")
    ['A-1']

    Keywords: ``circuit_breaker=True``, ``retry=False`` (or a
    :class:`RetryPolicy`), ``fallback=None`` (a callable taking nothing, or
    the final exception), ``timeout=None`` (seconds, the whole call),
    ``ignore=()`` (exception types that are not failures).

    ``name`` is the dependency's identity: its breaker, retry domain and
    metrics label. The function keeps its name, docstring and signature, and
    works as a method.
    """
    zone = zone_from_keywords(name, **keywords)

    def decorate(func: F) -> F:
        if not callable(func):
            raise TypeError(f"@baldur.protected({name!r}) decorates a callable, not {func!r}")
        if inspect.iscoroutinefunction(func):
            return _protect_async(zone, func)  # type: ignore[return-value]
        wrapper = _core.Protected(zone, func)
        functools.update_wrapper(wrapper, func)
        return wrapper  # type: ignore[return-value]

    return decorate


def aprotected(name: str, **keywords: Unpack[ProtectOptions]) -> Callable[[F], F]:
    """The async-only form of :func:`protected`: a ``TypeError`` on a sync
    function, so a callsite that must be async cannot silently become sync.

    >>> import asyncio, baldur
    >>> @baldur.aprotected("inventory-async", retry=True)
    ... async def lookup(sku: str) -> str:
    ...     return sku
    >>> asyncio.run(lookup("A-1"))
    'A-1'
    """
    zone = zone_from_keywords(name, **keywords)

    def decorate(func: F) -> F:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(
                f"@baldur.aprotected({name!r}) needs an async def function, not {func!r}; "
                "use @baldur.protected for sync functions"
            )
        return _protect_async(zone, func)  # type: ignore[return-value]

    return decorate


def _protect_async(zone: _core.Zone, func: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """A real coroutine function (``inspect.iscoroutinefunction`` is true, so
    frameworks treat it as async) with the original's signature."""

    return functools.wraps(func)(_async.coroutine_function(zone, func))


async def aprotect(name: str, func: Callable[[], Awaitable[T]], **keywords: Any) -> T:
    """Awaits ``func()`` now, protected; the same keywords as
    :func:`protected`.

    >>> import asyncio, baldur
    >>> async def price() -> int:
    ...     return 42
    >>> asyncio.run(baldur.aprotect("pricing-async", price, retry=True))
    42
    """
    zone = _async_zone_for_call("aprotect", name, func, keywords)
    return await _async.coroutine_function(zone, func)()  # type: ignore[no-any-return]


async def aprotect_with_meta(
    name: str, func: Callable[[], Awaitable[Any]], **keywords: Any
) -> _core.ProtectResult:
    """Awaits ``func()`` now, protected, and reports the outcome as a
    :class:`ProtectResult` instead of raising the call's error.

    >>> import asyncio, baldur
    >>> async def broken() -> int:
    ...     raise ConnectionError("down")
    >>> result = asyncio.run(baldur.aprotect_with_meta("pricing-async", broken, fallback=lambda: 0))
    >>> (result.ok, result.value, result.fallback_used, type(result.error).__name__)
    (False, 0, True, 'ConnectionError')
    """
    zone = _async_zone_for_call("aprotect_with_meta", name, func, keywords)
    started = time.perf_counter()
    try:
        call = _core.AsyncCall(zone)
    except CircuitOpenError as rejected:
        return _core.rejected_result(zone, rejected, time.perf_counter() - started)
    value: Any = None
    error: BaseException | None = None
    fallback_used = False
    try:
        ok, outcome = await _async.attempts(call, func, (), {})
        if ok:
            value = outcome
        else:
            error = outcome
            if zone.fallback is not None:
                fallback_used = True
                value = await _async.answer_or_raise(zone, outcome)
    except Exception as unhandled:  # the call's error is reported, never raised
        ok, value, error = False, None, unhandled
    return call.result(
        value=value,
        ok=ok,
        fallback_used=fallback_used,
        error=error,
        duration_s=time.perf_counter() - started,
    )


def _async_zone_for_call(
    form: str, name: str, func: Callable[[], Awaitable[Any]], keywords: dict[str, Any]
) -> _core.Zone:
    if not callable(func):
        raise TypeError(f"baldur.{form}({name!r}, ...) needs a callable, not {func!r}")
    return zone_for_call(name, **keywords)


def zone_for_call(name: str, **keywords: Any) -> _core.Zone:
    """The zone of a function-form call (``baldur.protect``), built from its
    keywords. Zones whose keywords are all hashable are kept, so a callsite
    that passes the same keywords each time validates them once."""
    try:
        # Each value's type is part of the key: ``True == 1``, and a zone
        # built for ``retry=True`` must not answer for ``retry=1``.
        key = (name, frozenset((k, type(v), v) for k, v in keywords.items()))
        zone = _call_zones.get(key)
    except TypeError:  # an unhashable keyword value: build every time
        return zone_from_keywords(name, **keywords)
    if zone is None:
        zone = zone_from_keywords(name, **keywords)
        if len(_call_zones) >= _CALL_ZONES_MAX:
            _call_zones.clear()
        _call_zones[key] = zone
    return zone


# Bounded, because an inline lambda is a new key on every call.
_CALL_ZONES_MAX = 512
_call_zones: dict[tuple[str, frozenset[tuple[str, type, Any]]], _core.Zone] = {}


protect = _core.protect
protect_with_meta = _core.protect_with_meta
