"""The function forms: ``protect``/``protect_with_meta`` (in Rust, see
src/py/call.rs) and ``aprotect``/``aprotect_with_meta``, and the zones they
call through."""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import baldur._async as _async
import baldur._core as _core
from baldur._facade import CALL, zone_from_keywords
from baldur._idempotency import GIVEN
from baldur.exceptions import WrongColourError

T = TypeVar("T")

# Bounded, because an inline lambda is a new key on every call.
_CALL_ZONES_MAX = 512
_call_zones: dict[tuple[str, frozenset[tuple[str, type, Any]]], _core.Zone] = {}


def zone_for_call(name: str, **keywords: Any) -> tuple[_core.Zone, object]:
    """The zone of a function-form call, and the idempotency key it was
    given (``None`` if none). A key given as a value travels with the call,
    not in the zone, so one zone serves every key. Zones whose keywords are
    all hashable are kept: a callsite passing the same keywords each time
    validates them once."""
    key = keywords.get("idempotency_key")
    if key is not None and not callable(key):
        keywords["idempotency_key"] = GIVEN
    else:
        key = None
    try:
        # Each value's type is part of the cache key: ``True == 1``, and a
        # zone built for ``retry=True`` must not answer for ``retry=1``.
        cache_key = (name, frozenset((k, type(v), v) for k, v in keywords.items()))
        zone = _call_zones.get(cache_key)
    except TypeError:  # an unhashable keyword value: build every time
        return zone_from_keywords(name, CALL, **keywords), key
    if zone is None:
        zone = zone_from_keywords(name, CALL, **keywords)
        if len(_call_zones) >= _CALL_ZONES_MAX:
            _call_zones.clear()
        _call_zones[cache_key] = zone
    return zone, key


async def aprotect(name: str, func: Callable[[], Awaitable[T]], **keywords: Any) -> T:
    """Awaits ``func()`` now, protected; the same keywords as ``protected``
    (``idempotency_key=`` is the key itself, or a callable returning it).

    >>> import asyncio, baldur
    >>> async def price() -> int:
    ...     return 42
    >>> asyncio.run(baldur.aprotect("pricing-async", price, retry=True))
    42
    """
    zone, key = _async_zone_for_call("aprotect", name, func, keywords)
    attempt = _awaited("aprotect", name, func)
    return await _async.coroutine_function(zone, attempt, key)()  # type: ignore[no-any-return]


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
    zone, key = _async_zone_for_call("aprotect_with_meta", name, func, keywords)
    started = time.perf_counter()
    try:
        pending: _core.PendingClaim | None = None
        if zone.idempotency is not None:
            claimed = _core.claim_for_async(zone.idempotency, (), None, key)
            pending = await claimed if inspect.isawaitable(claimed) else claimed
        # report=True: a rejection (recorded if dlq=True; a full queue's
        # refusal replaces it) is the result's error, never raised.
        call = _core.AsyncCall(zone, func, (), None, key, pending, report=True)
    except Exception as refused:  # a duplicate, a missing key: reported, not raised
        return _core.refused_result(zone, refused, time.perf_counter() - started, False)
    if not call.admitted:
        duration = time.perf_counter() - started
        error = call.final_error
        assert error is not None, "a call the breaker refused has its error"
        return _core.refused_result(zone, error, duration, call.rejected, call.dlq_id)
    value: Any = None
    error = None
    fallback_used = False
    try:
        run = _async.attempts_for(zone)
        ok, outcome = await run(call, _awaited("aprotect_with_meta", name, func), (), {})
        if ok:
            value = outcome
        else:
            error = outcome  # the final error, or the queue's refusal of its record
            if call.falls_back:
                fallback_used = True
                value = await _async.answer_or_raise(call, zone, outcome)
    except WrongColourError:
        raise  # the caller's mistake, not the call's outcome
    except Exception as unhandled:  # the call's error is reported, never raised
        ok, value, error = False, None, unhandled
    finally:
        call.finished()
    return call.result(
        value=value,
        ok=ok,
        fallback_used=fallback_used,
        error=error,
        duration_s=time.perf_counter() - started,
        dlq_id=call.dlq_id,
    )


def _async_zone_for_call(
    form: str, name: str, func: Callable[[], Awaitable[Any]], keywords: dict[str, Any]
) -> tuple[_core.Zone, object]:
    if not callable(func):
        raise TypeError(f"baldur.{form}({name!r}, ...) needs a callable, not {func!r}")
    return zone_for_call(name, **keywords)


def _awaited(form: str, name: str, func: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    """``func``, refusing loudly (and uncounted) if it turns out sync: a
    plain value is not an attempt that failed."""

    def attempt() -> Awaitable[Any]:
        awaitable = func()
        if not inspect.isawaitable(awaitable):
            raise WrongColourError(
                f"baldur.{form}({name!r}, ...) got {func!r}, which returned "
                f"{type(awaitable).__name__}, not an awaitable; use baldur.protect"
            )
        return awaitable

    return attempt


protect = _core.protect
protect_with_meta = _core.protect_with_meta


def forget_zones() -> None:
    """Forgets the function forms' cached zones (``baldur.testing.reset()``:
    each holds its name's breaker)."""
    _call_zones.clear()
