"""Idempotency on async callsites (``async def`` under ``protected``,
``aprotected`` and ``idempotent``; ``aprotect`` and ``aprotect_with_meta``),
on asyncio and uvloop: concurrent duplicates, cancellation, and every way a
call can end without success releasing its claim."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

import baldur
from helpers import Boom, Recorder, require_module

Duplicate = baldur.IdempotencyDuplicateError
Runner = Callable[[Awaitable[Any]], Any]
NO_WAIT = baldur.RetryPolicy(attempts=3, base_delay=0, max_delay=0)


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Iterator[Runner]:
    if request.param == "uvloop":
        uvloop = require_module("uvloop", "dev")
        yield lambda coro: uvloop.run(coro)  # type: ignore[no-any-return]
    else:
        yield lambda coro: asyncio.run(coro)  # type: ignore[arg-type]


async def refused(awaitable: Awaitable[Any]) -> Duplicate:
    with pytest.raises(Duplicate) as info:
        await awaitable
    return info.value


def test_the_decorator_forms_find_the_key_like_sync_ones(run: Runner, zone_name: str) -> None:
    side_effect = Recorder()

    class Orders:
        @baldur.aprotected(zone_name, idempotency_key="order_id")
        async def ship(self, order_id: str, note: str = "") -> str:
            await asyncio.sleep(0)
            return side_effect(order_id)

    @baldur.idempotent(
        key=lambda order, **_: order["id"],
        operation=zone_name,
        payload=lambda order, amount: amount,
    )
    async def bill(order: dict[str, str], *, amount: int) -> int:
        return amount

    async def scenario() -> None:
        assert await Orders().ship("o-1") == "done o-1"
        again = await refused(Orders().ship(order_id="o-1", note="again"))
        assert (again.key, again.state, again.operation) == ("o-1", "completed", zone_name)
        assert await bill({"id": "b-1"}, amount=3) == 3
        assert type(await refused(bill({"id": "b-1", "note": "x"}, amount=3))) is Duplicate
        mismatch = await refused(bill({"id": "b-1"}, amount=4))
        assert isinstance(mismatch, baldur.IdempotencyPayloadMismatchError)
        assert mismatch.operation == zone_name
        with pytest.raises(baldur.IdempotencyKeyError):
            await Orders().ship(order_id=None)  # type: ignore[arg-type]

    run(scenario())
    assert side_effect.ran == ["o-1"]


def test_concurrent_duplicates_exactly_one_runs(run: Runner, zone_name: str) -> None:
    side_effect = Recorder()

    @baldur.protected(zone_name, idempotency_key="order_id")
    async def charge(order_id: str) -> str:
        await asyncio.sleep(0.05)
        return side_effect(order_id)

    async def slow() -> str:
        await asyncio.sleep(0.05)
        return side_effect("inline")

    async def scenario() -> tuple[list[Any], list[Any]]:
        decorated = await asyncio.gather(
            *(charge("o-1") for _ in range(10)), return_exceptions=True
        )
        inline = await asyncio.gather(
            *(baldur.aprotect(zone_name, slow, idempotency_key="i-1") for _ in range(10)),
            return_exceptions=True,
        )
        return decorated, inline

    for answers in run(scenario()):
        assert sum(not isinstance(a, BaseException) for a in answers) == 1
        states = [a.state for a in answers if isinstance(a, Duplicate)]
        assert states == ["in_progress"] * 9
    assert side_effect.ran == ["o-1", "inline"]


@pytest.mark.parametrize("where", ["attempt", "backoff"])
def test_cancellation_releases_the_claim(run: Runner, zone_name: str, where: str) -> None:
    entered = Recorder(fail=1 if where == "backoff" else 0)
    retry = baldur.RetryPolicy(attempts=2, base_delay=30, max_delay=30, jitter="none")

    @baldur.protected(zone_name, retry=retry, idempotency_key="order_id")
    async def charge(order_id: str, hang: bool) -> str:
        entered(order_id)
        if hang:
            await asyncio.sleep(30)
        return "charged"

    async def scenario() -> None:
        task = asyncio.ensure_future(charge("o-1", where == "attempt"))
        while not entered.ran:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.01)  # in the attempt, or in the backoff sleep
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await charge("o-1", False) == "charged"  # the same key runs again
        await refused(charge("o-1", False))

    run(scenario())


def test_the_claim_is_held_through_retries(run: Runner, zone_name: str) -> None:
    side_effect = Recorder(fail=2)
    states: list[str] = []

    @baldur.protected(zone_name, retry=NO_WAIT, idempotency_key="order_id")
    async def charge(order_id: str) -> str:
        if len(side_effect.ran) == 1:  # the second attempt
            states.append((await refused(charge(order_id))).state)
        return side_effect(order_id)

    async def scenario() -> None:
        assert await charge("o-1") == "done o-1"
        assert (await refused(charge("o-1"))).state == "completed"

    run(scenario())
    assert side_effect.ran == ["o-1"] * 3 and states == ["in_progress"]


@pytest.mark.parametrize(
    ("keywords", "fail", "first"),
    [
        ({}, 1, Boom),
        ({"retry": NO_WAIT, "fallback": lambda: "fb"}, 3, "fb"),
        ({"ignore": (Boom,)}, 1, Boom),
        ({"timeout": 0.05}, 0, baldur.ProtectTimeoutError),
    ],
    ids=["failure", "exhausted-fallback", "ignored", "timeout"],
)
def test_a_call_that_does_not_succeed_releases_its_claim(
    run: Runner, zone_name: str, keywords: dict[str, Any], fail: int, first: Any
) -> None:
    side_effect = Recorder(fail=fail)
    hung: list[bool] = []

    @baldur.protected(zone_name, idempotency_key="order_id", **keywords)
    async def charge(order_id: str) -> str:
        if "timeout" in keywords and not hung:
            hung.append(True)
            await asyncio.sleep(30)
        return side_effect(order_id)

    async def scenario() -> None:
        if isinstance(first, str):
            assert await charge("o-1") == first
        else:
            with pytest.raises(first):
                await charge("o-1")
        assert await charge("o-1") == "done o-1"
        await refused(charge("o-1"))

    run(scenario())


def test_an_open_breaker_rejection_releases_and_a_duplicate_skips_it(
    run: Runner, zone_name: str
) -> None:
    side_effect = Recorder()

    async def charge() -> str:
        return side_effect("o-1")

    async def other() -> str:
        return "other"

    async def scenario() -> None:
        assert await baldur.aprotect(zone_name, other) == "other"  # the breaker exists now
        baldur.force_open_circuit(zone_name)
        with pytest.raises(baldur.CircuitOpenError):
            await baldur.aprotect(zone_name, charge, idempotency_key="o-1")
        baldur.reset_circuit(zone_name)
        assert await baldur.aprotect(zone_name, charge, idempotency_key=lambda: "o-1") == "done o-1"
        baldur.force_open_circuit(zone_name)  # the claim comes first
        await refused(baldur.aprotect(zone_name, charge, idempotency_key="o-1"))
        with pytest.raises(baldur.IdempotencyKeyError):
            await baldur.aprotect(zone_name, charge, idempotency_key=lambda: None)

    run(scenario())
    assert side_effect.ran == ["o-1"]


def test_aprotect_with_meta_reports_duplicates_and_releases_failures(
    run: Runner, zone_name: str
) -> None:
    side_effect = Recorder(fail=1)

    async def charge() -> str:
        return side_effect("o-1")

    async def scenario() -> list[baldur.ProtectResult]:
        meta = baldur.aprotect_with_meta
        return [
            await meta(zone_name, charge, idempotency_key="o-1", fallback=lambda: "fb"),
            await meta(zone_name, charge, idempotency_key="o-1"),
            await meta(zone_name, charge, idempotency_key="o-1"),
            await meta(zone_name, charge, idempotency_key=lambda: None),
        ]

    failed, succeeded, duplicate, missing = run(scenario())
    assert (failed.ok, failed.value, failed.fallback_used) == (False, "fb", True)
    assert (succeeded.ok, succeeded.value, succeeded.attempts) == (True, "done o-1", 1)
    assert (duplicate.ok, duplicate.value, duplicate.attempts) == (False, None, 0)
    assert isinstance(duplicate.error, Duplicate) and duplicate.error.state == "completed"
    assert isinstance(missing.error, baldur.IdempotencyKeyError) and missing.attempts == 0


def test_a_stale_claim_is_taken_over_and_its_late_completion_blocked(
    run: Runner, zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    side_effect = Recorder()
    gates: list[asyncio.Event] = []

    @baldur.idempotent(key="order_id", operation=zone_name, execution_ttl=0.05)
    async def ship(order_id: str, hang: bool) -> str:
        if hang:
            gates.append(asyncio.Event())
            await gates[0].wait()
        return side_effect(order_id)

    async def scenario() -> None:
        stuck = asyncio.ensure_future(ship("o-1", True))
        await asyncio.sleep(0.2)
        assert await ship("o-1", False) == "done o-1"  # took the stale claim over
        gates[0].set()
        assert await stuck == "done o-1"  # its caller still gets its answer
        assert (await refused(ship("o-1", False))).state == "completed"

    caplog.set_level(logging.WARNING, logger="baldur.idempotency")
    run(scenario())
    events = [getattr(r, "event", "") for r in caplog.records]
    assert "idempotency.claim_taken_over" in events
    assert "idempotency.completion_blocked" in events
