"""The async pipeline: every keyword that works on a sync call works on an
``async def``, awaited on real event loops (asyncio, and uvloop)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest

import baldur
import baldur.testing
from helpers import FastBreaker, require_module

Runner = Callable[[Awaitable[Any]], Any]


@pytest.fixture(params=["asyncio", "uvloop"])
def run(request: pytest.FixtureRequest) -> Iterator[Runner]:
    """Runs a coroutine to completion on a fresh loop of each kind."""
    if request.param == "uvloop":
        uvloop = require_module("uvloop", "dev")
        yield lambda coro: uvloop.run(coro)  # type: ignore[no-any-return]
    else:
        yield lambda coro: asyncio.run(coro)  # type: ignore[arg-type]


def test_protected_async_def_is_a_real_coroutine_function(zone_name: str) -> None:
    async def fetch(order_id: str, *, verbose: bool = False) -> str:
        """Fetches an order."""
        return order_id

    protected = baldur.protected(zone_name, retry=True)(fetch)
    assert inspect.iscoroutinefunction(protected)
    assert inspect.signature(protected) == inspect.signature(fetch)
    assert protected.__name__ == "fetch"
    assert protected.__doc__ == "Fetches an order."
    assert protected.__wrapped__ is fetch  # type: ignore[attr-defined]


def test_aprotected_refuses_a_sync_function(zone_name: str) -> None:
    with pytest.raises(TypeError, match="async"):
        baldur.aprotected(zone_name)(lambda: 1)


def test_sync_protect_refuses_an_async_function(zone_name: str) -> None:
    async def fetch() -> int:
        return 1

    with pytest.raises(TypeError, match="aprotect"):
        baldur.protect(zone_name, fetch)


def test_success_returns_the_value_and_counts_a_call(run: Runner, zone_name: str) -> None:
    @baldur.aprotected(zone_name, retry=True, fallback=lambda: "fallback")
    async def fetch(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    assert run(fetch(21)) == 42
    assert baldur.circuits()[zone_name]["calls"] == 1


def test_works_as_a_method(run: Runner, zone_name: str) -> None:
    class Client:
        factor = 3

        @baldur.protected(zone_name)
        async def scale(self, x: int) -> int:
            return x * self.factor

    assert run(Client().scale(2)) == 6


def test_retry_backs_off_on_the_loop_without_blocking_it(run: Runner, zone_name: str) -> None:
    attempts = 0
    ticks = 0

    @baldur.protected(
        zone_name, retry=baldur.RetryPolicy(attempts=3, base_delay=0.05, jitter="none")
    )
    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts < 3:
            raise ConnectionError("blip")
        return "ok"

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async def scenario() -> str:
        tick_task = asyncio.create_task(ticker())
        try:
            return await flaky()
        finally:
            tick_task.cancel()

    assert run(scenario()) == "ok"
    assert attempts == 3
    # 0.05 s + 0.1 s of backoff: a blocked loop would not have ticked at all.
    assert ticks >= 5


def test_timeout_cancels_the_attempt_and_its_finally_runs(run: Runner, zone_name: str) -> None:
    cleaned_up = []

    @baldur.protected(zone_name, timeout=0.05)
    async def hang() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            cleaned_up.append(True)

    started = time.monotonic()
    with pytest.raises(baldur.ProtectTimeoutError) as raised:
        run(hang())
    assert time.monotonic() - started < 2.0
    assert cleaned_up == [True]
    assert isinstance(raised.value, TimeoutError)
    assert baldur.circuits()[zone_name]["failures"] == 1


def test_timeout_bounds_retries_and_backoff_together(run: Runner, zone_name: str) -> None:
    attempts = 0

    @baldur.protected(
        zone_name,
        circuit_breaker=False,  # fifty failures would trip it before the bound
        retry=baldur.RetryPolicy(attempts=50, base_delay=0.02, max_delay=0.02, jitter="none"),
        timeout=0.2,
        fallback=lambda exc: type(exc).__name__,
    )
    async def failing() -> str:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("down")

    started = time.monotonic()
    assert run(failing()) == "ProtectTimeoutError"
    assert time.monotonic() - started < 2.0
    assert 2 <= attempts < 50


def test_user_timeout_error_inside_the_budget_is_an_ordinary_failure(
    run: Runner, zone_name: str
) -> None:
    @baldur.protected(zone_name, timeout=5)
    async def client_timeout() -> None:
        raise TimeoutError("the client's own read timeout")

    with pytest.raises(TimeoutError, match="client's own") as raised:
        run(client_timeout())
    assert not isinstance(raised.value, baldur.ProtectTimeoutError)


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_fallback_may_be_sync_or_async_and_may_take_the_error(
    run: Runner, zone_name: str, kind: str
) -> None:
    if kind == "sync":

        def fallback(exc: BaseException) -> str:
            return f"sync:{exc}"
    else:

        async def fallback(exc: BaseException) -> str:  # type: ignore[misc]
            await asyncio.sleep(0)
            return f"async:{exc}"

    @baldur.protected(zone_name, fallback=fallback)
    async def failing() -> str:
        raise ConnectionError("down")

    assert run(failing()) == f"{kind}:down"


def test_a_failing_fallback_chains_the_original_error(run: Runner, zone_name: str) -> None:
    async def broken_fallback() -> str:
        raise RuntimeError("fallback broke")

    @baldur.protected(zone_name, fallback=broken_fallback)
    async def failing() -> str:
        raise ConnectionError("down")

    with pytest.raises(RuntimeError, match="fallback broke") as raised:
        run(failing())
    assert isinstance(raised.value.__context__, ConnectionError)


def test_ignored_and_client_errors_propagate_untouched(run: Runner, zone_name: str) -> None:
    calls = 0
    request = httpx.Request("GET", "https://api.example/orders/1")
    not_found = httpx.HTTPStatusError(
        "404", request=request, response=httpx.Response(404, request=request)
    )

    @baldur.protected(zone_name, retry=True, ignore=(KeyError,), fallback=lambda: "fallback")
    async def lookup(error: BaseException) -> None:
        nonlocal calls
        calls += 1
        raise error

    with pytest.raises(KeyError):
        run(lookup(KeyError("sku")))
    with pytest.raises(httpx.HTTPStatusError):
        run(lookup(not_found))
    assert calls == 2
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["calls"], snapshot["failures"]) == (2, 0)


def test_server_errors_are_retried_and_counted(run: Runner, zone_name: str) -> None:
    calls = 0
    request = httpx.Request("GET", "https://api.example/orders/1")
    unavailable = httpx.HTTPStatusError(
        "503", request=request, response=httpx.Response(503, request=request)
    )

    @baldur.protected(zone_name, retry=baldur.RetryPolicy(attempts=3, base_delay=0))
    async def lookup() -> None:
        nonlocal calls
        calls += 1
        raise unavailable

    with pytest.raises(httpx.HTTPStatusError):
        run(lookup())
    assert calls == 3
    assert baldur.circuits()[zone_name]["failures"] == 3


@pytest.mark.usefixtures("testing_mode")
def test_half_open_admits_only_the_probe_budget_under_a_burst(
    run: Runner, zone_name: str, fast_breaker: FastBreaker
) -> None:
    @baldur.protected(zone_name)
    async def slow_dependency() -> str:
        await asyncio.sleep(0.05)
        return "ok"

    @baldur.protected(zone_name)
    async def failing() -> None:
        raise ConnectionError("down")

    async def trip() -> None:
        for _ in range(fast_breaker.minimum_calls):
            try:
                await failing()
            except ConnectionError:
                pass

    run(trip())
    assert baldur.circuit_state(zone_name) == "open"
    baldur.testing.advance(fast_breaker.recovery_timeout)

    async def burst() -> list[object]:
        tasks = [slow_dependency() for _ in range(200)]
        return await asyncio.gather(*tasks, return_exceptions=True)

    outcomes = run(burst())
    admitted = [o for o in outcomes if o == "ok"]
    rejected = [o for o in outcomes if isinstance(o, baldur.CircuitOpenError)]
    assert len(admitted) == fast_breaker.half_open_max_calls
    assert len(rejected) == 200 - fast_breaker.half_open_max_calls
    assert baldur.circuit_state(zone_name) == "closed"


def test_cancellation_is_not_a_failure(run: Runner, zone_name: str) -> None:
    attempts = 0
    fallbacks = 0

    def fallback() -> str:
        nonlocal fallbacks
        fallbacks += 1
        return "fallback"

    @baldur.protected(zone_name, retry=True, fallback=fallback)
    async def hang() -> None:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(10)

    async def scenario() -> None:
        task = asyncio.create_task(hang())
        await asyncio.sleep(0.02)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        run(scenario())
    assert attempts == 1
    assert fallbacks == 0
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["calls"], snapshot["failures"]) == (0, 0)


@pytest.mark.usefixtures("testing_mode")
def test_a_cancelled_probe_returns_its_slot(
    run: Runner, zone_name: str, configure: Callable[..., None]
) -> None:
    configure(cb_half_open_max_calls=1, cb_recovery_timeout=0.05)

    @baldur.protected(zone_name)
    async def probe(wait: float) -> str:
        await asyncio.sleep(wait)
        return "ok"

    @baldur.protected(zone_name)
    async def failing() -> None:
        raise ConnectionError("down")

    async def trip() -> None:
        for _ in range(10):
            try:
                await failing()
            except ConnectionError:
                pass

    run(trip())
    assert baldur.circuit_state(zone_name) == "open"
    baldur.testing.advance(0.1)

    async def scenario() -> str:
        first = asyncio.create_task(probe(10))
        await asyncio.sleep(0.01)
        assert baldur.circuit_state(zone_name) == "half_open"
        # The only probe slot is taken: a second call is refused...
        with pytest.raises(baldur.CircuitOpenError):
            await probe(0)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        # ...and once the probe is cancelled, its slot is free again.
        return await probe(0)

    assert run(scenario()) == "ok"
    assert baldur.circuit_state(zone_name) == "closed"


def test_cancellation_during_backoff_propagates(run: Runner, zone_name: str) -> None:
    attempts = 0

    @baldur.protected(zone_name, retry=baldur.RetryPolicy(attempts=3, base_delay=5, jitter="none"))
    async def failing() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("down")

    async def scenario() -> None:
        task = asyncio.create_task(failing())
        await asyncio.sleep(0.05)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        run(scenario())
    assert attempts == 1


def test_sync_and_async_callsites_share_one_breaker(
    run: Runner, zone_name: str, fast_breaker: FastBreaker
) -> None:
    @baldur.protected(zone_name)
    def sync_failing() -> None:
        raise ConnectionError("down")

    @baldur.protected(zone_name)
    async def async_call() -> str:
        return "ok"

    for _ in range(fast_breaker.minimum_calls):
        with pytest.raises(ConnectionError):
            sync_failing()
    with pytest.raises(baldur.CircuitOpenError):
        run(async_call())


def test_breaker_opening_mid_retry_stops_the_attempts(
    run: Runner, zone_name: str, fast_breaker: FastBreaker
) -> None:
    attempts = 0

    @baldur.protected(zone_name, retry=baldur.RetryPolicy(attempts=10, base_delay=0))
    async def failing() -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        run(failing())
    assert attempts == fast_breaker.minimum_calls
    assert baldur.circuit_state(zone_name) == "open"


def test_thousands_of_concurrent_tasks_on_one_zone(run: Runner, zone_name: str) -> None:
    @baldur.protected(zone_name, retry=True)
    async def handler(i: int) -> int:
        await asyncio.sleep(0)
        return i

    async def scenario() -> list[int]:
        return await asyncio.gather(*(handler(i) for i in range(5000)))

    assert run(scenario()) == list(range(5000))
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["calls"], snapshot["failures"], snapshot["state"]) == (5000, 0, "closed")


def test_each_call_starts_afresh_after_the_one_before_it(run: Runner, zone_name: str) -> None:
    """Calls one after another, and interleaved: nothing of an earlier call
    (its attempts, its errors, its fallback) carries into a later one."""
    script: dict[str, list[BaseException | None]] = {
        "flaky": [ConnectionError("once"), None],
        "down": [ConnectionError("down"), ConnectionError("still down")],
        "fine": [None],
        "ignored": [KeyError("sku")],
    }
    attempts: list[str] = []

    @baldur.protected(
        zone_name,
        retry=baldur.RetryPolicy(attempts=2, base_delay=0),
        ignore=(KeyError,),
        fallback=lambda exc: f"fallback:{exc}",
    )
    async def call(name: str) -> str:
        attempts.append(name)
        await asyncio.sleep(0)
        error = script[name].pop(0)
        if error is not None:
            raise error
        return name

    async def one_after_another() -> list[object]:
        answers: list[object] = [await call("flaky"), await call("down"), await call("fine")]
        with pytest.raises(KeyError):
            await call("ignored")
        script.update(fine=[None, None], down=[ConnectionError("again"), None])
        answers += await asyncio.gather(call("fine"), call("down"), call("fine"))
        return answers

    assert run(one_after_another()) == [
        "flaky",
        "fallback:still down",
        "fine",
        "fine",
        "down",
        "fine",
    ]
    assert attempts.count("flaky") == attempts.count("down") // 2 == 2
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["calls"], snapshot["failures"]) == (10, 4)


def test_aprotect_and_aprotect_with_meta(run: Runner, zone_name: str) -> None:
    async def fetch() -> int:
        return 7

    async def failing() -> int:
        raise ConnectionError("down")

    assert run(baldur.aprotect(zone_name, fetch, retry=True)) == 7

    ok = run(baldur.aprotect_with_meta(zone_name, fetch))
    assert (ok.ok, ok.value, ok.error, ok.attempts, ok.fallback_used) == (True, 7, None, 1, False)

    fell_back = run(
        baldur.aprotect_with_meta(
            zone_name,
            failing,
            retry=baldur.RetryPolicy(attempts=2, base_delay=0),
            fallback=lambda: -1,
        )
    )
    assert (fell_back.ok, fell_back.value, fell_back.fallback_used) == (False, -1, True)
    assert isinstance(fell_back.error, ConnectionError)
    assert fell_back.attempts == 2

    failed = run(baldur.aprotect_with_meta(zone_name, failing))
    assert (failed.ok, failed.value, failed.fallback_used) == (False, None, False)
    assert isinstance(failed.error, ConnectionError)

    baldur.force_open_circuit(zone_name)
    rejected = run(baldur.aprotect_with_meta(zone_name, fetch))
    assert (rejected.ok, rejected.rejected, rejected.attempts) == (False, True, 0)
    assert isinstance(rejected.error, baldur.CircuitOpenError)
    assert rejected.circuit_state == "forced_open"


def test_aprotect_refuses_a_sync_function_uncounted(run: Runner, zone_name: str) -> None:
    def sync() -> int:
        return 1

    with pytest.raises(TypeError, match="not an awaitable"):
        run(baldur.aprotect(zone_name, sync, retry=True))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not an awaitable"):
        run(baldur.aprotect_with_meta(zone_name, sync))
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["calls"], snapshot["failures"]) == (0, 0)


def aiohttp_error(status: int, headers: dict[str, str] | None = None) -> BaseException:
    import aiohttp
    from multidict import CIMultiDict, CIMultiDictProxy
    from yarl import URL

    url = URL("https://api.example/orders/1")
    info = aiohttp.RequestInfo(url, "GET", CIMultiDictProxy(CIMultiDict()), url)
    return aiohttp.ClientResponseError(
        info, (), status=status, message="", headers=CIMultiDictProxy(CIMultiDict(headers or {}))
    )


@pytest.mark.parametrize(
    ("status", "counted"), [(404, False), (409, False), (503, True), (429, True)]
)
def test_aiohttp_response_errors_are_classified_by_status(
    run: Runner, zone_name: str, status: int, counted: bool
) -> None:
    calls = 0

    @baldur.protected(zone_name, retry=baldur.RetryPolicy(attempts=2, base_delay=0))
    async def fetch() -> None:
        nonlocal calls
        calls += 1
        raise aiohttp_error(status, {"Retry-After": "0"})

    import aiohttp

    with pytest.raises(aiohttp.ClientResponseError):
        run(fetch())
    assert calls == (2 if counted else 1)
    assert baldur.circuits()[zone_name]["failures"] == (2 if counted else 0)
