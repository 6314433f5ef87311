"""A Redis that restarts without its data loses dead letters and completed
idempotency keys (Baldur's Redis is AP): noticed, counted and reported as
an ERROR (``storage.data_lost``) naming what was lost, never silent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest

import baldur
from helpers import AlwaysFails, Boom, Recorder, eventually, throughout
from redis_server import RedisServer


def lost_events(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    return {
        str(record.__dict__.get("store", record.getMessage())): record.getMessage()
        for record in caplog.records
        if "storage.data_lost" in record.getMessage() and record.levelno == logging.ERROR
    }


def test_a_redis_that_restarts_empty_is_reported_with_what_was_lost(
    redis_server: RedisServer,
    configure: Callable[..., None],
    tmp_path: Path,
    zone_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure(redis_url=redis_server.url, data_dir=str(tmp_path))
    failing = baldur.protected(zone_name, circuit_breaker=False, dlq=True)(AlwaysFails())
    for _ in range(3):
        with pytest.raises(Boom):
            failing()
    charge = baldur.protected(f"{zone_name}-pay", idempotency_key="order_id")(Recorder())
    assert charge("o-1") == "done o-1"
    with pytest.raises(baldur.IdempotencyDuplicateError):
        charge("o-1")  # completed: a duplicate
    # Each store has looked at the marker (and the queue counted itself).
    eventually(lambda: redis_server.command("EXISTS", "baldur:incarnation") == b":1\r\n")
    # The watcher looks every 2 s and counts the queue when it changed
    # since: one look after the last record, and nothing reported lost.
    throughout(lambda: not lost_events(caplog), during=2.5)
    assert not lost_events(caplog)

    redis_server.kill()
    redis_server.start()  # no persistence: everything is gone

    def reported() -> bool:
        stores = baldur.store_health()
        return all(stores[name]["data_lost"] == 1 for name in ("redis:dlq", "redis:idempotency"))

    eventually(reported, within=15)
    messages = " ".join(lost_events(caplog).values())
    assert "redis:dlq" in messages and "3 dead-letter entries in 1 domains" in messages
    assert "redis:idempotency" in messages and "completed key" in messages
    # Said once per loss, not at every later look.
    eventually(lambda: baldur.store_health()["redis:dlq"]["data_lost"] == 1, within=1)
    assert charge("o-1") == "done o-1", "the lost completion no longer blocks (the AP trade-off)"


def test_a_restart_that_keeps_the_data_is_not_a_loss(
    redis_server: RedisServer, configure: Callable[..., None], tmp_path: Path, zone_name: str
) -> None:
    configure(redis_url=redis_server.url, data_dir=str(tmp_path))
    failing = baldur.protected(zone_name, circuit_breaker=False, dlq=True)(AlwaysFails())
    with pytest.raises(Boom):
        failing()
    eventually(lambda: redis_server.command("EXISTS", "baldur:incarnation") == b":1\r\n")
    redis_server.pause(800)  # stops answering, keeps its data
    with pytest.raises(Boom):
        failing()  # recorded locally meanwhile, or in Redis after the pause
    eventually(lambda: baldur.dlq.stats().get("local", 0) == 0, within=10)
    assert baldur.store_health()["redis:dlq"]["data_lost"] == 0
