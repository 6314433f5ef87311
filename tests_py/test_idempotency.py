"""Idempotency on sync callsites, decorators and function forms: where the
key comes from, how it is namespaced, and the life of a claim (taken before
the breaker, held through retries, completed on success, released on any
other end). Options and payloads: test_idempotency_options.py; TTLs and
threads: test_idempotency_concurrency.py. Fail-closed store errors cannot
be provoked with the memory store from Python: the Rust tests cover them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

import baldur
from helpers import Boom, Recorder

Duplicate = baldur.IdempotencyDuplicateError
Mismatch = baldur.IdempotencyPayloadMismatchError
NO_WAIT = baldur.RetryPolicy(attempts=3, base_delay=0, max_delay=0)


def test_key_by_position_or_keyword_is_the_same_key(zone_name: str) -> None:
    side_effect = Recorder()

    @baldur.protected(zone_name, idempotency_key="order_id")
    def charge(order_id: str, amount: int) -> str:
        return side_effect(order_id)

    assert charge("o-1", 5) == "done o-1"
    with pytest.raises(Duplicate) as info:
        charge(amount=5, order_id="o-1")
    assert (info.value.key, info.value.state, info.value.operation) == (
        "o-1",
        "completed",
        zone_name,
    )
    assert charge(order_id="o-2", amount=5) == "done o-2"
    with pytest.raises(Duplicate):
        charge("o-2", 5)
    assert side_effect.ran == ["o-1", "o-2"]


def test_works_as_a_method_key_found_with_self_present(zone_name: str) -> None:
    class Orders:
        @baldur.protected(zone_name, idempotency_key="order_id")
        def ship(self, order_id: str) -> str:
            return f"shipped {order_id}"

    assert Orders().ship("o-1") == "shipped o-1"
    with pytest.raises(Duplicate, match="o-1"):
        Orders().ship(order_id="o-1")
    assert Orders().ship("o-2") == "shipped o-2"


def test_keys_are_strings_and_a_default_is_used_when_not_passed(zone_name: str) -> None:
    @baldur.protected(zone_name, idempotency_key="order_id")
    def charge(order_id: object = "nightly") -> object:
        return order_id

    assert charge(42) == 42
    with pytest.raises(Duplicate) as info:
        charge("42")
    assert info.value.key == "42"
    assert charge() == "nightly"
    with pytest.raises(Duplicate, match="nightly"):
        charge(order_id="nightly")


def test_a_callable_key_receives_the_call_arguments(zone_name: str) -> None:
    seen: list[tuple[Any, ...]] = []

    def key(order: dict[str, str], *, region: str) -> str:
        seen.append((order, region))
        return f"{region}/{order['id']}"

    @baldur.protected(zone_name, idempotency_key=key)
    def charge(order: dict[str, str], *, region: str) -> str:
        return order["id"]

    assert charge({"id": "o-1"}, region="eu") == "o-1"
    assert charge({"id": "o-1"}, region="us") == "o-1"
    with pytest.raises(Duplicate) as info:
        charge({"id": "o-1"}, region="eu")
    assert info.value.key == "eu/o-1"
    assert seen[0] == ({"id": "o-1"}, "eu")


@pytest.mark.parametrize(
    ("key", "call"),
    [
        ("order_id", lambda f: f()),  # found nowhere (only **kwargs)
        ("order_id", lambda f: f(order_id=None)),
        (lambda **kwargs: None, lambda f: f(order_id="o-1")),
    ],
    ids=["missing", "none", "callable-none"],
)
def test_a_missing_or_none_key_is_an_error_and_nothing_runs(
    zone_name: str, key: Any, call: Any
) -> None:
    side_effect = Recorder()
    charge = baldur.protected(zone_name, idempotency_key=key)(lambda **kwargs: side_effect(None))
    with pytest.raises(baldur.IdempotencyKeyError, match="did not run") as info:
        call(charge)
    assert isinstance(info.value, ValueError) and isinstance(info.value, baldur.BaldurError)
    assert side_effect.ran == []


def test_a_none_default_is_a_missing_key(zone_name: str) -> None:
    @baldur.idempotent(key="order_id")
    def charge(order_id: str | None = None) -> str:
        raise AssertionError("must not run")

    with pytest.raises(baldur.IdempotencyKeyError, match="order_id"):
        charge()


def test_keys_are_namespaced_by_zone(new_name: Any) -> None:
    first, second = (baldur.protected(new_name(), idempotency_key="k")(lambda k: k) for _ in "ab")
    assert (first("o-1"), second("o-1")) == ("o-1", "o-1")
    with pytest.raises(Duplicate):
        second("o-1")


def test_idempotent_namespaces_by_qualified_name_unless_operation_is_shared(zone_name: str) -> None:
    @baldur.idempotent(key="order_id")
    def handler(order_id: str) -> str:
        return "handler"

    @baldur.idempotent(key="order_id")
    def worker(order_id: str) -> str:
        return "worker"

    order = zone_name  # the namespaces are fixed: a key no other test uses
    assert (handler(order), worker(order)) == ("handler", "worker")
    with pytest.raises(Duplicate) as info:
        handler(order)
    assert info.value.operation == f"{__name__}.{handler.__qualname__}"

    shared_handler = baldur.idempotent(key="order_id", operation=zone_name)(handler.__wrapped__)
    shared_worker = baldur.idempotent(key="order_id", operation=zone_name)(worker.__wrapped__)
    assert shared_handler("o-1") == "handler"
    with pytest.raises(Duplicate) as info:
        shared_worker(order_id="o-1")
    assert info.value.operation == zone_name


def test_a_duplicate_never_reaches_the_breaker_or_the_fallback(zone_name: str) -> None:
    charge = baldur.protected(zone_name, idempotency_key="k", fallback=lambda: "fb")(lambda k: k)
    assert charge("o-1") == "o-1"
    with pytest.raises(Duplicate):
        charge("o-1")
    assert baldur.circuits()[zone_name]["calls"] == 1  # the breaker never saw it
    baldur.force_open_circuit(zone_name)
    with pytest.raises(Duplicate):  # the claim comes first: not CircuitOpenError
        charge("o-1")


def test_the_claim_is_held_through_retries(zone_name: str) -> None:
    side_effect = Recorder(fail=2)
    seen_by_retry: list[str] = []

    @baldur.protected(zone_name, retry=NO_WAIT, idempotency_key="order_id")
    def charge(order_id: str) -> str:
        if len(side_effect.ran) == 1:  # the second attempt: is the claim still held?
            with pytest.raises(Duplicate) as inner:
                charge(order_id)
            seen_by_retry.append(inner.value.state)
        return side_effect(order_id)

    assert charge("o-1") == "done o-1"
    assert side_effect.ran == ["o-1"] * 3 and seen_by_retry == ["in_progress"]
    with pytest.raises(Duplicate, match="completed"):
        charge("o-1")


# Each error is made by its test: an exception kept across tests would keep
# the traceback it was raised with, and the decorated function its frame held.
@pytest.mark.parametrize(
    ("keywords", "error", "first"),
    [
        ({}, lambda: Boom("down"), Boom),
        ({"retry": NO_WAIT, "fallback": lambda: "fb"}, lambda: Boom("down"), "fb"),
        ({"ignore": (KeyError,)}, lambda: KeyError("not a failure"), KeyError),
    ],
    ids=["failure", "exhausted-fallback", "ignored"],
)
def test_a_call_that_does_not_succeed_releases_its_claim(
    zone_name: str, keywords: dict[str, Any], error: Callable[[], BaseException], first: Any
) -> None:
    side_effect = Recorder(fail=3 if "retry" in keywords else 1, error=error())
    charge = baldur.protected(zone_name, idempotency_key="order_id", **keywords)(side_effect)
    if isinstance(first, str):
        assert charge("o-1") == first
    else:
        with pytest.raises(first):
            charge("o-1")
    assert charge("o-1") == "done o-1"  # the same key runs again
    with pytest.raises(Duplicate):
        charge("o-1")


def test_an_open_breaker_rejection_releases_the_claim(zone_name: str) -> None:
    side_effect = Recorder()
    charge = baldur.protected(zone_name, idempotency_key="order_id")(side_effect)
    baldur.force_open_circuit(zone_name)
    with pytest.raises(baldur.CircuitOpenError):
        charge("o-1")
    baldur.reset_circuit(zone_name)
    assert charge("o-1") == "done o-1" and side_effect.ran == ["o-1"]


def test_a_timeout_releases_the_claim(zone_name: str) -> None:
    unblock = threading.Event()

    @baldur.protected(zone_name, timeout=0.05, idempotency_key="order_id")
    def charge(order_id: str, hang: bool) -> str:
        if hang:
            unblock.wait(10)
        return "charged"

    try:
        with pytest.raises(baldur.ProtectTimeoutError):
            charge("o-1", True)
        assert charge("o-1", False) == "charged"
    finally:
        unblock.set()
    with pytest.raises(Duplicate):
        charge("o-1", False)


def test_protect_takes_the_key_value_itself(zone_name: str) -> None:
    side_effect = Recorder()
    assert (
        baldur.protect(zone_name, lambda: side_effect("o-1"), idempotency_key="o-1") == "done o-1"
    )
    with pytest.raises(Duplicate) as info:
        baldur.protect(zone_name, lambda: side_effect("again"), idempotency_key="o-1")
    assert (info.value.key, info.value.state, info.value.operation) == (
        "o-1",
        "completed",
        zone_name,
    )
    assert baldur.protect(zone_name, lambda: side_effect(42), idempotency_key=42) == "done 42"
    with pytest.raises(Duplicate):  # str()'d: 42 and "42" are one key
        baldur.protect(zone_name, lambda: side_effect("again"), idempotency_key="42")
    with pytest.raises(Duplicate):  # or a zero-argument callable returning it
        baldur.protect(zone_name, lambda: side_effect("again"), idempotency_key=lambda: "o-1")
    with pytest.raises(baldur.IdempotencyKeyError):
        baldur.protect(zone_name, lambda: side_effect("never"), idempotency_key=lambda: None)
    assert side_effect.ran == ["o-1", 42]


def test_protect_releases_on_failure_and_an_open_breaker(zone_name: str) -> None:
    side_effect = Recorder(fail=1)
    with pytest.raises(Boom):
        baldur.protect(zone_name, lambda: side_effect("o-1"), idempotency_key="o-1")
    baldur.force_open_circuit(zone_name)
    with pytest.raises(baldur.CircuitOpenError):
        baldur.protect(zone_name, lambda: side_effect("o-1"), idempotency_key="o-1")
    baldur.reset_circuit(zone_name)
    assert (
        baldur.protect(zone_name, lambda: side_effect("o-1"), idempotency_key="o-1") == "done o-1"
    )
    assert side_effect.ran == ["o-1", "o-1"]


def test_protect_with_meta_reports_a_duplicate(zone_name: str) -> None:
    first = baldur.protect_with_meta(zone_name, lambda: "charged", idempotency_key="o-1")
    assert (first.ok, first.value, first.attempts) == (True, "charged", 1)
    again = baldur.protect_with_meta(zone_name, lambda: "charged", idempotency_key="o-1")
    assert (again.ok, again.value, again.attempts, again.rejected) == (False, None, 0, False)
    assert isinstance(again.error, Duplicate) and again.error.state == "completed"
    missing = baldur.protect_with_meta(zone_name, lambda: 1, idempotency_key=lambda: None)
    assert not missing.ok and isinstance(missing.error, baldur.IdempotencyKeyError)


def test_protect_with_meta_failure_releases_the_claim(zone_name: str) -> None:
    side_effect = Recorder(fail=3)
    failed = baldur.protect_with_meta(
        zone_name,
        lambda: side_effect("o-1"),
        retry=NO_WAIT,
        fallback=lambda: "fb",
        idempotency_key="o-1",
    )
    assert (failed.ok, failed.value, failed.fallback_used, failed.attempts) == (
        False,
        "fb",
        True,
        3,
    )
    again = baldur.protect_with_meta(zone_name, lambda: side_effect("o-1"), idempotency_key="o-1")
    assert (again.ok, again.value) == (True, "done o-1")
