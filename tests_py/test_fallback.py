"""``fallback=``: the last resort when no attempt succeeded."""

from __future__ import annotations

import pytest

import baldur
from helpers import AlwaysFails, Boom, FastBreaker, Flaky, trip

NO_WAIT = baldur.RetryPolicy(base_delay=0, max_delay=0)


def test_a_no_argument_fallback_answers_a_failure(zone_name: str) -> None:
    assert baldur.protect(zone_name, AlwaysFails(), fallback=lambda: "queued") == "queued"


def test_a_one_argument_fallback_receives_the_final_exception(zone_name: str) -> None:
    failing = AlwaysFails()
    received: list[BaseException] = []

    def fallback(exc: BaseException) -> str:
        received.append(exc)
        return "queued"

    assert baldur.protect(zone_name, failing, retry=NO_WAIT, fallback=fallback) == "queued"
    assert received == [failing.raised[-1]]  # once, with the last attempt's error


@pytest.mark.parametrize(
    "fallback",
    [
        lambda exc=None: exc,
        lambda *args: args[0],
    ],
    ids=["default-argument", "varargs"],
)
def test_a_fallback_that_can_take_one_argument_gets_the_exception(
    zone_name: str, fallback: object
) -> None:
    failing = AlwaysFails()
    answer = baldur.protect(zone_name, failing, fallback=fallback)  # type: ignore[arg-type]
    assert answer is failing.raised[0]


def test_a_bound_method_fallback(zone_name: str) -> None:
    class Cache:
        def __init__(self) -> None:
            self.misses: list[BaseException] = []

        def answer(self, exc: BaseException) -> str:
            self.misses.append(exc)
            return "from cache"

    cache = Cache()
    assert baldur.protect(zone_name, AlwaysFails(), fallback=cache.answer) == "from cache"
    assert len(cache.misses) == 1


def test_a_fallback_whose_signature_cannot_be_read_is_called_bare(zone_name: str) -> None:
    """Like many builtins (``dict``): no signature to inspect, so no argument."""

    class Opaque:
        received: tuple[object, ...] | None = None

        @property
        def __signature__(self) -> object:
            raise ValueError("no signature found")

        def __call__(self, *args: object) -> str:
            self.received = args
            return "bare"

    fallback = Opaque()
    assert baldur.protect(zone_name, AlwaysFails(), fallback=fallback) == "bare"
    assert fallback.received == ()


def test_the_fallback_gets_no_arguments_of_the_call(zone_name: str) -> None:
    @baldur.protected(zone_name, fallback=lambda: "queued")
    def charge(order_id: str, amount: int) -> str:
        raise Boom(order_id)

    assert charge("order-1", 5) == "queued"


def test_the_fallback_may_answer_none(zone_name: str) -> None:
    assert baldur.protect(zone_name, AlwaysFails(), fallback=lambda: None) is None
    result = baldur.protect_with_meta(zone_name, AlwaysFails(), fallback=lambda: None)
    assert result.fallback_used is True
    assert result.value is None


def test_the_fallback_does_not_run_on_success(zone_name: str) -> None:
    called: list[None] = []
    answer = baldur.protect(zone_name, lambda: "live", fallback=lambda: called.append(None))
    assert answer == "live"
    assert called == []


def test_retry_gets_its_chance_before_the_fallback(zone_name: str) -> None:
    """Fallback innermost: a blip the next attempt survives is never served
    the degraded answer."""
    dependency = Flaky(Boom("blip"), value="live")
    answer = baldur.protect(zone_name, dependency, retry=NO_WAIT, fallback=lambda: "degraded")
    assert answer == "live"


def test_the_fallback_runs_once_after_every_attempt_failed(zone_name: str) -> None:
    failing = AlwaysFails()
    order: list[str] = []

    def dependency() -> object:
        order.append("attempt")
        return failing()

    def fallback() -> str:
        order.append("fallback")
        return "degraded"

    assert baldur.protect(zone_name, dependency, retry=NO_WAIT, fallback=fallback) == "degraded"
    assert order == ["attempt", "attempt", "attempt", "fallback"]


def test_an_open_breaker_skips_the_fallback(zone_name: str, fast_breaker: FastBreaker) -> None:
    trip(zone_name, fast_breaker)
    called: list[None] = []
    with pytest.raises(baldur.CircuitOpenError):
        baldur.protect(zone_name, lambda: "never", fallback=lambda: called.append(None))
    assert called == []


def test_a_forced_open_breaker_skips_the_fallback(zone_name: str) -> None:
    baldur.protect(zone_name, lambda: None)
    baldur.force_open_circuit(zone_name)
    with pytest.raises(baldur.CircuitOpenError):
        baldur.protect(zone_name, lambda: "never", fallback=lambda: "no")


def test_an_ignored_error_skips_the_fallback(zone_name: str) -> None:
    with pytest.raises(KeyError):
        baldur.protect(zone_name, Flaky(KeyError("k")), ignore=KeyError, fallback=lambda: "no")


def test_a_failing_fallback_raises_its_own_error_chained_to_the_call_s(zone_name: str) -> None:
    failing = AlwaysFails()

    def fallback() -> str:
        raise LookupError("cache is down too")

    with pytest.raises(LookupError) as caught:
        baldur.protect(zone_name, failing, fallback=fallback)
    assert caught.value.__context__ is failing.raised[0]


def test_a_fallback_answer_never_counts_as_a_success(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    for _ in range(fast_breaker.minimum_calls):
        assert baldur.protect(zone_name, AlwaysFails(), fallback=lambda: "queued") == "queued"

    snapshot = baldur.circuits()[zone_name]
    assert snapshot["state"] == "open"
    with pytest.raises(baldur.CircuitOpenError):
        baldur.protect(zone_name, AlwaysFails(), fallback=lambda: "queued")


def test_fallback_none_means_no_fallback(zone_name: str) -> None:
    with pytest.raises(Boom):
        baldur.protect(zone_name, AlwaysFails(), fallback=None)


@pytest.mark.parametrize(("fallback", "answer"), [(list, []), (tuple, ()), (dict, {}), (str, "")])
def test_a_class_or_builtin_fallback_is_called_with_nothing(
    zone_name: str, fallback: object, answer: object
) -> None:
    """``fallback=list`` means "an empty list", not ``list(exc)``."""
    assert baldur.protect(zone_name, AlwaysFails(), fallback=fallback) == answer  # type: ignore[arg-type]
