"""``retry=``: attempts, backoff, which errors are retried, and
``baldur.RetryPolicy`` itself."""

from __future__ import annotations

import time

import pytest

import baldur
from baldur.retry import RetryPolicy
from helpers import AlwaysFails, Boom, Flaky

NO_WAIT = baldur.RetryPolicy(base_delay=0, max_delay=0)


def test_retry_policy_defaults_are_the_contracts() -> None:
    policy = baldur.RetryPolicy()
    assert policy.attempts == 3
    assert policy.base_delay == 0.1
    assert policy.max_delay == 10.0
    assert policy.multiplier == 2.0
    assert policy.jitter == "full"
    assert policy.retry_on is None  # any Exception
    assert policy.give_up_on == ()
    assert baldur.RetryPolicy is RetryPolicy


def test_retry_is_off_by_default(zone_name: str) -> None:
    failing = AlwaysFails()
    with pytest.raises(Boom):
        baldur.protect(zone_name, failing)
    assert failing.count == 1


def test_retry_true_takes_the_defaults(zone_name: str) -> None:
    failing = AlwaysFails()
    started = time.monotonic()
    with pytest.raises(Boom) as caught:
        baldur.protect(zone_name, failing, retry=True)
    assert failing.count == 3
    assert caught.value is failing.raised[-1]  # the last error is the one raised
    # Full jitter over 0.1 s then 0.2 s: at most 0.3 s of waiting.
    assert time.monotonic() - started < 2.0


def test_retry_stops_at_the_first_success(zone_name: str) -> None:
    dependency = Flaky(Boom("blip"), value="ok")
    assert baldur.protect(zone_name, dependency, retry=NO_WAIT) == "ok"
    assert dependency.count == 2


@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_attempts_counts_every_try_the_first_included(zone_name: str, attempts: int) -> None:
    failing = AlwaysFails()
    result = baldur.protect_with_meta(
        zone_name, failing, retry=baldur.RetryPolicy(attempts=attempts, base_delay=0, max_delay=0)
    )
    assert failing.count == attempts
    assert result.attempts == attempts


def test_each_attempt_gets_the_same_arguments(zone_name: str) -> None:
    dependency = Flaky(Boom("1"), Boom("2"), value="ok")
    charge = baldur.protected(zone_name, retry=NO_WAIT)(dependency)

    assert charge("order-9", amount=5) == "ok"
    assert dependency.calls == [(("order-9",), {"amount": 5})] * 3


def test_retry_on_types_limits_what_is_retried(zone_name: str) -> None:
    policy = baldur.RetryPolicy(attempts=4, base_delay=0, max_delay=0, retry_on=(TimeoutError,))
    wrong_kind = Flaky(ValueError("bad data"), value="unreached")
    with pytest.raises(ValueError):
        baldur.protect(zone_name, wrong_kind, retry=policy)
    assert wrong_kind.count == 1

    right_kind = Flaky(TimeoutError("slow"), value="ok")
    assert baldur.protect(zone_name, right_kind, retry=policy) == "ok"
    assert right_kind.count == 2


def test_retry_on_a_single_type(zone_name: str) -> None:
    policy = baldur.RetryPolicy(base_delay=0, max_delay=0, retry_on=Boom)
    dependency = Flaky(Boom("1"), value="ok")
    assert baldur.protect(zone_name, dependency, retry=policy) == "ok"


def test_retry_on_a_predicate(zone_name: str) -> None:
    seen: list[BaseException] = []

    def transient(exc: BaseException) -> bool:
        seen.append(exc)
        return "transient" in str(exc)

    policy = baldur.RetryPolicy(attempts=5, base_delay=0, max_delay=0, retry_on=transient)
    dependency = Flaky(Boom("transient 1"), Boom("permanent"), value="unreached")

    with pytest.raises(Boom, match="permanent"):
        baldur.protect(zone_name, dependency, retry=policy)
    assert dependency.count == 2
    assert [str(e) for e in seen] == ["transient 1", "permanent"]


def test_a_predicate_that_raises_is_loud(zone_name: str) -> None:
    def broken(exc: BaseException) -> bool:
        raise RuntimeError("bug in the predicate")

    policy = baldur.RetryPolicy(base_delay=0, max_delay=0, retry_on=broken)
    dependency = Flaky(Boom("down"), value="unreached")
    with pytest.raises(RuntimeError, match="bug in the predicate") as caught:
        baldur.protect(zone_name, dependency, retry=policy, fallback=lambda: "hidden")
    assert isinstance(caught.value.__cause__, Boom)
    assert dependency.count == 1


def test_give_up_on_is_never_retried(zone_name: str) -> None:
    policy = baldur.RetryPolicy(attempts=5, base_delay=0, max_delay=0, give_up_on=PermissionError)
    dependency = Flaky(PermissionError("no"), value="unreached")
    with pytest.raises(PermissionError):
        baldur.protect(zone_name, dependency, retry=policy)
    assert dependency.count == 1


def test_give_up_on_wins_over_retry_on(zone_name: str) -> None:
    policy = baldur.RetryPolicy(
        attempts=5, base_delay=0, max_delay=0, retry_on=OSError, give_up_on=PermissionError
    )
    dependency = Flaky(PermissionError("no"), value="unreached")
    with pytest.raises(PermissionError):
        baldur.protect(zone_name, dependency, retry=policy)
    assert dependency.count == 1


def test_a_not_retried_error_still_gets_the_fallback(zone_name: str) -> None:
    policy = baldur.RetryPolicy(base_delay=0, max_delay=0, give_up_on=PermissionError)
    dependency = Flaky(PermissionError("no"))
    assert baldur.protect(zone_name, dependency, retry=policy, fallback=lambda: "safe") == "safe"
    assert dependency.count == 1


@pytest.mark.parametrize("error", [KeyboardInterrupt, SystemExit, GeneratorExit])
def test_base_exceptions_are_not_retried(zone_name: str, error: type[BaseException]) -> None:
    dependency = Flaky(error(), value="unreached")
    with pytest.raises(error):
        baldur.protect(zone_name, dependency, retry=NO_WAIT, fallback=lambda: "no")
    assert dependency.count == 1


def test_backoff_waits_between_attempts(zone_name: str) -> None:
    policy = baldur.RetryPolicy(attempts=3, base_delay=0.05, multiplier=2, jitter="none")
    failing = AlwaysFails()
    started = time.monotonic()
    with pytest.raises(Boom):
        baldur.protect(zone_name, failing, retry=policy)
    elapsed = time.monotonic() - started
    assert failing.count == 3
    assert elapsed >= 0.13  # 0.05 s + 0.1 s, less clock slack
    assert elapsed < 3.0


def test_max_delay_caps_each_wait(zone_name: str) -> None:
    # Uncapped this would wait 0.05 s then 5 s.
    policy = baldur.RetryPolicy(
        attempts=3, base_delay=0.05, max_delay=0.1, multiplier=100, jitter="none"
    )
    started = time.monotonic()
    with pytest.raises(Boom):
        baldur.protect(zone_name, AlwaysFails(), retry=policy)
    elapsed = time.monotonic() - started
    assert 0.12 <= elapsed < 2.0


def test_full_jitter_never_waits_longer_than_the_schedule(zone_name: str) -> None:
    policy = baldur.RetryPolicy(attempts=4, base_delay=0.05, max_delay=0.05, jitter="full")
    started = time.monotonic()
    with pytest.raises(Boom):
        baldur.protect(zone_name, AlwaysFails(), retry=policy)
    assert time.monotonic() - started < 2.0  # three waits of at most 0.05 s


def test_retry_false_and_none_mean_one_attempt(zone_name: str) -> None:
    for retry in (False, None):
        failing = AlwaysFails()
        with pytest.raises(Boom):
            baldur.protect(zone_name, failing, retry=retry)
        assert failing.count == 1


def test_a_policy_is_a_reusable_value() -> None:
    policy = baldur.RetryPolicy(attempts=5, retry_on=(ConnectionError,))
    assert policy == baldur.RetryPolicy(attempts=5, retry_on=(ConnectionError,))
    with pytest.raises(AttributeError):
        policy.attempts = 6  # type: ignore[misc]


@pytest.mark.parametrize(
    ("keywords", "key"),
    [
        ({"attempts": 0}, "attempts"),
        ({"attempts": -1}, "attempts"),
        ({"attempts": 1.5}, "attempts"),
        ({"attempts": True}, "attempts"),
        ({"attempts": "3"}, "attempts"),
        ({"base_delay": -0.1}, "base_delay"),
        ({"base_delay": float("nan")}, "base_delay"),
        ({"base_delay": "1"}, "base_delay"),
        ({"max_delay": float("inf")}, "max_delay"),
        ({"base_delay": 2.0, "max_delay": 1.0}, "max_delay"),
        ({"multiplier": 0.5}, "multiplier"),
        ({"multiplier": float("nan")}, "multiplier"),
        ({"jitter": "half"}, "jitter"),
        ({"retry_on": 5}, "retry_on"),
        ({"retry_on": (ValueError, "x")}, "retry_on"),
        ({"give_up_on": "ValueError"}, "give_up_on"),
        ({"give_up_on": int}, "give_up_on"),
    ],
)
def test_a_bad_policy_is_a_config_error_naming_the_field(
    keywords: dict[str, object], key: str
) -> None:
    with pytest.raises(baldur.ConfigError) as caught:
        baldur.RetryPolicy(**keywords)  # type: ignore[arg-type]
    assert caught.value.key == key
    assert key in str(caught.value)
    assert "allowed" in str(caught.value)


def test_zero_delays_are_allowed() -> None:
    policy = baldur.RetryPolicy(base_delay=0, max_delay=0, jitter="none")
    assert (policy.base_delay, policy.max_delay) == (0, 0)
