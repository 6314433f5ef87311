"""Health with a shared Redis that goes away: DEGRADED shows on health/
(still 200) and on pool/ (503); live and ping never depend on it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import baldur
from baldur import endpoints
from helpers import eventually
from redis_server import RedisServer


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
    eventually(degraded, within=15)
    full = endpoints.dispatch("health/", {"nocache": "true"})
    assert full.status == 200  # degraded stays in rotation
    assert full.payload["status"] == "degraded"
    assert full.payload["checks"]["baldur.stores"]["detail"].startswith("DEGRADED")
    pool = endpoints.dispatch("health/pool/")
    assert pool.status == 503
    assert pool.payload["status"] == "degraded"
    entries = baldur.store_health()["redis:circuit_breaker"]["degraded_entries"]
    assert entries >= 1
    # Liveness never asks Redis: both answer 200 with it dead.
    assert endpoints.dispatch("health/live/").status == 200
    assert endpoints.dispatch("health/ping/").status == 200
    assert endpoints.dispatch("health/ready/").status == 200  # AP: it still serves

    redis_server.start()
    eventually(lambda: not degraded(), within=15)
    assert endpoints.health_pool().status == 200


def test_a_store_no_call_uses_leaves_degraded_when_redis_answers_again(
    redis_server: RedisServer, configure: Callable[..., None], zone_name: str, tmp_path: Path
) -> None:
    """Recovery must not wait for traffic: a store only idempotent calls
    use, with none coming, would otherwise report DEGRADED (and pool/ 503)
    until the next one."""
    configure(idempotency_redis_url=redis_server.url, data_dir=str(tmp_path))
    charge = baldur.protected(zone_name, idempotency_key="order_id")(lambda order_id: order_id)
    assert charge("o-1") == "o-1"
    redis_server.kill()
    with pytest.raises(baldur.IdempotencyUnavailableError):
        charge("o-2")
    assert baldur.store_health()["redis:idempotency"]["degraded"]
    assert endpoints.health_pool().status == 503

    redis_server.start()
    eventually(lambda: not degraded(), within=10)
    assert endpoints.health_pool().status == 200
    assert charge("o-3") == "o-3"


def test_an_unreadable_write_ahead_log_makes_pool_answer_503(
    redis_server: RedisServer, configure: Callable[..., None], tmp_path: Path
) -> None:
    (tmp_path / "redis-wal.sqlite3").write_bytes(b"this is not a database" * 100)
    configure(redis_url=redis_server.url, data_dir=str(tmp_path))
    pool = endpoints.dispatch("health/pool/")
    assert pool.status == 503
    assert pool.payload["status"] == "error"
    assert pool.payload["error"].startswith("write-ahead log:")
    assert endpoints.dispatch("health/live/").status == 200
