"""The bulkhead with real asyncio tasks: one compartment shared with threads,
waiting without blocking the event loop, and a cancelled task giving back
its place in line or its permit."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Callable

import pytest

import baldur

pytestmark = pytest.mark.timeout(30)

_names = itertools.count()


def compartment(max_concurrent: int, max_waiting: int = 0, wait_timeout: float = 1.0) -> str:
    name = f"test-async-compartment-{next(_names)}"
    baldur.register_compartment(
        name, max_concurrent=max_concurrent, max_waiting=max_waiting, wait_timeout=wait_timeout
    )
    return name


def occupancy(name: str) -> tuple[int, int]:
    snapshot = baldur.compartments()[name]
    return snapshot.active, snapshot.waiting


async def until(check: Callable[[], bool], within: float = 5.0) -> None:
    """Yields to the event loop until `check()` holds."""
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.005)


def test_tasks_never_run_more_calls_than_the_capacity() -> None:
    name = compartment(2, max_waiting=10, wait_timeout=10)
    running = 0
    most = 0
    release = asyncio.Event

    async def main() -> list[int]:
        nonlocal running, most
        gate = release()

        @baldur.protected("bulkhead-async", bulkhead=name)
        async def call(index: int) -> int:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await gate.wait()
            running -= 1
            return index

        tasks = [asyncio.create_task(call(index)) for index in range(6)]
        await until(lambda: occupancy(name) == (2, 4))
        gate.set()
        return await asyncio.gather(*tasks)

    assert asyncio.run(main()) == list(range(6))
    assert most == 2
    assert occupancy(name) == (0, 0)


def test_threads_and_tasks_share_one_compartment() -> None:
    name = compartment(1, max_waiting=2, wait_timeout=10)
    release = threading.Event()

    @baldur.protected("bulkhead-shared-sync", bulkhead=name)
    def hold() -> str:
        release.wait(10)
        return "sync"

    @baldur.aprotected("bulkhead-shared-async", bulkhead=name)
    async def call() -> str:
        return "async"

    async def main() -> tuple[str, str]:
        holder = asyncio.get_running_loop().run_in_executor(None, hold)
        await until(lambda: occupancy(name) == (1, 0))
        waiting = asyncio.create_task(call())
        await until(lambda: occupancy(name) == (1, 1))
        ticks = 0
        for _ in range(5):  # the loop runs while the task waits for its permit
            await asyncio.sleep(0)
            ticks += 1
        assert ticks == 5 and not waiting.done()
        release.set()
        return await holder, await waiting

    assert asyncio.run(main()) == ("sync", "async")
    assert occupancy(name) == (0, 0)


def test_a_full_compartment_is_answered_by_the_fallback_or_raised() -> None:
    name = compartment(1)

    async def main() -> None:
        gate = asyncio.Event()

        @baldur.protected("bulkhead-async-full", bulkhead=name)
        async def hold() -> None:
            await gate.wait()

        @baldur.protected("bulkhead-async-full", bulkhead=name, fallback=lambda: "fallback")
        async def answered() -> str:
            return "ran"

        holder = asyncio.create_task(hold())
        await until(lambda: occupancy(name) == (1, 0))
        with pytest.raises(baldur.BulkheadFullError, match=f"^{name}: 1/1 active, 0/0 waiting$"):
            await hold()
        assert await answered() == "fallback"
        result = await baldur.aprotect_with_meta("bulkhead-async-full", hold, bulkhead=name)
        assert (result.ok, result.attempts, type(result.error)) == (
            False,
            0,
            baldur.BulkheadFullError,
        )
        gate.set()
        await holder

    asyncio.run(main())
    assert occupancy(name) == (0, 0)
    assert baldur.circuit_state("bulkhead-async-full") == "closed"


def test_a_cancelled_waiter_leaves_the_line_and_a_cancelled_holder_returns_its_permit() -> None:
    name = compartment(1, max_waiting=2, wait_timeout=10)

    async def main() -> None:
        forever = asyncio.Event()

        @baldur.protected("bulkhead-async-cancel", bulkhead=name)
        async def hold() -> None:
            await forever.wait()

        holder = asyncio.create_task(hold())
        await until(lambda: occupancy(name) == (1, 0))
        waiter = asyncio.create_task(hold())
        await until(lambda: occupancy(name) == (1, 1))
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await until(lambda: occupancy(name) == (1, 0))
        holder.cancel()
        with pytest.raises(asyncio.CancelledError):
            await holder
        assert occupancy(name) == (0, 0)

    asyncio.run(main())
    assert baldur.circuit_state("bulkhead-async-cancel") == "closed"


def test_an_async_wait_times_out() -> None:
    name = compartment(1, max_waiting=1, wait_timeout=0.05)

    async def main() -> None:
        gate = asyncio.Event()

        @baldur.protected("bulkhead-async-wait", bulkhead=name)
        async def hold() -> None:
            await gate.wait()

        holder = asyncio.create_task(hold())
        await until(lambda: occupancy(name) == (1, 0))
        with pytest.raises(baldur.BulkheadFullError, match=f"^{name}: 1/1 active, 1/1 waiting$"):
            await hold()
        assert occupancy(name) == (1, 0)
        gate.set()
        await holder

    asyncio.run(main())
    assert occupancy(name) == (0, 0)
