"""The layering of CONTRACT.md, "What happens to a call": the breaker is asked
once on entry, records every attempt's outcome, and stops the retry loop the
moment it opens; a timeout is a failure; a fallback's answer is not a success.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest

import baldur
import baldur.testing
from helpers import AlwaysFails, Boom, FastBreaker, Flaky, Stall, trip

NO_WAIT = baldur.RetryPolicy(attempts=5, base_delay=0, max_delay=0)
Configure = Callable[..., None]


def counts(name: str) -> tuple[int, int]:
    snapshot = baldur.circuits()[name]
    return snapshot["calls"], snapshot["failures"]


def test_every_attempt_is_recorded(zone_name: str) -> None:
    dependency = Flaky(Boom("1"), Boom("2"), value="ok")
    assert baldur.protect(zone_name, dependency, retry=NO_WAIT) == "ok"
    assert counts(zone_name) == (3, 2)


def test_an_exhausted_call_records_each_failed_attempt(zone_name: str) -> None:
    result = baldur.protect_with_meta(zone_name, AlwaysFails(), retry=NO_WAIT)
    assert result.attempts == 5
    assert counts(zone_name) == (5, 5)


def test_an_open_breaker_refuses_before_any_attempt(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    trip(zone_name, fast_breaker)
    before = counts(zone_name)
    dependency = Flaky()
    result = baldur.protect_with_meta(zone_name, dependency, retry=NO_WAIT, fallback=lambda: 0)
    assert (result.rejected, result.attempts, result.fallback_used) == (True, 0, False)
    assert dependency.count == 0
    assert counts(zone_name) == before  # a refused call reaches nothing and counts nothing


def test_a_call_that_trips_the_breaker_makes_no_further_attempt(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    failing = AlwaysFails()
    result = baldur.protect_with_meta(zone_name, failing, retry=NO_WAIT)

    assert failing.count == fast_breaker.minimum_calls  # not NO_WAIT.attempts
    assert result.attempts == fast_breaker.minimum_calls
    assert baldur.circuit_state(zone_name) == "open"
    # Admitted once, on entry: the call ends with the dependency's own error,
    # not a refusal part-way through.
    assert result.rejected is False
    assert result.error is failing.raised[-1]


def test_a_call_that_trips_the_breaker_raises_its_last_error(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    failing = AlwaysFails()
    with pytest.raises(Boom) as caught:
        baldur.protect(zone_name, failing, retry=NO_WAIT)
    assert caught.value is failing.raised[-1]


def test_the_fallback_answers_when_the_breaker_opens_mid_loop(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    failing = AlwaysFails()
    assert baldur.protect(zone_name, failing, retry=NO_WAIT, fallback=lambda: "queued") == "queued"
    assert failing.count == fast_breaker.minimum_calls


@pytest.mark.usefixtures("testing_mode")
def test_a_failed_probe_is_not_retried(zone_name: str, fast_breaker: FastBreaker) -> None:
    trip(zone_name, fast_breaker)
    baldur.testing.advance(fast_breaker.recovery_timeout)
    failing = AlwaysFails()
    result = baldur.protect_with_meta(zone_name, failing, retry=NO_WAIT)
    assert failing.count == 1
    assert result.attempts == 1
    assert baldur.circuit_state(zone_name) == "open"


def test_an_operator_opening_the_breaker_during_backoff_stops_the_retries(
    zone_name: str,
) -> None:
    """The breaker opens while the call waits between attempts: the wait ends
    the call, with no further attempt against a dependency judged down."""
    failing = AlwaysFails()
    first_failure = threading.Event()

    def dependency() -> object:
        first_failure.set()
        return failing()

    policy = baldur.RetryPolicy(attempts=3, base_delay=0.3, max_delay=0.3, jitter="none")
    results: list[baldur.ProtectResult] = []
    caller = threading.Thread(
        target=lambda: results.append(baldur.protect_with_meta(zone_name, dependency, retry=policy))
    )
    caller.start()
    assert first_failure.wait(5)
    baldur.force_open_circuit(zone_name)
    caller.join(5)

    assert failing.count == 1
    assert results[0].attempts == 1
    assert results[0].error is failing.raised[0]


def test_other_callers_tripping_the_breaker_during_backoff_stops_the_retries(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    failing = AlwaysFails()
    first_failure = threading.Event()

    def dependency() -> object:
        first_failure.set()
        return failing()

    policy = baldur.RetryPolicy(attempts=3, base_delay=0.3, max_delay=0.3, jitter="none")
    results: list[baldur.ProtectResult] = []
    caller = threading.Thread(
        target=lambda: results.append(baldur.protect_with_meta(zone_name, dependency, retry=policy))
    )
    caller.start()
    assert first_failure.wait(5)
    # The first failure is already in the window: one more trips the breaker.
    with pytest.raises(Boom):
        baldur.protect(zone_name, AlwaysFails())
    assert baldur.circuit_state(zone_name) == "open"
    caller.join(5)

    assert failing.count == 1
    assert results[0].attempts == 1


def test_a_timeout_counts_as_a_failure(zone_name: str, stall: Stall) -> None:
    result = baldur.protect_with_meta(zone_name, stall, timeout=0.05, fallback=lambda: "late")
    assert isinstance(result.error, baldur.ProtectTimeoutError)
    assert counts(zone_name) == (1, 1)


def test_a_fallback_answer_is_not_a_success(zone_name: str) -> None:
    result = baldur.protect_with_meta(
        zone_name, AlwaysFails(), retry=NO_WAIT, fallback=lambda: "queued"
    )
    assert result.value == "queued"
    assert result.ok is False
    assert counts(zone_name) == (5, 5)


def test_a_not_a_failure_error_ends_the_loop_counted_as_a_success(zone_name: str) -> None:
    dependency = Flaky(Boom("blip"), KeyError("unknown sku"), value="unreached")
    with pytest.raises(KeyError):
        baldur.protect(zone_name, dependency, retry=NO_WAIT, ignore=KeyError)
    assert dependency.count == 2
    assert counts(zone_name) == (2, 1)


def test_a_give_up_on_error_is_one_failure(zone_name: str) -> None:
    policy = baldur.RetryPolicy(base_delay=0, max_delay=0, give_up_on=PermissionError)
    with pytest.raises(PermissionError):
        baldur.protect(zone_name, Flaky(PermissionError("denied")), retry=policy)
    assert counts(zone_name) == (1, 1)


def test_an_interrupt_counts_nothing(zone_name: str) -> None:
    with pytest.raises(KeyboardInterrupt):
        baldur.protect(zone_name, Flaky(KeyboardInterrupt()), retry=NO_WAIT)
    assert counts(zone_name) == (0, 0)


@pytest.mark.usefixtures("testing_mode")
def test_an_interrupted_probe_hands_its_slot_back(zone_name: str, configure: Configure) -> None:
    configure(
        cb_failure_threshold=1,
        cb_minimum_calls=1,
        cb_recovery_timeout=0.05,
        cb_half_open_max_calls=1,
    )
    with pytest.raises(Boom):
        baldur.protect(zone_name, AlwaysFails())
    baldur.testing.advance(0.1)
    with pytest.raises(KeyboardInterrupt):
        baldur.protect(zone_name, Flaky(KeyboardInterrupt()))
    # The only probe slot is free again: the next call probes, and closes it.
    assert baldur.protect(zone_name, lambda: "ok") == "ok"
    assert baldur.circuit_state(zone_name) == "closed"


def test_retry_without_delay_never_sleeps(zone_name: str) -> None:
    for jitter in ("full", "none"):
        failing = AlwaysFails()
        policy = baldur.RetryPolicy(attempts=3, base_delay=0, max_delay=0, jitter=jitter)
        started = time.monotonic()
        with pytest.raises(Boom):
            baldur.protect(zone_name, failing, retry=policy)
        assert failing.count == 3
        assert time.monotonic() - started < 0.5


def test_an_operator_force_closing_during_backoff_lets_the_retries_go_on(
    zone_name: str,
) -> None:
    """Only an opening ends a retry loop early: forcing the breaker closed
    (or resetting it) mid-wait leaves the call its remaining attempts."""
    attempts = 0
    waited = threading.Event()

    def dependency() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            waited.set()
            raise Boom("first attempt fails")
        return "recovered"

    policy = baldur.RetryPolicy(attempts=3, base_delay=0.3, max_delay=0.3, jitter="none")
    results: list[object] = []
    caller = threading.Thread(
        target=lambda: results.append(baldur.protect(zone_name, dependency, retry=policy))
    )
    caller.start()
    assert waited.wait(5)
    baldur.force_close_circuit(zone_name)
    caller.join(5)
    assert results == ["recovered"]
    assert attempts == 2
