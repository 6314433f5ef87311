"""Health with a shared Redis that goes away: DEGRADED shows on health/
(still 200) and on pool/ (503); live and ping never depend on it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

import baldur
from baldur import endpoints
from redis_server import RedisServer


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


def wait_until(predicate: Callable[[], bool], seconds: float = 15.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def degraded() -> bool:
    return any(entry["degraded"] for entry in baldur.store_health().values())


def test_a_lost_redis_degrades_health_and_fails_pool_but_not_live(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str
) -> None:
    configure(redis_url=redis_server.url)
    baldur.protect(zone_name, lambda: 1)
    assert set(baldur.store_health()) == {"redis:idempotency", "redis:circuit_breaker"}
    assert endpoints.health_pool().status == 200

    redis_server.kill()
    wait_until(degraded)
    full = endpoints.dispatch("health/", {"nocache": "true"})
    assert full.status == 200  # degraded stays in rotation
    assert full.payload["status"] == "degraded"
    assert full.payload["checks"]["baldur.stores"]["detail"].startswith("DEGRADED")
    pool = endpoints.dispatch("health/pool/")
    assert pool.status == 503
    assert pool.payload["status"] == "degraded"
    entries = baldur.store_health()["redis:circuit_breaker"]["degraded_entries"]
    assert entries >= 1
    started = time.monotonic()
    assert endpoints.dispatch("health/live/").status == 200
    assert endpoints.dispatch("health/ping/").status == 200
    assert time.monotonic() - started < 0.1  # no connection attempt behind them
    assert endpoints.dispatch("health/ready/").status == 200  # AP: it still serves

    redis_server.start()
    wait_until(lambda: not degraded())
    assert endpoints.health_pool().status == 200
