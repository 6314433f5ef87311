"""baldur.testing: reset() gives a test a fresh process's state, the testing
mode turns backoff waits off, and the manual clock moves only when told."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

import pytest

import baldur
import baldur.testing
from helpers import AlwaysFails, Boom, FastBreaker, Flaky, Recorder, trip

#: Ten seconds between attempts: a test that slept them would take 30 s.
SLOW = baldur.RetryPolicy(attempts=3, base_delay=10.0, max_delay=60.0, jitter="none")


def test_reset_forgets_a_tripped_breaker(zone_name: str, fast_breaker: FastBreaker) -> None:
    trip(zone_name, fast_breaker)
    # The failed calls' tracebacks keep their frames, and the zone a frame
    # holds, until the cycle collector runs (when depends on what earlier
    # tests allocated): collected now, only what a program holds remains.
    gc.collect()

    baldur.testing.reset()

    assert zone_name not in baldur.circuits()
    assert baldur.circuit_state(zone_name) == "closed"  # forgotten: reads as new
    assert zone_name not in baldur.circuits()
    assert baldur.protect(zone_name, Flaky()) == "ok"
    assert baldur.circuit_state(zone_name) == "closed"


def test_reset_closes_the_breaker_a_decorated_function_keeps(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    failing = AlwaysFails()
    protected = baldur.protected(zone_name)(failing)
    for _ in range(fast_breaker.minimum_calls):
        with pytest.raises(Boom):
            protected()
    assert baldur.circuit_state(zone_name) == "open"

    baldur.testing.reset()

    # Still the function's breaker, as if just made.
    assert baldur.circuits()[zone_name] == {
        "state": "closed",
        "calls": 0,
        "failures": 0,
        "opened_at": None,
        "retry_after": None,
        "transitions": 0,
    }
    with pytest.raises(Boom):
        protected()
    assert failing.count == fast_breaker.minimum_calls + 1


def test_reset_lets_a_completed_idempotency_key_run_again(zone_name: str) -> None:
    side_effect = Recorder()
    charge = baldur.protected(zone_name, idempotency_key="order_id")(side_effect)
    assert charge("o-1") == "done o-1"
    with pytest.raises(baldur.IdempotencyDuplicateError):
        charge("o-1")

    baldur.testing.reset()

    assert charge("o-1") == "done o-1"
    assert side_effect.ran == ["o-1", "o-1"]


def test_reset_ends_an_injected_idempotency_store_fault(zone_name: str) -> None:
    baldur.testing.inject_idempotency_store_fault("down (drill)")
    charge = baldur.protected(zone_name, idempotency_key="order_id")(Recorder())
    with pytest.raises(baldur.IdempotencyUnavailableError):
        charge("o-1")

    baldur.testing.reset()

    assert charge("o-1") == "done o-1"


def test_reset_enables_a_disabled_kill_switch_and_removes_its_record(
    configure: Callable[..., None],
) -> None:
    baldur.disable(reason="drill", actor="tests")
    assert not baldur.is_baldur_enabled()

    baldur.testing.reset()

    assert baldur.is_baldur_enabled()
    # The record on disk is gone too: configuring again does not bring back
    # the disabled state.
    configure(cb_failure_threshold=7)
    assert baldur.kill_switch_status().enabled


def test_reset_zeroes_the_metrics(zone_name: str) -> None:
    protected = baldur.protected(zone_name)(Flaky())
    protected()
    baldur.protect(zone_name, Flaky(Boom("down")), fallback=lambda: "cached")
    baldur.record_request("GET", "/orders", 200, 0.01)
    before = baldur.metrics_snapshot()
    assert before["zones"][zone_name]["calls"]["success"] == 1
    assert before["endpoints"]

    baldur.testing.reset()

    after = baldur.metrics_snapshot()
    # The decorated function's series stays (it still counts into it), at
    # zero; so does any other a live zone counts into.
    assert zone_name in after["zones"]
    for series in after["zones"].values():
        assert set(series["calls"].values()) == set(series["transitions"].values()) == {0}
        counts = (series["attempts"], series["fallbacks"], series["idempotency_duplicates"])
        assert counts == (0, 0, 0)
    assert after["endpoints"] == []
    assert after["dlq"]["replays"] == {"succeeded": 0, "failed": 0}
    assert after["domains_overflowed"] == 0


def test_reset_ends_a_drain() -> None:
    baldur.begin_shutdown(timeout=30)
    assert baldur.is_shutting_down()

    baldur.testing.reset()

    assert not baldur.is_shutting_down()


def test_the_manual_clock_passes_a_recovery_timeout_without_sleeping(
    zone_name: str, configure: Callable[..., None]
) -> None:
    configure(cb_minimum_calls=2, cb_failure_threshold=2, cb_recovery_timeout=30)
    with baldur.testing.set_testing(True):
        for _ in range(2):
            with pytest.raises(Boom):
                baldur.protect(zone_name, AlwaysFails())
        assert baldur.circuit_state(zone_name) == "open"

        baldur.testing.advance(29.9)
        assert baldur.circuit_state(zone_name) == "open"
        baldur.testing.advance(0.1)
        assert baldur.circuit_state(zone_name) == "half_open"
        assert baldur.protect(zone_name, Flaky()) == "ok"  # the probe


def test_the_manual_clock_runs_out_an_idempotency_key_ttl(
    zone_name: str, configure: Callable[..., None]
) -> None:
    configure(idempotency_gate_memory_ttl_seconds=60)
    with baldur.testing.set_testing(True):
        side_effect = Recorder()
        charge = baldur.protected(zone_name, idempotency_key="order_id")(side_effect)
        charge("o-1")
        baldur.testing.advance(59)
        with pytest.raises(baldur.IdempotencyDuplicateError):
            charge("o-1")
        baldur.testing.advance(1)
        assert charge("o-1") == "done o-1"


def test_advance_needs_the_manual_clock() -> None:
    with pytest.raises(RuntimeError, match="set_testing"):
        baldur.testing.advance(1)
    with baldur.testing.set_testing(True, clock="system"), pytest.raises(RuntimeError):
        baldur.testing.advance(1)


def test_with_waits_off_a_slow_retry_attempts_at_once(zone_name: str) -> None:
    dependency = Flaky(Boom("1"), Boom("2"))
    started = time.monotonic()
    with baldur.testing.set_testing(True):
        result = baldur.protect_with_meta(zone_name, dependency, retry=SLOW)
    assert (result.value, result.attempts, dependency.count) == ("ok", 3, 3)
    # The schedule was decided as usual; only the sleeping was skipped.
    assert baldur.testing.skipped_waits() == [10.0, 20.0]
    assert time.monotonic() - started < 5  # a guard against the 30 s of sleeps


def test_with_waits_off_an_async_retry_attempts_at_once(zone_name: str) -> None:
    calls = 0

    @baldur.aprotected(zone_name, retry=SLOW)
    async def fetch() -> str:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise Boom(f"blip {calls}")
        return "ok"

    with baldur.testing.set_testing(True):
        assert asyncio.run(fetch()) == "ok"
    assert calls == 3
    assert baldur.testing.skipped_waits() == [10.0, 20.0]


def test_set_testing_as_a_context_manager_puts_the_mode_back() -> None:
    assert not baldur.testing.is_testing()
    with baldur.testing.set_testing(True):
        assert baldur.testing.is_testing()
        with baldur.testing.set_testing(False):
            assert not baldur.testing.is_testing()
        assert baldur.testing.is_testing()
        baldur.testing.advance(1)  # the manual clock is back too
    assert not baldur.testing.is_testing()


def test_without_the_testing_mode_waits_are_slept_and_not_recorded(zone_name: str) -> None:
    policy = baldur.RetryPolicy(attempts=2, base_delay=0.05, jitter="none")
    result = baldur.protect_with_meta(zone_name, Flaky(Boom("1")), retry=policy)
    assert result.attempts == 2
    assert baldur.testing.skipped_waits() == []


def test_set_testing_refuses_an_unknown_clock() -> None:
    with pytest.raises(baldur.ConfigError, match="clock"):
        baldur.testing.set_testing(True, clock="sundial")  # type: ignore[arg-type]
    assert not baldur.testing.is_testing()
