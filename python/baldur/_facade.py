"""The facade: ``@baldur.protected`` and its function forms.

A protected sync function is a ``baldur._core.Protected``: calling it runs
the whole pipeline (breaker, retry, timeout, fallback) in Rust.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from baldur import _core
from baldur._zones import build_zone
from baldur.retry import ExceptionTypes, RetryPolicy

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


def protected(name: str, **keywords: Any) -> Callable[[F], F]:
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
            raise NotImplementedError(
                f"@baldur.protected({name!r}) on an async function is not available in this "
                "build of Baldur yet"
            )
        wrapper = _core.Protected(zone, func)
        functools.update_wrapper(wrapper, func)
        return wrapper  # type: ignore[return-value]

    return decorate


def protect(name: str, func: Callable[[], T], **keywords: Any) -> T:
    """Calls ``func()`` now, protected; the same keywords as
    :func:`protected`.

    >>> import baldur
    >>> baldur.protect("pricing", lambda: 42, retry=True)
    42
    """
    return _core.protect(_zone_for_call(name, func, keywords), func)  # type: ignore[no-any-return]


def protect_with_meta(name: str, func: Callable[[], Any], **keywords: Any) -> _core.ProtectResult:
    """Calls ``func()`` now, protected, and reports the outcome as a
    :class:`ProtectResult` instead of raising the call's error.

    >>> import baldur
    >>> result = baldur.protect_with_meta("pricing", lambda: 1 / 0, fallback=lambda: 0)
    >>> (result.ok, result.value, result.fallback_used, type(result.error).__name__)
    (False, 0, True, 'ZeroDivisionError')
    """
    return _core.protect_with_meta(_zone_for_call(name, func, keywords), func)


def _zone_for_call(name: str, func: Callable[[], Any], keywords: dict[str, Any]) -> _core.Zone:
    if not callable(func):
        raise TypeError(f"baldur.protect({name!r}, ...) needs a callable, not {func!r}")
    if inspect.iscoroutinefunction(func):
        raise TypeError(f"baldur.protect({name!r}, ...) got an async function; use baldur.aprotect")
    return zone_from_keywords(name, **keywords)
