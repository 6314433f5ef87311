"""The retry budget: per zone, retries spend a share of the calls of the
last 10 s plus a floor a second, so a brownout does not multiply the load on
a struggling dependency; fleet-wide when breaker state is shared."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator

import pytest

import baldur
from baldur.exceptions import ConfigError
from helpers import AlwaysFails, Boom, eventually
from redis_server import RedisServer

NO_WAIT = baldur.RetryPolicy(attempts=3, base_delay=0, max_delay=0)
# A breaker that never trips here: the budget alone decides.
NEVER_TRIPS = {"cb_failure_threshold": 1_000_000, "cb_minimum_calls": 1_000_000}


@pytest.fixture
def budget(configure: Callable[..., None], testing_mode: None) -> Callable[..., None]:
    """Configures the budget (and a breaker that never trips)."""

    def apply(**settings: object) -> None:
        configure(**NEVER_TRIPS, **settings)

    return apply


def attempts_of(zone: str) -> int:
    return int(baldur.metrics_snapshot()["zones"][zone]["attempts"])


def refused_of(zone: str) -> int:
    return int(baldur.metrics_snapshot()["zones"][zone]["retries_refused"])


def fail_calls(zone: str, calls: int) -> AlwaysFails:
    failing = AlwaysFails()
    protected = baldur.protected(zone, retry=NO_WAIT)(failing)
    for _ in range(calls):
        with pytest.raises(Boom):
            protected()
    return failing


def test_a_brownout_spends_only_the_budget(budget: Callable[..., None], zone_name: str) -> None:
    budget(retry_budget_ratio=0.2, retry_budget_min_per_second=1)
    failing = fail_calls(zone_name, 500)
    # 500 calls x 3 attempts would be 1,500: the budget allows the 500 first
    # attempts, 10 retries (1 a second over 10 s) and 20% of 500.
    assert failing.count == 500 + 10 + 100
    # Every call the budget cut short is counted (those refused a first or
    # a second retry): at least all but the 55 a pair of retries could cover.
    assert 500 - 110 // 2 <= refused_of(zone_name) <= 500


def test_the_defaults_are_the_contracts(budget: Callable[..., None], zone_name: str) -> None:
    budget()
    failing = fail_calls(zone_name, 200)
    # 10 a second over 10 s, plus 20% of the calls.
    assert failing.count == 200 + 100 + 40


def test_ratio_and_floor_zero_turn_retries_off(budget: Callable[..., None], zone_name: str) -> None:
    budget(retry_budget_ratio=0, retry_budget_min_per_second=0)
    failing = fail_calls(zone_name, 20)
    assert failing.count == 20
    assert refused_of(zone_name) == 20


def test_none_turns_the_budget_off(budget: Callable[..., None], zone_name: str) -> None:
    budget(retry_budget_ratio="none", retry_budget_min_per_second=0)
    failing = fail_calls(zone_name, 200)
    assert failing.count == 600
    assert refused_of(zone_name) == 0


def test_successes_earn_retries(budget: Callable[..., None], zone_name: str) -> None:
    budget(retry_budget_ratio=0.5, retry_budget_min_per_second=0)
    fine = baldur.protected(zone_name, retry=NO_WAIT)(lambda: "ok")
    for _ in range(10):
        fine()
    failing = fail_calls(zone_name, 1)
    # 11 calls at 50%: 5 retries, of which this call takes its 2.
    assert failing.count == 3


def test_the_budget_refills_as_calls_age_out(budget: Callable[..., None], zone_name: str) -> None:
    budget(retry_budget_ratio=0, retry_budget_min_per_second=1)
    first = fail_calls(zone_name, 10)
    assert first.count == 10 + 10  # the floor: 10 retries in 10 s
    assert fail_calls(zone_name, 1).count == 1, "spent"
    baldur.testing.advance(11)
    assert fail_calls(zone_name, 1).count == 3, "a new 10 s"


def test_a_refusal_ends_the_call_as_exhausted_and_says_why(
    budget: Callable[..., None], zone_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    budget(retry_budget_ratio=0, retry_budget_min_per_second=0)
    with caplog.at_level(logging.DEBUG, logger="baldur.retry"):
        result = baldur.protect_with_meta(zone_name, AlwaysFails(), retry=NO_WAIT)
    assert not result.ok
    assert isinstance(result.error, Boom), "exhausted: the last error is the answer"
    assert result.attempts == 1
    events = [r for r in caplog.records if r.getMessage().startswith("retry.budget_spent")]
    assert len(events) == 1
    assert events[0].levelno == logging.DEBUG
    assert zone_name in events[0].getMessage()
    exposition = baldur.metrics.prometheus_text()[0].decode()
    assert f'baldur_retry_budget_exhausted_total{{zone="{zone_name}"}} 1.0' in exposition


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("BALDUR_RETRY_BUDGET_RATIO", "-0.1"),
        ("BALDUR_RETRY_BUDGET_RATIO", "lots"),
        ("BALDUR_RETRY_BUDGET_RATIO", ""),
        ("BALDUR_RETRY_BUDGET_MIN_PER_SECOND", "-1"),
        ("BALDUR_RETRY_BUDGET_MIN_PER_SECOND", "inf"),
    ],
)
def test_a_bad_setting_is_refused_by_name(
    configure: Callable[..., None], monkeypatch: pytest.MonkeyPatch, key: str, value: str
) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as caught:
        configure()
    assert key in str(caught.value)
    assert repr(value) in str(caught.value) or value in str(caught.value)


FLEET_WORKER = textwrap.dedent(
    """
    import sys
    import baldur

    baldur.init(redis_url=sys.argv[1])
    call = baldur.protected(sys.argv[2], retry=baldur.RetryPolicy(base_delay=0))(lambda: "ok")
    for _ in range(200):
        call()
    # The exit flush delivers the counts.
    """
)


@pytest.fixture
def fleet_budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BALDUR_RETRY_BUDGET_RATIO", "0.2")
    monkeypatch.setenv("BALDUR_RETRY_BUDGET_MIN_PER_SECOND", "0")
    yield


def budget_calls(server: RedisServer, zone: str) -> int:
    reply = server.command("HVALS", f"{{baldur:cb:{zone}}}:budget").split(b"\r\n")
    values = [int(v) for v in reply[2::2] if v]
    return sum(values)  # calls and retries


def test_the_budget_is_the_fleets(
    redis_server: RedisServer,
    configure: Callable[..., None],
    fleet_budget: None,
    zone_name: str,
) -> None:
    """Another worker's calls pay for this worker's retries: alone, its one
    call would buy none (20% of 1)."""
    other = subprocess.run(
        [sys.executable, "-c", FLEET_WORKER, redis_server.url, zone_name],
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert other.returncode == 0, other.stderr
    assert budget_calls(redis_server, zone_name) == 200
    configure(redis_url=redis_server.url, **NEVER_TRIPS)
    with baldur.testing.set_testing(True):
        first = fail_calls(zone_name, 1)
        assert first.count == 1, "before its first sync: its own 1 call only"
        # Its call reached the fleet, and the fleet's counts came back.
        eventually(lambda: budget_calls(redis_server, zone_name) == 201)
        second = fail_calls(zone_name, 1)
    assert second.count == 3, "the fleet's 202 calls buy 40 retries"


def test_async_calls_spend_the_same_budget(budget: Callable[..., None], zone_name: str) -> None:
    budget(retry_budget_ratio=0, retry_budget_min_per_second=0.1)  # 1 retry in 10 s
    failing = AlwaysFails()

    @baldur.protected(zone_name, retry=NO_WAIT)
    async def call() -> None:
        failing()

    async def twice() -> None:
        for _ in range(2):
            with pytest.raises(Boom):
                await call()

    asyncio.run(twice())
    assert failing.count == 2 + 1
