"""The stores through Redis Sentinel: the master is found by asking the
sentinels, and found again after a connection to it fails."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import baldur
from helpers import Recorder
from redis_sentinel import RedisSentinel


@pytest.fixture(scope="module")
def sentinel() -> Iterator[RedisSentinel]:
    watched = RedisSentinel()
    watched.start()
    yield watched
    watched.stop()


def test_idempotency_through_sentinel(
    sentinel: RedisSentinel, configure: Callable[..., None], zone_name: str
) -> None:
    configure(redis_url=sentinel.url)
    charge = Recorder()
    protected = baldur.protected(zone_name, idempotency_key="order_id")(charge)
    assert protected("s-1") == "done s-1"
    with pytest.raises(baldur.IdempotencyDuplicateError):
        protected("s-1")
    record = sentinel.master.command("HGET", f"baldur:idem:{zone_name}:s-1", "state")
    assert b"running" in record or b"completed" in record  # it lives on the master


@pytest.mark.parametrize(
    "url",
    ["redis+sentinel://127.0.0.1:26379", "redis+sentinel:///svc", "redis+sentinel://h:1/svc/3"],
)
def test_a_bad_sentinel_url_is_a_config_error(configure: Callable[..., None], url: str) -> None:
    with pytest.raises(baldur.ConfigError):
        configure(redis_url=url)
