"""The async driver: the same pipeline as the sync one (claim, breaker,
retry, timeout, dead letter, fallback), awaited on the event loop.

The order and every decision (admission, attempt accounting, backoff, the
bound, settling the claim, the dead letter) are the Rust core's, through
``baldur._core.AsyncCall``; this module only awaits: the claim, the attempts,
the backoff sleeps (``asyncio.sleep``, never blocking the loop), the timeout
(the attempt is cancelled, so its ``finally`` runs) and a fallback that may
itself be async. Cancellation is never a failure: it is
not retried, not counted, runs no fallback, and returns a probe slot.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import baldur._core as _core

# AsyncCall.failed() answers, defined once in src/py/async_call.rs.
RETRY = _core.STEP_RETRY
PROPAGATE = _core.STEP_PROPAGATE
GIVE_UP = _core.STEP_GIVE_UP

AsyncFunction = Callable[..., Awaitable[Any]]


class _AttemptTimedOut(Exception):
    """The call's own bound expired during an attempt (never escapes)."""


def coroutine_function(
    zone: _core.Zone, func: AsyncFunction, key: object = None
) -> Callable[..., Any]:
    """``func`` under ``zone``, as a coroutine function: the async twin of the
    sync driver. ``key`` is a function-form call's idempotency key. On the
    fast path the first attempt is inlined, so a call that succeeds awaits
    one coroutine of ours, not a stack of them."""
    new_call = _core.AsyncCall
    spec = zone.idempotency
    run = attempts_for(zone)
    # With shared breakers, a worker's first call waits for one sync round:
    # awaited here, so the event loop runs meanwhile.
    first_sync = _core.first_sync

    if spec is not None:
        # The pipeline's first step, the claim, is awaited: against a remote
        # store its round trip runs on the background runtime, never
        # blocking the event loop. The call takes it from there.
        claim_for = _core.claim_for_async

        async def claimed_call(*args: Any, **kwargs: Any) -> Any:
            waiting = first_sync()
            if waiting is not None:
                await waiting
            claimed = claim_for(spec, args, kwargs, key)
            pending = await claimed if inspect.isawaitable(claimed) else claimed
            call = new_call(zone, func, args, kwargs, key, pending)
            ok, value = await run(call, func, args, kwargs)
            return value if ok else await settle_failure(call, zone, value)

        return claimed_call

    async def general_call(*args: Any, **kwargs: Any) -> Any:
        waiting = first_sync()
        if waiting is not None:
            await waiting
        call = new_call(zone, func, args, kwargs, key)
        ok, value = await run(call, func, args, kwargs)
        return value if ok else await settle_failure(call, zone, value)

    if zone.dlq:
        return general_call  # a dead letter needs the call's arguments from the start

    begin = _core.AsyncStart(zone).begin

    async def protected_call(*args: Any, **kwargs: Any) -> Any:
        # Most calls: admitted and started in one step, the attempt awaited
        # here, one more step to report it, in a frame kept small. The rest
        # (the first sync round to wait for, a bound, Baldur disabled, no
        # bulkhead permit free at once) goes the general way.
        call = begin()
        if call is None:
            return await general_call(*args, **kwargs)
        try:
            value = await func(*args, **kwargs)
        except BaseException as exc:
            verdict = call.failed(exc)
            if verdict == PROPAGATE:
                raise
            ok, value = await _after_failure(call, verdict, func, args, kwargs)
            return value if ok else await settle_failure(call, zone, value)
        call.succeeded()
        return value

    return protected_call


def attempts_for(
    zone: _core.Zone,
) -> Callable[[_core.AsyncCall, AsyncFunction, tuple[Any, ...], dict[str, Any]], Awaitable[Any]]:
    """What runs a started call of ``zone``: its attempts, after a bulkhead
    permit if the zone names a compartment (chosen once, so a zone without
    one pays nothing per call)."""
    return attempts if zone.bulkhead is None else permitted_attempts


async def permitted_attempts(
    call: _core.AsyncCall, func: AsyncFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[bool, Any]:
    """The bulkhead's step, then :func:`attempts` with the permit held. A
    full compartment ends the call as a give-up does (``(False,
    BulkheadFullError)``), which the fallback may answer."""
    taken = call.take_permit()
    if not isinstance(taken, bool):
        try:
            ticket = await taken  # the wait for a permit, off the event loop's thread
        except BaseException:
            call.abandon()  # cancelled: out of the line, the claim released
            raise
        taken = call.permitted(ticket)
    if not taken:
        return False, call.final_error
    return await attempts(call, func, args, kwargs)


async def attempts(
    call: _core.AsyncCall, func: AsyncFunction, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[bool, Any]:
    """Attempts from the one ``call`` has started until one returns
    (``(True, value)``) or the call gives up (``(False, final_error)``). An
    error that is not a failure propagates."""
    while True:
        budget = call.budget
        try:
            if budget is None:
                value = await func(*args, **kwargs)
            else:
                value = await _bounded(func(*args, **kwargs), budget)
        except _AttemptTimedOut:
            call.timed_out()
            return False, call.final_error
        except BaseException as exc:
            verdict = call.failed(exc)
            if verdict == PROPAGATE:
                raise
            if verdict == GIVE_UP:
                return False, call.final_error
            if not await _wait_and_start(call):
                return False, call.final_error
        else:
            call.succeeded()
            return True, value


async def _after_failure(
    call: _core.AsyncCall,
    verdict: int,
    func: AsyncFunction,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[bool, Any]:
    if verdict == GIVE_UP or not await _wait_and_start(call):
        return False, call.final_error
    return await attempts(call, func, args, kwargs)


async def _wait_and_start(call: _core.AsyncCall) -> bool:
    """The backoff sleep, then the next attempt. False when the call's bound
    ran out first."""
    delay = call.delay
    if delay > 0:
        try:
            await asyncio.sleep(delay)
        except BaseException:
            call.abandon()
            raise
    return call.start_attempt()


async def settle_failure(call: _core.AsyncCall, zone: _core.Zone, error: BaseException) -> Any:
    """:func:`answer_or_raise`, the call counted in flight until it is done
    (a drain waits for the fallback, as on the sync path)."""
    try:
        return await answer_or_raise(call, zone, error)
    finally:
        call.finished()


async def answer_or_raise(call: _core.AsyncCall, zone: _core.Zone, error: BaseException) -> Any:
    """The call gave up (its claim released and its dead letter recorded by
    then): the fallback answers (awaited if async) when the pipeline says
    so, else the final error, or the queue's refusal, is raised."""
    fallback = zone.fallback
    if fallback is None or not call.falls_back:
        raise error
    zone.count_fallback()
    try:
        answer = fallback(error) if zone.fallback_takes_error else fallback()
        if inspect.isawaitable(answer):
            answer = await answer
    except BaseException as fallback_error:
        # Chained as if the fallback had run in an `except` block.
        fallback_error.__context__ = error
        raise
    return answer


if sys.version_info >= (3, 11):

    async def _bounded(coro: Awaitable[Any], budget: float) -> Any:
        scope = asyncio.timeout(budget)
        try:
            async with scope:
                return await coro
        except TimeoutError:
            if scope.expired():
                raise _AttemptTimedOut from None
            raise

else:  # Python 3.10: no asyncio.timeout, and wait_for cannot tell its own
    # timeout from a TimeoutError the function raised itself.

    async def _bounded(coro: Awaitable[Any], budget: float) -> Any:
        task = asyncio.current_task()
        assert task is not None, "a protected coroutine runs inside a task"
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            task.cancel()

        deadline = asyncio.get_running_loop().call_later(budget, expire)
        try:
            return await coro
        except asyncio.CancelledError:
            if expired:
                raise _AttemptTimedOut from None
            raise
        finally:
            deadline.cancel()
