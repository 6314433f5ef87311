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


def test_a_master_with_a_password_is_reached_with_the_urls_credentials(
    configure: Callable[..., None], zone_name: str
) -> None:
    guarded = RedisSentinel(password="s3cr%t")
    guarded.start()
    try:
        encoded = guarded.url.replace("s3cr%t", "s3cr%25t")  # percent-encoded, as URLs are
        configure(redis_url=encoded)
        protected = baldur.protected(zone_name, idempotency_key="order_id")(Recorder())
        assert protected("p-1") == "done p-1"
        record = guarded.master.command("HGET", f"baldur:idem:{zone_name}:p-1", "state")
        assert b"running" in record or b"completed" in record

        without = encoded.replace(":s3cr%25t@", "")
        configure(redis_url=without)
        refused = baldur.protected(zone_name + "-anon", idempotency_key="order_id")(Recorder())
        with pytest.raises(baldur.IdempotencyUnavailableError):
            refused("p-2")
    finally:
        guarded.stop()
