"""The function forms: ``baldur.protect`` and ``baldur.protect_with_meta``,
and the ``ProtectResult`` the latter returns."""

from __future__ import annotations

import pytest

import baldur
from helpers import AlwaysFails, Boom, FastBreaker, Flaky, Slow, Stall, trip

NO_WAIT = baldur.RetryPolicy(base_delay=0, max_delay=0)


# -- baldur.protect -----------------------------------------------------------


def test_protect_calls_now_and_returns_the_value(zone_name: str) -> None:
    dependency = Flaky(value=[1, 2])
    assert baldur.protect(zone_name, dependency) is dependency.value
    assert dependency.count == 1
    assert dependency.calls[0] == ((), {})  # called with no arguments


def test_protect_raises_the_functions_error(zone_name: str) -> None:
    failing = AlwaysFails()
    with pytest.raises(Boom) as caught:
        baldur.protect(zone_name, failing)
    assert caught.value is failing.raised[0]


def test_protect_takes_the_same_keywords_as_the_decorator(zone_name: str) -> None:
    failing = AlwaysFails()
    answer = baldur.protect(zone_name, failing, retry=NO_WAIT, fallback=lambda: "fallback")
    assert answer == "fallback"
    assert failing.count == 3


def test_protect_shares_the_breaker_of_its_name(zone_name: str, fast_breaker: FastBreaker) -> None:
    decorated = baldur.protected(zone_name)(lambda: "decorated")
    trip(zone_name, fast_breaker)  # through baldur.protect
    with pytest.raises(baldur.CircuitOpenError):
        decorated()


def test_protect_repeated_calls_keep_one_breaker(zone_name: str, fast_breaker: FastBreaker) -> None:
    """Inline lambdas are new objects each time; the breaker is still the name's."""
    for _ in range(fast_breaker.minimum_calls):
        with pytest.raises(Boom):
            baldur.protect(zone_name, AlwaysFails(), retry=False)
    with pytest.raises(baldur.CircuitOpenError):
        baldur.protect(zone_name, lambda: "never runs", retry=False)


def test_protect_needs_a_callable(zone_name: str) -> None:
    with pytest.raises(TypeError, match="callable"):
        baldur.protect(zone_name, 42)  # type: ignore[arg-type]


def test_protect_refuses_an_async_function(zone_name: str) -> None:
    """A coroutine function passed to the sync form is refused, and no
    unawaited coroutine is left behind (warnings are errors here)."""

    async def fetch() -> int:
        return 1

    with pytest.raises(TypeError, match="aprotect"):
        baldur.protect(zone_name, fetch)
    with pytest.raises(TypeError, match="aprotect"):
        baldur.protect_with_meta(zone_name, fetch)


def test_protect_refuses_an_unknown_keyword_without_calling(zone_name: str) -> None:
    never = Flaky()
    with pytest.raises(TypeError):
        baldur.protect(zone_name, never, retries=3)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        baldur.protect_with_meta(zone_name, never, retries=3)  # type: ignore[call-arg]
    assert never.count == 0


def test_protect_name_and_function_are_positional(zone_name: str) -> None:
    with pytest.raises(TypeError):
        baldur.protect(name=zone_name, func=lambda: 1)  # type: ignore[call-arg]


# -- baldur.protect_with_meta and ProtectResult ----------------------------------


def test_meta_success(zone_name: str) -> None:
    result = baldur.protect_with_meta(zone_name, lambda: "value")

    assert isinstance(result, baldur.ProtectResult)
    assert result.value == "value"
    assert result.error is None
    assert result.ok is True
    assert bool(result) is True
    assert result.fallback_used is False
    assert result.attempts == 1
    assert result.rejected is False
    assert result.circuit_state == "closed"
    assert isinstance(result.duration_s, float)
    assert result.duration_s >= 0.0
    assert result.dlq_id is None


def test_meta_never_raises_the_calls_error(zone_name: str) -> None:
    failing = AlwaysFails()
    result = baldur.protect_with_meta(zone_name, failing, retry=NO_WAIT)

    assert result.ok is False
    assert not result
    assert result.value is None
    assert result.error is failing.raised[-1]  # the final exception, as raised
    assert result.fallback_used is False
    assert result.attempts == 3
    assert result.rejected is False


def test_meta_counts_attempts_up_to_the_success(zone_name: str) -> None:
    result = baldur.protect_with_meta(
        zone_name, Flaky(Boom("1"), Boom("2"), value="third"), retry=NO_WAIT
    )
    assert (result.ok, result.value, result.attempts, result.error) == (True, "third", 3, None)


def test_meta_fallback_answer(zone_name: str) -> None:
    failing = AlwaysFails()
    result = baldur.protect_with_meta(zone_name, failing, fallback=lambda: "cached")

    assert result.value == "cached"
    assert result.fallback_used is True
    assert result.ok is False  # the function itself did not succeed
    assert result.error is failing.raised[0]
    assert result.attempts == 1


def test_meta_fallback_that_fails(zone_name: str) -> None:
    def broken_fallback() -> str:
        raise LookupError("no cache either")

    result = baldur.protect_with_meta(zone_name, AlwaysFails(), fallback=broken_fallback)

    assert result.fallback_used is True
    assert result.value is None
    assert isinstance(result.error, LookupError)
    assert isinstance(result.error.__context__, Boom)


def test_meta_rejected_by_an_open_breaker(zone_name: str, fast_breaker: FastBreaker) -> None:
    trip(zone_name, fast_breaker)
    never = Flaky()
    fallback_calls: list[None] = []

    result = baldur.protect_with_meta(
        zone_name, never, retry=True, fallback=lambda: fallback_calls.append(None)
    )

    assert result.rejected is True
    assert result.attempts == 0
    assert result.ok is False
    assert result.value is None
    assert result.fallback_used is False
    assert result.circuit_state == "open"
    assert isinstance(result.error, baldur.CircuitOpenError)
    assert result.error.name == zone_name
    assert result.error.retry_after is not None
    assert 0 < result.error.retry_after <= fast_breaker.recovery_timeout
    assert never.count == 0
    assert fallback_calls == []


def test_meta_rejected_by_a_forced_open_breaker(zone_name: str) -> None:
    baldur.protect(zone_name, lambda: None)
    baldur.force_open_circuit(zone_name)

    result = baldur.protect_with_meta(zone_name, lambda: "never")

    assert result.rejected is True
    assert result.circuit_state == "forced_open"
    assert isinstance(result.error, baldur.CircuitOpenError)
    assert result.error.retry_after is None


def test_meta_reports_the_state_the_call_left_the_breaker_in(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    first = baldur.protect_with_meta(zone_name, AlwaysFails())
    tripping = baldur.protect_with_meta(zone_name, AlwaysFails())

    assert first.circuit_state == "closed"
    assert first.rejected is False
    assert tripping.circuit_state == "open"
    assert tripping.rejected is False  # it ran; the next one is refused
    assert baldur.protect_with_meta(zone_name, lambda: 1).rejected is True


def test_meta_without_a_breaker_reports_closed(zone_name: str, fast_breaker: FastBreaker) -> None:
    for _ in range(fast_breaker.minimum_calls * 2):
        result = baldur.protect_with_meta(zone_name, AlwaysFails(), circuit_breaker=False)
        assert result.circuit_state == "closed"
        assert result.rejected is False


def test_meta_for_an_error_that_is_not_a_failure(zone_name: str) -> None:
    failing = Flaky(KeyError("missing"))
    result = baldur.protect_with_meta(
        zone_name, failing, ignore=KeyError, retry=NO_WAIT, fallback=lambda: "unused"
    )

    assert isinstance(result.error, KeyError)
    assert result.ok is False
    assert result.fallback_used is False
    assert result.value is None
    assert result.attempts == 1
    assert failing.count == 1


def test_meta_timeout(zone_name: str, stall: Stall) -> None:
    result = baldur.protect_with_meta(zone_name, stall, timeout=0.05)

    assert isinstance(result.error, baldur.ProtectTimeoutError)
    assert result.ok is False
    assert result.attempts == 1
    assert result.duration_s < 1.5


def test_meta_duration_covers_the_call(zone_name: str) -> None:
    result = baldur.protect_with_meta(zone_name, Slow(0.05))
    assert 0.04 <= result.duration_s < 5


def test_meta_duration_covers_the_fallback(zone_name: str) -> None:
    slow_fallback = Slow(0.05, "late")
    result = baldur.protect_with_meta(zone_name, AlwaysFails(), fallback=lambda: slow_fallback())
    assert result.value == "late"
    assert 0.04 <= result.duration_s < 5


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit])
def test_meta_still_raises_interrupts(zone_name: str, error: type[BaseException]) -> None:
    """Never raising the call's error stops short of swallowing Ctrl-C or exit."""
    with pytest.raises(error):
        baldur.protect_with_meta(zone_name, Flaky(error()), fallback=lambda: "no")


def test_result_repr_shows_the_outcome(zone_name: str) -> None:
    text = repr(baldur.protect_with_meta(zone_name, lambda: 7))
    assert text.startswith("ProtectResult(")
    assert "ok=True" in text
    assert "value=7" in text
    assert "attempts=1" in text


def test_result_is_read_only(zone_name: str) -> None:
    result = baldur.protect_with_meta(zone_name, lambda: 7)
    with pytest.raises(AttributeError):
        result.value = 8  # type: ignore[misc]


def test_a_sync_callable_returning_a_coroutine_is_refused_uncounted(zone_name: str) -> None:
    """An async function behind a sync-looking callable: nothing of it would
    run under protection, so it is the caller's error, raised even by
    protect_with_meta, and the breaker counts nothing."""

    async def fetch() -> int:
        return 1

    def looks_sync() -> object:
        return fetch()

    decorated = baldur.protected(zone_name, retry=True)(looks_sync)
    with pytest.raises(TypeError, match="coroutine"):
        decorated()
    with pytest.raises(TypeError, match="coroutine"):
        baldur.protect(zone_name, looks_sync)
    with pytest.raises(TypeError, match="coroutine"):
        baldur.protect_with_meta(zone_name, looks_sync)
    snapshot = baldur.circuits()[zone_name]
    assert (snapshot["calls"], snapshot["failures"]) == (0, 0)
