"""``timeout=``: a wall-clock bound on the whole protected call."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

import baldur
from helpers import AlwaysFails, Boom, FastBreaker, Flaky, Stall, throughout


def test_a_hung_call_raises_protect_timeout_error(zone_name: str, stall: Stall) -> None:
    started = time.monotonic()
    with pytest.raises(baldur.ProtectTimeoutError) as caught:
        baldur.protect(zone_name, stall, timeout=0.05)
    elapsed = time.monotonic() - started

    assert isinstance(caught.value, TimeoutError)
    assert caught.value.name == zone_name
    assert caught.value.timeout == 0.05
    assert stall.count == 1
    assert 0.04 <= elapsed < 2.0  # the caller is not held hostage by the hung attempt


def test_a_timeout_is_caught_by_except_timeout_error(zone_name: str, stall: Stall) -> None:
    with pytest.raises(TimeoutError):
        baldur.protected(zone_name, timeout=0.05)(stall)()


def test_a_call_inside_its_bound_returns_its_value(zone_name: str) -> None:
    @baldur.protected(zone_name, timeout=5)
    def lookup(sku: str, *, region: str) -> str:
        return f"{sku}@{region}"

    assert lookup("A-1", region="eu") == "A-1@eu"


def test_an_error_inside_the_bound_is_the_functions_own(zone_name: str) -> None:
    failing = AlwaysFails()
    with pytest.raises(Boom) as caught:
        baldur.protect(zone_name, failing, timeout=5)
    assert caught.value is failing.raised[0]


def test_the_bound_covers_attempts_and_backoff(zone_name: str) -> None:
    """Ten attempts 0.05 s apart cannot fit in 0.2 s: the call times out
    instead, caused by the last attempt's error."""
    failing = AlwaysFails()
    policy = baldur.RetryPolicy(attempts=10, base_delay=0.05, max_delay=0.05, jitter="none")
    started = time.monotonic()
    result = baldur.protect_with_meta(zone_name, failing, retry=policy, timeout=0.2)
    elapsed = time.monotonic() - started

    assert isinstance(result.error, baldur.ProtectTimeoutError)
    assert isinstance(result.error.__cause__, Boom)  # the last attempt's error
    assert result.error.__cause__ in failing.raised
    assert 2 <= result.attempts < 10
    assert failing.count >= 2
    assert elapsed < 2.0


def test_a_retry_after_a_timed_out_attempt_is_not_made(zone_name: str, stall: Stall) -> None:
    with pytest.raises(baldur.ProtectTimeoutError):
        baldur.protect(
            zone_name,
            stall,
            timeout=0.05,
            retry=baldur.RetryPolicy(attempts=5, base_delay=0, max_delay=0),
        )
    assert stall.count == 1


def test_a_timeout_counts_as_a_failure(zone_name: str, stall: Stall) -> None:
    with pytest.raises(baldur.ProtectTimeoutError):
        baldur.protect(zone_name, stall, timeout=0.05)
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["calls"], snapshot["failures"]) == (1, 1)


def test_timeouts_trip_the_breaker(zone_name: str, stall: Stall, fast_breaker: FastBreaker) -> None:
    for _ in range(fast_breaker.minimum_calls):
        with pytest.raises(baldur.ProtectTimeoutError):
            baldur.protect(zone_name, stall, timeout=0.03)
    assert baldur.circuit_state(zone_name) == "open"
    with pytest.raises(baldur.CircuitOpenError):
        baldur.protect(zone_name, stall, timeout=0.03)
    assert stall.count == fast_breaker.minimum_calls


def test_the_fallback_answers_a_timeout(zone_name: str, stall: Stall) -> None:
    received: list[BaseException] = []

    def fallback(exc: BaseException) -> str:
        received.append(exc)
        return "cached"

    assert baldur.protect(zone_name, stall, timeout=0.05, fallback=fallback) == "cached"
    assert len(received) == 1
    assert isinstance(received[0], baldur.ProtectTimeoutError)


def test_the_late_answer_of_an_abandoned_attempt_is_discarded(zone_name: str, stall: Stall) -> None:
    result = baldur.protect_with_meta(zone_name, stall, timeout=0.05, fallback=lambda: "fallback")
    stall.release()  # the abandoned attempt now finishes, with "late"
    assert stall.returned.wait(5)
    assert result.value == "fallback"
    assert baldur.circuits()[zone_name]["failures"] == 1  # the late success is not counted


def test_context_variables_reach_a_bounded_attempt(zone_name: str) -> None:
    """Bounded attempts run on a worker thread, in a copy of the caller's
    context: request-scoped ``ContextVar`` values are still there."""
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    request_id.set("req-42")

    assert baldur.protect(zone_name, request_id.get, timeout=5) == "req-42"


def test_an_unbounded_call_runs_on_the_callers_thread(zone_name: str) -> None:
    assert baldur.protect(zone_name, threading.get_ident) == threading.get_ident()


@pytest.mark.parametrize("timeout", [1, 0.5, 2.0])
def test_timeout_takes_int_or_float_seconds(zone_name: str, timeout: float) -> None:
    assert baldur.protect(zone_name, Flaky(value=3), timeout=timeout) == 3


def test_an_attempt_that_could_not_start_in_time_never_reaches_the_dependency(
    zone_name: str,
) -> None:
    """Python cannot stop an attempt already running, but one whose call
    timed out before it got going must not run afterwards: the caller was
    told the call timed out (or got the fallback)."""
    dependency = Flaky(value="too late")
    for _ in range(20):
        result = baldur.protect_with_meta(
            zone_name, dependency, timeout=1e-9, fallback=lambda: "fallback", circuit_breaker=False
        )
        assert isinstance(result.error, baldur.ProtectTimeoutError)
        assert result.value == "fallback"
    # Time enough for a stray attempt thread to get going.
    throughout(lambda: dependency.count == 0, during=0.1)
    assert dependency.count == 0
