"""The facade's decorators: ``@baldur.protected``, ``@baldur.aprotected``
and ``@baldur.idempotent``, and the one place their keywords are declared.

A protected sync function is a ``baldur._core.Protected``: calling it runs
the whole pipeline (idempotency, breaker, retry, timeout, fallback) in Rust.
A protected ``async def`` is a real coroutine function stepping the same
state machine (``baldur._async``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import baldur._async as _async
import baldur._core as _core
import baldur._dlq_registry as _dlq_registry
from baldur._idempotency import IdempotencyOptions, spec_for_call, spec_for_function
from baldur._zones import build_zone
from baldur.exceptions import ConfigError
from baldur.retry import ExceptionTypes, RetryPolicy

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from baldur._options import ProtectOptions

F = TypeVar("F", bound=Callable[..., Any])

#: zone_from_keywords' targets besides a function: a function-form call
#: (whose function takes no argument), or validation only.
CALL = object()
VALIDATE = object()


def zone_from_keywords(
    name: str,
    target: object,
    /,
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
    bulkhead: str | None = None,
) -> _core.Zone:
    """The one place the facade's keywords are declared: every form passes
    its keywords through here, so an unknown one is a ``TypeError`` and a
    bad value a ``ConfigError``, the same everywhere.

    ``target`` is the decorated function (the idempotency key names one of
    its arguments), :data:`CALL` for the function forms, or
    :data:`VALIDATE` to check the keywords before the function is known.
    """
    options = IdempotencyOptions.from_keywords(
        idempotency_key, idempotency_execution_ttl, idempotency_fail_open, idempotency_payload
    )
    spec = None
    if options is not None and target is not VALIDATE:
        if target is CALL:
            spec = spec_for_call(name, options)
        else:
            spec = spec_for_function(name, options, target)  # type: ignore[arg-type]
    return build_zone(
        name,
        circuit_breaker=circuit_breaker,
        retry=retry,
        fallback=fallback,
        timeout=timeout,
        ignore=ignore,
        unsupported={},
        dlq=dlq,
        bulkhead=bulkhead,
        idempotency=spec,
        idempotent=options is not None,
    )


def protected(name: str, **keywords: Unpack[ProtectOptions]) -> Callable[[F], F]:
    """Protects a function: circuit breaker by default, and retry, timeout,
    fallback and idempotency by keyword, layered in the one order that keeps
    them working together.

    >>> import baldur
    >>> @baldur.protected("inventory-lookup", retry=True, fallback=lambda: [])
    ... def lookup(sku: str) -> list[str]:
    ...     return [sku]
    >>> lookup("A-1")
    ['A-1']

    Keywords: ``circuit_breaker=True``, ``retry=False`` (or a
    :class:`RetryPolicy`), ``fallback=None`` (a callable taking nothing, or
    the final exception), ``timeout=None`` (seconds, the whole call),
    ``ignore=()`` (exception types that are not failures),
    ``idempotency_key=None`` (an argument's name, or a callable receiving
    the call's arguments), ``idempotency_execution_ttl``,
    ``idempotency_fail_open``, ``idempotency_payload``, ``bulkhead=None``
    (a registered compartment's name: a permit held through the attempts).

    ``name`` is the dependency's identity: its breaker, retry domain,
    idempotency namespace and metrics label. The function keeps its name,
    docstring and signature, and works as a method; an ``async def`` stays a
    coroutine function.
    """
    return _decorator("protected", name, keywords, async_only=False)


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
    return _decorator("aprotected", name, keywords, async_only=True)


def idempotent(
    key: str | Callable[..., object],
    *,
    operation: str | None = None,
    execution_ttl: float | None = None,
    fail_open: bool = False,
    payload: bool | Callable[..., object] | None = None,
) -> Callable[[F], F]:
    """Runs a function's side effect once per key. Sync or async.

    >>> import baldur
    >>> @baldur.idempotent(key="order_id")
    ... def ship(order_id: str) -> str:
    ...     return f"shipped {order_id}"
    >>> ship("o-1")
    'shipped o-1'

    Keys are namespaced by the function's module-qualified name, unless
    ``operation=`` names one logical operation that several entry points
    share (an HTTP handler and a worker guarding the same charge). A
    duplicate raises :class:`IdempotencyDuplicateError`.
    """
    options = IdempotencyOptions.from_keywords(key, execution_ttl, fail_open, payload, prefix="")
    if options is None:
        raise ConfigError("key", key, "an argument name, or a callable receiving the arguments")
    if operation is not None and (not isinstance(operation, str) or not operation.strip()):
        raise ConfigError("operation", operation, "a non-empty string, or None")

    def decorate(func: F) -> F:
        _check_callable("idempotent", key, func)
        inner = func.__func__ if isinstance(func, (staticmethod, classmethod)) else func
        namespace = operation or _qualified_name(inner)
        zone = build_zone(
            namespace,
            circuit_breaker=False,
            retry=False,
            fallback=None,
            timeout=None,
            ignore=(),
            unsupported={},
            idempotency=spec_for_function(namespace, options, inner),
            idempotent=True,
            default_timeout=False,
        )
        return _wrap(zone, func)

    return decorate


def _qualified_name(func: object) -> str:
    """``module.qualname`` of a function, or of a callable object's class."""
    named = func if hasattr(func, "__qualname__") else type(func)
    return f"{named.__module__}.{named.__qualname__}"


def _decorator(
    form: str, name: str, keywords: Mapping[str, Any], *, async_only: bool
) -> Callable[[F], F]:
    # Checked now, so a bad keyword fails where the decorator is written;
    # an idempotency key can only be resolved once the function is known.
    zone = zone_from_keywords(name, VALIDATE, **keywords)
    needs_function = keywords.get("idempotency_key") is not None

    def decorate(func: F) -> F:
        _check_callable(form, name, func)
        inner = func.__func__ if isinstance(func, (staticmethod, classmethod)) else func
        if async_only and not inspect.iscoroutinefunction(inner):
            raise TypeError(
                f"@baldur.aprotected({name!r}) needs an async def function, not {func!r}; "
                "use @baldur.protected for sync functions"
            )
        final = zone_from_keywords(name, inner, **keywords) if needs_function else zone
        return _wrap(final, func)

    return decorate


def _check_callable(form: str, name: object, func: object) -> None:
    if isinstance(func, (staticmethod, classmethod)):
        func = func.__func__
    if not callable(func):
        raise TypeError(f"@baldur.{form}({name!r}) decorates a callable, not {func!r}")
    if inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func):
        # A generator's work runs while it is iterated, after the call has
        # returned: nothing would be protected.
        raise TypeError(
            f"@baldur.{form}({name!r}) cannot protect the generator function "
            f"{getattr(func, '__qualname__', func)}: protect the call that consumes it instead"
        )


def _wrap(zone: _core.Zone, func: F) -> F:
    """The protected callable; a staticmethod or classmethod stays one."""
    if isinstance(func, (staticmethod, classmethod)):
        return type(func)(_wrap(zone, func.__func__))
    if zone.dlq:
        _dlq_registry.register(zone, func)  # what a dead-letter replay may call
    if inspect.iscoroutinefunction(func):
        return _protect_async(zone, func)  # type: ignore[return-value]
    wrapper = _core.Protected(zone, func)
    functools.update_wrapper(wrapper, func)
    return wrapper  # type: ignore[return-value]


def _protect_async(zone: _core.Zone, func: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    """A real coroutine function (``inspect.iscoroutinefunction`` is true, so
    frameworks treat it as async) with the original's signature."""
    wrapper = functools.wraps(func)(_async.coroutine_function(zone, func))
    wrapper.__baldur_zone__ = zone  # type: ignore[attr-defined]  # the DLQ's replay reads it
    return wrapper
