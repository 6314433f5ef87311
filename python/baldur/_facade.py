"""The facade: ``@baldur.protected`` and its function forms.

A protected sync function is a ``baldur._core.Protected``: calling it runs
the whole pipeline (breaker, retry, timeout, fallback) in Rust.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from baldur import _core
from baldur._zones import build_zone
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
            raise NotImplementedError(
                f"@baldur.protected({name!r}) on an async function is not available in this "
                "build of Baldur yet"
            )
        wrapper = _core.Protected(zone, func)
        functools.update_wrapper(wrapper, func)
        return wrapper  # type: ignore[return-value]

    return decorate


def zone_for_call(name: str, **keywords: Any) -> _core.Zone:
    """The zone of a function-form call (``baldur.protect``), built from its
    keywords. Zones whose keywords are all hashable are kept, so a callsite
    that passes the same keywords each time validates them once."""
    try:
        key = (name, frozenset(keywords.items()))
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
_call_zones: dict[tuple[str, frozenset[tuple[str, Any]]], _core.Zone] = {}


protect = _core.protect
protect_with_meta = _core.protect_with_meta
