"""``@baldur.protected``: the decorator form of the facade, sync functions."""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

import baldur
from helpers import AlwaysFails, Boom, FastBreaker, Flaky


def test_returns_the_functions_value_untouched(zone_name: str) -> None:
    sentinel = object()

    @baldur.protected(zone_name)
    def fetch() -> object:
        return sentinel

    assert fetch() is sentinel


def test_arguments_reach_the_function(zone_name: str) -> None:
    @baldur.protected(zone_name)
    def add(a: int, b: int, *, scale: int = 1) -> int:
        return (a + b) * scale

    assert add(2, 3) == 5
    assert add(2, b=3, scale=10) == 50


def test_the_functions_error_propagates_as_the_same_object(zone_name: str) -> None:
    failing = AlwaysFails()
    protected = baldur.protected(zone_name)(failing)

    with pytest.raises(Boom) as caught:
        protected()
    assert caught.value is failing.raised[0]
    assert failing.count == 1  # no retry unless asked for


def test_circuit_breaker_is_on_by_default(zone_name: str, fast_breaker: FastBreaker) -> None:
    failing = AlwaysFails()
    protected = baldur.protected(zone_name)(failing)

    for _ in range(fast_breaker.minimum_calls):
        with pytest.raises(Boom):
            protected()
    with pytest.raises(baldur.CircuitOpenError):
        protected()
    assert failing.count == fast_breaker.minimum_calls
    assert baldur.circuit_state(zone_name) == "open"


def test_circuit_breaker_false_never_trips(zone_name: str, fast_breaker: FastBreaker) -> None:
    failing = AlwaysFails()
    protected = baldur.protected(zone_name, circuit_breaker=False)(failing)

    for _ in range(fast_breaker.minimum_calls * 5):
        with pytest.raises(Boom):
            protected()
    assert failing.count == fast_breaker.minimum_calls * 5
    assert baldur.circuit_state(zone_name) == "closed"
    assert zone_name not in baldur.circuits()  # no breaker, before or after the question


def test_one_name_is_one_breaker_across_callsites(
    zone_name: str, fast_breaker: FastBreaker
) -> None:
    """The name is the dependency's identity: two functions calling the same
    dependency share its breaker."""
    failing = baldur.protected(zone_name)(AlwaysFails())
    healthy = Flaky(value="fine")
    other_callsite = baldur.protected(zone_name)(healthy)

    for _ in range(fast_breaker.minimum_calls):
        with pytest.raises(Boom):
            failing()
    with pytest.raises(baldur.CircuitOpenError) as caught:
        other_callsite()
    assert caught.value.name == zone_name
    assert healthy.count == 0


def test_different_names_have_independent_breakers(
    new_name: Callable[[], str], fast_breaker: FastBreaker
) -> None:
    down, up = new_name(), new_name()
    failing = baldur.protected(down)(AlwaysFails())
    healthy = baldur.protected(up)(lambda: "fine")

    for _ in range(fast_breaker.minimum_calls):
        with pytest.raises(Boom):
            failing()
    assert baldur.circuit_state(down) == "open"
    assert healthy() == "fine"
    assert baldur.circuit_state(up) == "closed"


def test_the_documented_example_composes_retry_and_fallback(zone_name: str) -> None:
    gateway = AlwaysFails()

    @baldur.protected(
        zone_name,
        retry=baldur.RetryPolicy(base_delay=0, max_delay=0),
        fallback=lambda: {"status": "queued"},
    )
    def charge(order_id: str) -> object:
        return gateway(order_id)

    assert charge("order-1") == {"status": "queued"}
    assert gateway.count == 3  # the default attempts, then the fallback


def test_a_blip_is_ridden_out_by_retry(zone_name: str) -> None:
    dependency = Flaky(Boom("blip"), value={"status": "charged"})
    charge = baldur.protected(zone_name, retry=baldur.RetryPolicy(base_delay=0, max_delay=0))(
        dependency
    )

    assert charge("order-2") == {"status": "charged"}
    assert dependency.count == 2
    assert dependency.calls[1] == (("order-2",), {})


def test_protects_any_callable(zone_name: str) -> None:
    class Pricing:
        def __call__(self, sku: str) -> str:
            return f"price of {sku}"

    assert baldur.protected(zone_name)(Pricing())("A-1") == "price of A-1"
    assert baldur.protected(zone_name)(functools.partial(str.upper, "x"))() == "X"


def test_refuses_something_that_is_not_callable(zone_name: str) -> None:
    with pytest.raises(TypeError, match="callable"):
        baldur.protected(zone_name)(42)  # type: ignore[type-var]


def test_keywords_are_checked_when_decorating_not_when_called(zone_name: str) -> None:
    never = Flaky()
    with pytest.raises(baldur.ConfigError):
        baldur.protected(zone_name, timeout=0)(never)
    assert never.count == 0


def test_forgetting_the_name_is_a_config_error() -> None:
    """``@baldur.protected`` without ``("name")`` is caught at once."""

    def charge() -> None:
        pass

    with pytest.raises(baldur.ConfigError) as caught:
        baldur.protected(charge)  # type: ignore[arg-type]
    assert caught.value.key == "name"
