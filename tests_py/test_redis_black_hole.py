"""A Redis that stops answering (a black hole: connections accepted, nothing
ever comes back) costs a caller at most the 300 ms operation bound, in
total: a silent kept connection and a silent new one are one budget, not
two, and a probe while DEGRADED is bounded the same way."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

import baldur
from helpers import Recorder, throughout
from redis_server import RedisServer
from tcp_proxy import BlackHoleProxy

#: The promised bound is 300 ms; the margin is for a loaded machine's
#: scheduling, and stays well below the two bounds (600 ms and more) a
#: resend on a new connection used to add.
BOUND = 0.45


@pytest.fixture
def proxy(redis_server: RedisServer) -> Iterator[BlackHoleProxy]:
    hole = BlackHoleProxy(redis_server.port)
    yield hole
    hole.close()


def test_an_idempotent_call_into_a_black_hole_waits_one_bound_in_total(
    proxy: BlackHoleProxy, configure: Callable[..., None], zone_name: str
) -> None:
    configure(redis_url=proxy.url())
    charge = baldur.protected(zone_name, idempotency_key="order_id")(Recorder())
    assert charge("o-1") == "done o-1"  # this thread's connection is kept
    proxy.swallow()
    started = time.monotonic()
    with pytest.raises(baldur.IdempotencyUnavailableError):
        charge("o-2")
    took = time.monotonic() - started
    assert took < BOUND, f"the claim waited {took:.3f} s"
    # DEGRADED now: each later call fails fast or, once per probe interval,
    # probes within the same bound.
    took_each: list[float] = []

    def refused_in_time() -> bool:
        started = time.monotonic()
        with pytest.raises(baldur.IdempotencyUnavailableError):
            charge("o-3")
        took_each.append(time.monotonic() - started)
        return True

    throughout(refused_in_time, during=2.5)
    worst = max(took_each)
    assert worst < BOUND, f"a call while degraded waited {worst:.3f} s"
